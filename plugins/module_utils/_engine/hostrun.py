# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a module run holds on the host while it runs: the host lock (an flock on /run/nslab/lock, its holder named when
a wait gives up), one netlink session, the check that pyroute2 and root are there, and the reliability tests' pause
hook."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.nslab.net.plugins.module_utils._host import session as nsmod

if TYPE_CHECKING:
    from collections.abc import Iterator

#: one lock per managed host: every changing run holds it from its first read to its last write
LOCK_DIR = "/run/nslab"
LOCK_FILE = "lock"
LOCK_TIMEOUT = 300.0


def exit_with_warnings(module: AnsibleModule, result: dict, warnings: list) -> None:
    """Exit with ``result``, each warning given to ``module.warn`` (a returned "warnings" key goes in
    ansible-core 2.23)."""
    for text in warnings:
        module.warn(text)
    module.exit_json(**result)


@contextmanager
def host_session(module: AnsibleModule) -> Iterator[nsmod.Session]:
    """The host lock (unless in check mode) and one netlink session for a module run,
    both released when it ends - fail_json exits through here too."""
    lock = None if module.check_mode else host_lock(module)
    session = nsmod.Session()
    try:
        yield session
    finally:
        session.close()
        if lock is not None:
            os.close(lock)     # releases the flock


def host_lock(module: AnsibleModule) -> int:
    """Take the host's nslab lock (an flock on /run/nslab/lock), waiting for another
    run that holds it; fail with the holder's pid after NSLAB_LOCK_TIMEOUT seconds."""
    try:
        timeout = float(os.environ.get("NSLAB_LOCK_TIMEOUT", LOCK_TIMEOUT))
    except ValueError:
        timeout = LOCK_TIMEOUT
    os.makedirs(LOCK_DIR, mode=0o755, exist_ok=True)
    path = os.path.join(LOCK_DIR, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                module.fail_json(msg=f"another nslab.net run holds {path} (holder: {holder}); waited {timeout:g} s "
                                     "(NSLAB_LOCK_TIMEOUT)", changed=False)
            time.sleep(0.05)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
    return fd


def test_pause(name: str) -> tuple[int, str] | None:
    """Test hook, off unless NSLAB_TEST_PAUSE=MODULE:N:DIR is set: module MODULE pauses
    after applying N operations (0 = before the first; still holding the host lock),
    writes DIR/paused (its pid and what it did) and waits for DIR/resume. The
    reliability tests use it to kill a run midway and to overlap two runs."""
    spec = os.environ.get("NSLAB_TEST_PAUSE")
    if not spec or not name:
        return None
    parts = spec.split(":", 2)
    if len(parts) != 3 or parts[0] != name or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2]


def pause_here(directory: str, done: list, timeout: float = 120.0) -> None:
    tmp = os.path.join(directory, f".paused.{os.getpid()}")
    with open(tmp, "w") as fh:
        fh.write(f"{os.getpid()}\n" + "\n".join(done) + "\n")
    os.rename(tmp, os.path.join(directory, "paused"))
    deadline = time.monotonic() + timeout
    while not os.path.exists(os.path.join(directory, "resume")) and time.monotonic() < deadline:
        time.sleep(0.02)


def require_pyroute2(module: AnsibleModule, who: str = "nslab.net modules need") -> None:
    """Fail with what to install, rather than a traceback, when pyroute2 is missing or too old,
    or when not root. The module runs where Ansible runs it (the controller when delegated):
    the messages name that Python."""
    import sys

    problem = nsmod.pyroute2_problem()
    if problem:
        module.fail_json(msg=problem, changed=False)
    if os.geteuid() != 0:
        module.fail_json(msg=f"{who} root (CAP_NET_ADMIN and CAP_SYS_ADMIN); the Python that runs this module "
                             f"({sys.executable}) runs as uid {os.geteuid()}: use become: true", changed=False)
