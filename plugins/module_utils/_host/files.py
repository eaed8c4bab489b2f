# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files the collection writes on the managed host (demo pages, a persisted lab's intent, unit and
engine): directories made with a fixed mode whatever the umask, files replaced in one rename, so a
reader (a web server, systemd at boot) never sees half a file."""

from __future__ import annotations

import contextlib
import os
import tempfile


def make_dirs(path: str, mode: int = 0o755) -> None:
    """``path`` and its missing parents, each with ``mode``."""
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for made in reversed(missing):
        os.mkdir(made, mode)
        os.chmod(made, mode)          # whatever the umask


def replace_file(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` (its directory made if missing) in one rename."""
    make_dirs(os.path.dirname(path))
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            os.fchmod(fh.fileno(), mode)
            fh.flush()
            os.fsync(fh.fileno())          # on disk before the rename: a reboot right after finds it whole
        os.replace(tmp, path)
        directory = os.open(os.path.dirname(path), os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_text(path: str, missing: tuple[type[OSError], ...] = (FileNotFoundError, NotADirectoryError)) -> str | None:
    """The file's text, or None when there is none (``missing``: the errors that mean so; a reader that takes any
    unreadable file for none, like the diagnosis, gives ``(OSError,)``)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except missing:
        return None


def remove_file(path: str) -> None:
    """``path`` removed; nothing when it is gone already."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
