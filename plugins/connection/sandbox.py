# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: sandbox
short_description: Run tasks inside an nslab.net sandbox host on the controller
version_added: 1.0.0
description:
  - Executes commands inside a sandbox host made by M(nslab.net.sandbox) (its own network,
    mount, UTS and PID namespaces) with C(nsenter), on the controller machine.
  - Files are copied through the sandbox's own mount namespace, so a file written to its
    private C(/etc) or C(/run) never lands on the machine itself.
author:
  - nslab.net contributors (@nslab-net)
options:
  remote_addr:
    description:
      - Name of the sandbox; defaults to the inventory host name (or the delegated host's).
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: nslab_sandbox_name
  sandbox_root:
    description: Directory holding the sandboxes' state.
    type: str
    default: /run/nslab-sandbox
    vars:
      - name: nslab_sandbox_root
  pycode_cache:
    description:
      - Directory on this machine where the modules' compiled code is kept between runs, so that a module run
        inside a sandbox does not compile its AnsiballZ payload's sources again (about half of a small module's
        run). Used only with pipelining, only when the directory belongs to the user running the module and is
        closed to others; it is made with mode 0700 when missing and can be deleted at any time.
      - Each pipelined module payload is also written there for the length of its run, and Python reads it from
        that file rather than from its standard input (Python reads a script from a pipe at about half a
        millisecond a kilobyte, 80 ms of a C(ansible.builtin.ping) run); not for a task that becomes a user other
        than root, nor in a directory under C(/run) or C(/etc), which a sandbox host has its own of.
      - An empty string compiles every payload and sends it on standard input as Ansible does elsewhere. The
        collection's modules still keep their own code compiled in C(/var/cache/nslab.net/pycode), as on any
        managed host.
    type: str
    default: /var/cache/nslab.net/pycode
    env:
      - name: NSLAB_PYCODE_CACHE
    vars:
      - name: nslab_sandbox_pycode_cache
extends_documentation_fragment:
  - connection_pipelining
notes:
  - Needs root on the controller (C(nsenter) into the sandbox's namespaces).
  - Open a shell in a sandbox with C(nsenter -t $(cat /run/nslab-sandbox/NAME/pid) -n -m -u -p bash).
"""

import contextlib
import inspect
import os
import re
import stat
import subprocess
import tempfile
import time
from typing import TYPE_CHECKING

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

from ansible_collections.nslab.net.plugins.module_utils._host import pycode
from ansible_collections.nslab.net.plugins.module_utils._sandbox.sandbox import PRIVATE_DIRS, Sandbox
from ansible_collections.nslab.net.plugins.module_utils._host.errors import known

if TYPE_CHECKING:
    from typing import Any

display = Display()

#: the end of an AnsiballZ wrapper (ansible-core 2.18 quotes it with ', 2.19 on with "): the cache goes in before it
_MAIN = re.compile(rb"""\nif __name__ == (['"])__main__\1:""")
_INSTALL = inspect.getsource(pycode.install).replace("def install(", "def _nslab_pycode_install(", 1)


def with_pycode_cache(payload: bytes, directory: str) -> bytes:
    """A pipelined AnsiballZ wrapper that loads its sources' compiled code from ``directory`` (module_utils/_host/pycode.py);
    anything else as it is."""
    ends = list(_MAIN.finditer(payload)) if directory and b"_ANSIBALLZ_WRAPPER = True" in payload else []
    if not ends:
        return payload
    end = ends[-1].start()
    hook = (f"\n\n{_INSTALL}\n\ntry:\n    _nslab_pycode_install({directory!r})\n"
            "except Exception:  # the cache only saves time: without it the payload compiles as always\n    pass\n")
    return payload[:end] + hook.encode() + payload[end:]


#: what Python reads on standard input instead of a payload it would read there: Python reads a script from a pipe
#: at about 0.5 ms a kilobyte (ansible.builtin.ping's payload is 160 kB: 80 ms of its 115), a file at 1 ms for 400 kB
_BOOTSTRAP = """\
with open({path!r}, "rb") as _nslab_payload:
    _nslab_code = compile(_nslab_payload.read(), "<stdin>", "exec")
del _nslab_payload
exec(_nslab_code)
"""


def private_directory(path: str) -> bool:
    """``path`` is a directory only the running user can write to (made 0700 when missing), not a symbolic link."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077


#: a payload file older than this is one a killed run left behind (a run removes its own)
_STALE_SECONDS = 3600


def payload_from_file(payload: bytes, directory: str) -> tuple[bytes, str | None]:
    """A pipelined AnsiballZ wrapper written to a file of ``directory`` (on this machine's disk, which a sandbox host
    sees at the same path) and the few lines that run it from there, to send on standard input instead; the file's
    path, to remove after the run. Anything else, a ``directory`` that is not private or that a sandbox has its own
    of, or a file that cannot be written: as it is (and None)."""
    if not directory or b"_ANSIBALLZ_WRAPPER = True" not in payload:
        return payload, None
    real = os.path.realpath(directory)
    if any(real == top or real.startswith(top + "/") for top in PRIVATE_DIRS) or not private_directory(directory):
        return payload, None
    sweep(directory)
    path = None
    try:
        fd, path = tempfile.mkstemp(dir=directory, prefix=".payload-")
        with open(fd, "wb") as out:
            out.write(payload)
    except OSError:                       # a full disk, say: the payload goes on standard input as Ansible sends it
        if path:
            with contextlib.suppress(OSError):
                os.unlink(path)
        return payload, None
    return _BOOTSTRAP.format(path=path).encode(), path


def sweep(directory: str) -> None:
    """Remove the payload files of runs that were killed before they could (older than an hour)."""
    limit = time.time() - _STALE_SECONDS
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith(".payload-") and entry.stat(follow_symlinks=False).st_mtime < limit:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


class Connection(ConnectionBase):
    """Commands and files inside a sandbox host."""

    transport = "nslab.net.sandbox"
    has_pipelining = True

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._box: Sandbox | None = None

    def _connect(self) -> Connection:
        if not self._connected:
            name = self.get_option("remote_addr")
            box = Sandbox(name, self.get_option("sandbox_root"))
            if not box.exists():
                raise AnsibleConnectionFailure(
                    f"sandbox {name!r} is not running under {box.root}: create it with the nslab.net.sandbox "
                    "role or module (playbooks/lab.yml does this when run without an inventory)")
            self._box = box
            self._connected: bool = True
            display.vvv(f"SANDBOX {name} (holder pid {box.pid})", host=name)
        return self

    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        self._connect()
        box = known(self._box)
        argv = box.argv(["/bin/sh", "-c", cmd])
        display.vvv(f"EXEC {cmd}", host=box.name)
        written = None
        if in_data:
            directory = self.get_option("pycode_cache")
            in_data = with_pycode_cache(in_data, directory)
            if not self.becomes_another_user(sudoable):     # who could not read root's file
                in_data, written = payload_from_file(in_data, directory)
        try:
            proc = subprocess.run(argv, input=in_data, capture_output=True, check=False)
        finally:
            if written:
                with contextlib.suppress(OSError):       # the cache directory removed meanwhile
                    os.unlink(written)
        return proc.returncode, proc.stdout, proc.stderr

    def becomes_another_user(self, sudoable: bool) -> bool:
        """A command that runs with become as a user other than root (a payload file is root's alone)."""
        if not sudoable or self.become is None:
            return False
        try:
            user = self.become.get_option("become_user")
        except KeyError:
            user = None
        return user not in (None, "", "root")

    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        self._connect()
        box = known(self._box)
        if not os.path.exists(to_bytes(in_path)):
            raise AnsibleFileNotFound(f"file or module does not exist: {in_path}")
        with open(to_bytes(in_path), "rb") as src:
            proc = subprocess.run(box.argv(["/bin/sh", "-c", 'cat > "$0"', out_path]), stdin=src,
                                  capture_output=True, check=False)
        if proc.returncode != 0:
            raise AnsibleError(f"failed to put {in_path} to {out_path} in sandbox {box.name}: "
                               f"{proc.stderr.decode(errors='replace')}")

    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        self._connect()
        box = known(self._box)
        with open(to_bytes(out_path), "wb") as dst:
            proc = subprocess.run(box.argv(["cat", in_path]), stdout=dst, stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            raise AnsibleError(f"failed to fetch {in_path} from sandbox {box.name}: "
                               f"{proc.stderr.decode(errors='replace')}")

    def close(self) -> None:
        self._connected = False
