# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bottom layer's tools: finding a program and running one, in a namespace if need be. Of the collection it
imports only the errors (errors.py) and files.py."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._host.errors import Failure, where
from ansible_collections.nslab.net.plugins.module_utils._host.files import read_text

if TYPE_CHECKING:
    from typing import Any


def command(argv: list[str], data: str | None = None) -> tuple[int, str, str]:
    """Run a program (never a shell) to its end: its exit code, output and errors, as ``AnsibleModule.run_command``
    gives them (``data`` sent as is). Not run_command itself: its ``preexec_fn`` makes Python fork the whole module
    process (a copy of its memory map: about 4 ms of CPU, more on a busy host) where a plain subprocess uses vfork,
    and a lab's run starts dozens (iptables-save and -restore in each namespace, a ping per probe). The child is in
    the namespaces of the calling thread (``session.entered``). A program that is not installed exits 127, one that
    cannot be run 126, as in a shell."""
    import subprocess

    try:
        proc = subprocess.run(argv, input=None if data is None else data.encode(errors="surrogateescape"),  # pylint: disable=ansible-bad-function
                              capture_output=True, check=False)
    except FileNotFoundError as exc:
        return 127, "", f"{argv[0]}: {exc.strerror}"
    except OSError as exc:
        return 126, "", f"{argv[0]}: {exc.strerror}"
    return proc.returncode, proc.stdout.decode(errors="surrogateescape"), proc.stderr.decode(errors="surrogateescape")


def which(*names: str) -> str | None:
    for name in names:
        path = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}")
                                           if os.access(p, os.X_OK)), None)
        if path:
            return path
    return None


class Tools:
    """Runs a program inside a namespace of a module run (``ctx``: its session; the thread switches, the child
    inherits): iptables, nft."""

    def __init__(self, ctx: Any, ns: str | None):
        self.ctx, self.ns = ctx, ns

    def run(self, argv: list[str], stdin: str | None = None, check: bool = True) -> tuple[int, str, str]:
        with self.ctx.session.entered(self.ns):
            rc, out, err = command(argv, stdin)
        if check and rc != 0:
            raise Failure(f"{' '.join(argv)} failed in {where(self.ns)} (exit {rc}): {(err or out).strip()}")
        return rc, out, err

    def read_proc(self, path: str) -> str:
        with self.ctx.session.entered(self.ns):
            return read_text(path, missing=(OSError,)) or ""
