# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine at boot: the ``__main__`` of a persisted lab's ``nslab-engine.pyz`` (see :mod:`persist`).

``nslab-LAB.service`` runs ``PYTHON nslab-engine.pyz /var/lib/nslab/labs/LAB``: each saved part of the
lab (its ``*.json``, in the order of their names: egress, ingress, lab) goes through the batch module
itself - the same code, validation, ownership labels, all-or-nothing rehearsal and firewall checks as
the playbook run that saved it - and what it does is logged to standard output (the journal).

Before any change it checks that the managed Python can import pyroute2 and, when a NAT rule takes the
uplink from the default route, waits for that route (``NSLAB_BOOT_WAIT`` seconds, default 60) - then
fails with what is missing and the fix, having built nothing. ``--check`` plans without changing.
"""

from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import runpy
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Callable, TextIO

WAIT_ENV = "NSLAB_BOOT_WAIT"
FORMAT = 1              # the intent's format (persist.INTENT_FORMAT)
DEFAULT_WAIT = 60
BATCH = "ansible_collections.nslab.net.plugins.modules.batch"


class BootError(Exception):
    pass


def log(text: str, stream: TextIO | None = None) -> None:
    """A line for the journal (systemd reads the unit's standard output and error)."""
    stream = stream or sys.stdout
    stream.write(text + "\n")
    stream.flush()


def load_parts(directory: str, unit: str = "nslab-LAB.service") -> list[dict]:
    """The lab's saved parts, in the order of their names."""
    parts = []
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        try:
            with open(path, encoding="utf-8") as fh:
                intent = json.load(fh)
            if intent.get("format", FORMAT) != FORMAT:
                raise ValueError(f"format {intent.get('format')!r}, this engine reads format {FORMAT}")
            parts.append(dict(intent, path=path, steps=list(intent["steps"])))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BootError(f"cannot read the saved intent {path}: {exc}; nothing was built. Re-run the lab's "
                            "playbook (nslab_persist: true) to save it again") from None
    if not parts:
        raise BootError(f"no saved intent in {directory} (was the lab torn down?); nothing was built. "
                        f"Re-run the lab's playbook with nslab_persist: true, or remove the unit: systemctl disable {unit}")
    return parts


def needs_uplink(parts: list[dict]) -> bool:
    """Does a NAT rule on the host take its interface or address from the default route (``uplink: true``)?"""
    for part in parts:
        for step in part["steps"]:
            args = step.get("args") or {}
            if step.get("module") != "nat_rule" or args.get("netns"):
                continue
            if args.get("uplink") or any(isinstance(i, dict) and i.get("uplink") and not i.get("netns")
                                         for i in args.get("items") or []):
                return True
    return False


def require_pyroute2(unit: str) -> None:
    from ansible_collections.nslab.net.plugins.module_utils._host.session import pyroute2_spec

    if pyroute2_spec() is None:
        raise BootError(f"pyroute2 is not importable by {sys.executable} (was python3-pyroute2 removed?); nothing "
                        "was built. Install it for that Python (Debian/Ubuntu: apt install python3-pyroute2; or: "
                        f"{sys.executable} -m pip install 'pyroute2>=0.7.2'), then: systemctl restart {unit}")


def read_uplink() -> dict:
    from ansible_collections.nslab.net.plugins.module_utils._host.session import Session
    from ansible_collections.nslab.net.plugins.module_utils._host.readers import read_uplink as read

    with Session() as session:
        return read(session)


def wait_for_uplink(bound: float, unit: str, read: Callable[[], dict] = read_uplink, sleep: Callable[[float], None] = time.sleep,
                    clock: Callable[[], float] = time.monotonic) -> float:
    """Seconds waited until the host has an IPv4 default route whose device has an address."""
    start = clock()
    said = False
    while True:
        try:
            found = read()
        except Exception as exc:  # noqa: BLE001 - netlink refused: said plainly, never a traceback
            raise BootError(f"cannot read the host's routes ({type(exc).__name__}: {exc}); nothing was built") from None
        if found["interface"] and found["address"]:
            return clock() - start
        if not said:        # said before the bound is checked: a first read slower than the bound still says it
            log(f"waiting up to {bound:g} s for the uplink (an IPv4 default route with an address)")
            said = True
        if clock() - start >= bound:
            raise BootError(f"no uplink after {bound:g} s: the host has no IPv4 default route with an address on its "
                            "device, and the lab's NAT takes the uplink from it; nothing was built. Bring the host's "
                            f"network up (ip route; networkctl or ifup), then: systemctl restart {unit} "
                            f"(a drop-in with Environment={WAIT_ENV}=SECONDS waits longer)")
        sleep(1)


@contextlib.contextmanager
def module_args(args: dict) -> Iterator[None]:
    """A module's arguments for an AnsibleModule made in this process (as AnsiballZ hands them to it), while the
    block runs."""
    from ansible.module_utils import basic

    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()   # pylint: disable=protected-access
    if hasattr(basic, "_ANSIBLE_PROFILE"):                   # ansible-core >= 2.19
        basic._ANSIBLE_PROFILE = "legacy"                    # pylint: disable=protected-access
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = None                           # pylint: disable=protected-access


def call_batch(steps: list[dict], check: bool) -> dict:
    """One run of the batch module, in this process, exactly as Ansible runs it; its result."""
    out = io.StringIO()
    try:
        with module_args(dict(steps=steps, _ansible_check_mode=check, _ansible_diff=False)), \
                contextlib.redirect_stdout(out):
            runpy.run_module(BATCH, run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    text = out.getvalue()
    try:
        return json.loads(text[text.index("{"):])
    except ValueError:
        return dict(failed=True, msg=f"the batch module printed no result: {text.strip()[-2000:]}")


def rebuild(directory: str, check: bool = False, environ: Mapping[str, str] | None = None) -> bool:
    """Rebuild the lab saved in ``directory``; True when something changed. Raises BootError."""
    environ = os.environ if environ is None else environ
    lab = os.path.basename(os.path.normpath(directory))
    unit = f"nslab-{lab}.service"
    parts = load_parts(directory, unit)
    log(f"lab {lab}: {'checking' if check else 'rebuilding'} {len(parts)} saved part(s) "
        f"({', '.join(p.get('part', '?') for p in parts)}) with {sys.argv[0]} on Python {sys.version.split()[0]}")
    require_pyroute2(unit)
    if needs_uplink(parts):
        try:
            bound = float(environ.get(WAIT_ENV, DEFAULT_WAIT))
        except ValueError:
            raise BootError(f"{WAIT_ENV}={environ.get(WAIT_ENV)!r} must be a number of seconds") from None
        waited = wait_for_uplink(bound, unit)
        if waited >= 1:
            log(f"the uplink is up after {waited:.0f} s")
    changed = False
    for part in parts:
        result = call_batch(part["steps"], check)
        for action in result.get("actions", []):
            log(f"{part.get('part')}: {action}")
        if result.get("failed"):
            done = "" if result.get("changed") else " (nothing of this part was changed)"
            raise BootError(f"{part.get('part')} ({part['path']}): {result.get('msg')}{done}. Fix it, then: "
                            f"systemctl restart {unit}")
        changed = changed or bool(result.get("changed"))
    log(f"lab {lab}: {'would change' if check and changed else 'built' if changed else 'already up'}")
    return changed


def main(argv: list[str] | None = None) -> None:
    """``nslab-engine.pyz [--check] DIRECTORY``: exits 0 when the lab is up, 1 with the reason when not (the engine
    zip's ``__main__``, :mod:`zipmain`, sends ``nslab-engine.pyz check [...]`` to the student's ``nslab-check``)."""
    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    rest = [a for a in argv if a != "--check"]
    if len(rest) != 1:
        log(f"usage: {os.path.basename(sys.argv[0])} [--check] /var/lib/nslab/labs/LAB", sys.stderr)
        raise SystemExit(2)
    try:
        rebuild(rest[0], check)
    except BootError as exc:
        log(f"lab {os.path.basename(os.path.normpath(rest[0]))}: FAILED: {exc}", sys.stderr)
        raise SystemExit(1) from None
    raise SystemExit(0)
