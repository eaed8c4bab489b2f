import nslabtest  # noqa: F401  (puts the collection on sys.path)
