import nslabtest

nslabtest.ensure_collection_link()      # and nslabtest put the collection on sys.path
