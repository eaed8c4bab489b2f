"""The sandbox connection's cache of compiled code (module_utils/_host/pycode.py): a payload run a second time takes its
sources' code from the cache and behaves the same (also in a traceback's file name); a cache directory that others
could write is never used; the connection changes only AnsiballZ wrappers. The payload read from a file rather than
from standard input (``payload_from_file``) runs as it would from there."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
import zipfile

from ansible_collections.nslab.net.plugins.connection.sandbox import payload_from_file, with_pycode_cache

#: a stand-in for an AnsiballZ wrapper: it imports a module from a zip of sources written to a new place each run
WRAPPER = b'''\
from __future__ import annotations
_ANSIBALLZ_WRAPPER = True
import sys, traceback


def main(archive):
    sys.path.insert(0, archive)
    import lesson
    print(lesson.value())
    try:
        lesson.broken()
    except ZeroDivisionError as err:
        print(traceback.extract_tb(err.__traceback__)[-1].filename)

if __name__ == "__main__":
    main(sys.argv[1])
'''
LESSON = "def value():\n    return 'from source %d'\n\n\ndef broken():\n    return 1 / 0\n"


def run_payload(tmp_path, cache, run: int, number: int = 1):
    """The wrapper with the cache (in ``cache``) run on a zip of its own (``run``): stdout lines."""
    archive = tmp_path / f"run{run}" / "payload.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("lesson.py", LESSON % number)
    script = tmp_path / f"run{run}" / "wrapper.py"
    script.write_bytes(with_pycode_cache(WRAPPER, str(cache)))
    proc = subprocess.run([sys.executable, str(script), str(archive)], capture_output=True, text=True, check=True)
    return proc.stdout.splitlines()


def test_a_second_run_loads_the_code_compiled_by_the_first(tmp_path):
    cache = tmp_path / "pycode"
    first = run_payload(tmp_path, cache, 1)
    entries = os.listdir(cache)
    assert len(entries) == 1 and oct(os.stat(cache).st_mode & 0o777) == "0o700"
    # the entry is what the next run loads: replace it by the code of another source, under the same name
    other = compile(LESSON % 2, "elsewhere.py", "exec")
    (cache / entries[0]).write_bytes(marshal.dumps(other))
    second = run_payload(tmp_path, cache, 2)
    assert first[0] == "from source 1" and second[0] == "from source 2"
    # the code gets the file name of the payload that runs it, not of the one that compiled it
    assert first[1].endswith("run1/payload.zip/lesson.py") and second[1].endswith("run2/payload.zip/lesson.py")


def test_a_changed_source_is_compiled_again(tmp_path):
    cache = tmp_path / "pycode"
    assert run_payload(tmp_path, cache, 1, number=1)[0] == "from source 1"
    assert run_payload(tmp_path, cache, 2, number=3)[0] == "from source 3"
    assert len(os.listdir(cache)) == 2


def test_a_directory_others_can_write_is_not_used(tmp_path):
    cache = tmp_path / "pycode"
    cache.mkdir(mode=0o777)
    os.chmod(cache, 0o777)
    assert run_payload(tmp_path, cache, 1)[0] == "from source 1"
    assert os.listdir(cache) == []


def test_only_ansiballz_wrappers_change():
    assert with_pycode_cache(b"echo hi", "/x") == b"echo hi"
    assert with_pycode_cache(WRAPPER, "") == WRAPPER
    changed = with_pycode_cache(WRAPPER, "/var/cache/x")
    assert changed.startswith(WRAPPER[:WRAPPER.index(b"\nif __name__")]) and changed.endswith(WRAPPER[WRAPPER.index(b"\nif __name__"):])
    assert b"_nslab_pycode_install('/var/cache/x')" in changed


def test_an_entry_that_is_not_code_is_compiled_again_and_replaced(tmp_path):
    cache = tmp_path / "pycode"
    run_payload(tmp_path, cache, 1)
    entry = cache / os.listdir(cache)[0]
    for broken in (b"\x00cut", marshal.dumps("a string, not code")):
        entry.write_bytes(broken)
        assert run_payload(tmp_path, cache, 2 if broken.startswith(b"\x00") else 3)[0] == "from source 1"
        assert isinstance(marshal.loads(entry.read_bytes()), type(compile("", "x", "exec")))
    assert [name for name in os.listdir(cache) if name.startswith(".part-")] == []


def test_ansible_core_2_18_quotes_its_main_with_single_quotes():
    wrapper = WRAPPER.replace(b'if __name__ == "__main__":', b"if __name__ == '__main__':")
    assert b"_nslab_pycode_install('/c')" in with_pycode_cache(wrapper, "/c")
    assert with_pycode_cache(wrapper, "/c").endswith(b"if __name__ == '__main__':\n    main(sys.argv[1])\n")


def test_install_in_this_process(tmp_path):
    """pycode.install itself (the connection sends its source): a zip module's code kept, then loaded; a directory
    others can write, or none, not used."""
    import sys
    import zipimport

    from ansible_collections.nslab.net.plugins.module_utils._host.pycode import install

    saved = zipimport._compile_source
    archives = []
    try:
        assert install(str(tmp_path / "pycode"))
        for run in (1, 2):
            archive = tmp_path / f"in{run}.zip"
            with zipfile.ZipFile(archive, "w") as zf:
                zf.writestr("lesson_in_process.py", LESSON % 7)
            sys.path.insert(0, str(archive))
            archives.append(str(archive))
            sys.modules.pop("lesson_in_process", None)
            import lesson_in_process  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
            assert sys.modules["lesson_in_process"].value() == "from source 7"
            assert sys.modules["lesson_in_process"].value.__code__.co_filename.endswith(f"in{run}.zip/lesson_in_process.py")
            sys.path.remove(str(archive))
        assert len(os.listdir(tmp_path / "pycode")) == 1
    finally:
        zipimport._compile_source = saved
        sys.modules.pop("lesson_in_process", None)
        for archive in archives:
            sys.path_importer_cache.pop(archive, None)
    assert install("") is False
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)
    assert install(str(open_dir)) is False and zipimport._compile_source is saved


def test_installed_once_whoever_installs_it_first(tmp_path, monkeypatch):
    """The sandbox connection's payload installs the cache, then the batch module's entry point (dispatch.main) asks
    again: the second install keeps the first, so no source is hashed twice."""
    import zipimport

    from ansible_collections.nslab.net.plugins.module_utils._host import pycode

    monkeypatch.setattr(zipimport, "_compile_source", zipimport._compile_source)
    assert pycode.install(str(tmp_path / "cache"))
    first = zipimport._compile_source
    assert first.nslab_pycode
    assert pycode.install(str(tmp_path / "other"))
    assert zipimport._compile_source is first
    assert not (tmp_path / "other").exists()


def test_a_payload_sent_as_a_file_runs_as_it_would_on_standard_input(tmp_path):
    """The connection writes the wrapper to a file of the cache directory and sends the lines that run it: the same
    output, ``__name__`` still ``"__main__"``, arguments as given; the file is the connection's to remove."""
    archive = tmp_path / "payload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("lesson.py", LESSON % 7)
    cache = tmp_path / "pycode"
    sent, path = payload_from_file(WRAPPER, str(cache))
    assert path is not None and os.path.dirname(path) == str(cache) and len(sent) < 300
    assert open(path, "rb").read() == WRAPPER and oct(os.stat(path).st_mode & 0o777) == "0o600"
    direct = subprocess.run([sys.executable, "-", str(archive)], input=WRAPPER, capture_output=True, check=True)
    through = subprocess.run([sys.executable, "-", str(archive)], input=sent, capture_output=True, check=True)
    assert through.stdout == direct.stdout and direct.stdout.startswith(b"from source 7")


def test_only_a_wrapper_is_sent_as_a_file_and_only_from_a_private_directory(tmp_path):
    assert payload_from_file(b"echo hi", str(tmp_path / "a")) == (b"echo hi", None)
    assert payload_from_file(WRAPPER, "") == (WRAPPER, None)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    assert payload_from_file(WRAPPER, str(shared)) == (WRAPPER, None)
    assert os.listdir(shared) == []


def test_no_payload_file_where_a_sandbox_has_its_own_directory(tmp_path):
    """/run and /etc are a sandbox host's own: a file written there on this machine is not the one it would read."""
    for directory in ("/run/nslab-test-never-made", "/etc/nslab-test-never-made", "/run"):
        assert payload_from_file(WRAPPER, directory) == (WRAPPER, None)
        assert directory == "/run" or not os.path.exists(directory)


def test_a_payload_file_a_killed_run_left_is_swept(tmp_path):
    cache = tmp_path / "pycode"
    cache.mkdir(mode=0o700)
    old, recent, entry = cache / ".payload-old", cache / ".payload-recent", cache / "compiled-entry"
    for path in (old, recent, entry):
        path.write_bytes(b"x")
        os.utime(path, (1, 1) if path != recent else None)
    sent, path = payload_from_file(WRAPPER, str(cache))
    assert path and not old.exists() and recent.exists() and entry.exists()
