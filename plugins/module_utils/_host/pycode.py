# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compiled code kept between module runs on a sandbox host (the sandbox connection's cache).

Every module run starts a new Python that imports its AnsiballZ payload from a zip holding only
sources: ``zipimport`` compiles each of them again, every time (about 80 files, ``ansible.module_utils.basic``
and what it imports, then the module's own). On a sandbox host that is about half of a small module's run.
The sandbox connection (plugins/connection/sandbox.py) puts :func:`install` into each payload it runs, so that
the code compiled from a source is kept in a directory of the controller's machine and loaded from there the
next time the same source comes (keyed by the source's SHA-256, the interpreter's bytecode version and its
optimization level; the code gets the file name of the payload that runs it). Nothing else changes: a payload
whose sources are new compiles as before, and a directory that is not the running user's alone (another owner,
a symbolic link, open to group or others) is not used at all.

The batch module's payload, which every module task of the collection runs (plugins/action/batch.py), installs
it too, in :data:`DIRECTORY` of the managed host, before it imports the module's own code: on a lab VM over SSH
the collection's files are compiled once per version, not at every module run (Ansible's own, imported before,
still are).

This file is plain Python with no imports of the collection: the connection sends :func:`install`'s source."""

from __future__ import annotations

#: where the modules keep compiled code on a managed host (root's alone; the sandbox connection's default too)
DIRECTORY = "/var/cache/nslab.net/pycode"


def install(directory: str) -> bool:
    """Let ``zipimport`` take compiled code from ``directory`` (made 0700 when missing); False when not used."""
    import contextlib
    import hashlib
    import marshal
    import os
    import stat
    import sys
    import tempfile
    import zipimport
    from importlib.util import MAGIC_NUMBER
    from types import CodeType      # not only for mypy: a payload without annotations from __future__ evaluates them

    compile_source = getattr(zipimport, "_compile_source", None)
    if compile_source is None or not directory:          # a zipimport written in C (before Python 3.8)
        return False
    if getattr(compile_source, "nslab_pycode", False):  # already installed (the sandbox connection's payload)
        return True
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        info = os.lstat(directory)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        return False
    version = f"{MAGIC_NUMBER.hex()}-O{sys.flags.optimize}"
    code_type = type((lambda: None).__code__)

    def renamed(code: CodeType, filename: str) -> CodeType:
        consts = tuple(renamed(c, filename) if isinstance(c, code_type) else c for c in code.co_consts)
        return code.replace(co_filename=filename, co_consts=consts)

    def cached(pathname: str, source: bytes) -> CodeType:
        path = os.path.join(directory, f"{version}-{hashlib.sha256(source).hexdigest()}")
        try:
            with open(path, "rb") as entry:
                code = marshal.loads(entry.read())
            if isinstance(code, code_type):
                return renamed(code, pathname)
        except Exception:  # noqa: BLE001 - an entry cut short or not code: compiled again, and replaced
            pass
        code = compile_source(pathname, source)
        part = None
        try:                               # another sandbox's run may write the same entry: each its own part file
            fd, part = tempfile.mkstemp(dir=directory, prefix=".part-")
            with open(fd, "wb") as entry:
                entry.write(marshal.dumps(code))
            os.replace(part, path)         # whole or not at all
        except (OSError, ValueError):
            if part is not None:
                with contextlib.suppress(OSError):
                    os.unlink(part)
        return code

    cached.nslab_pycode = True  # type: ignore[attr-defined]
    zipimport._compile_source = cached  # type: ignore[attr-defined]
    return True
