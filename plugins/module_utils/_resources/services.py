# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ns_service: supervised processes inside namespaces (the lab's demo services).

Each service is a small supervisor process (its command line carries
``nslab-service:LAB:NAME``) that runs the command with ``ip netns exec`` (so the
namespace's /etc/netns resolver applies) and restarts it a second after it
exits. Its state lives in /run/nslab/services/LAB/NAME.json. A re-run restarts
a supervisor that died; absent stops the supervisor and its command.

With ``index`` the service's page (DIRECTORY/index.html) is part of its wanted
state: written before the service starts, rewritten when its text differs,
without restarting a service that is otherwise unchanged. Absent leaves it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Resource
from ansible_collections.nslab.net.plugins.module_utils._host.errors import Failure, where
from ansible_collections.nslab.net.plugins.module_utils._host.files import replace_file
from ansible_collections.nslab.net.plugins.module_utils._resources.ports import copy_of, held_by, listeners, proc_stat

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Item, Plan

STATE_DIR = "/run/nslab/services"
#: the account a service's command runs as unless its item says otherwise (root only when asked)
DEFAULT_USER = "nobody"
#: seconds a started service is watched before the module goes on: a command that exits at once fails the run
START_WATCH = 0.2
#: seconds a started demo service (``python3 -m http.server ... PORT``) is given to listen on its port before the
#: module goes on, so what the play does next (a probe, a check) finds it serving; a loaded host takes a while to
#: start two Pythons (the supervisor and the command)
READY_TIMEOUT = 10.0

SUPERVISOR = r"""
import os, signal, subprocess, sys, time
marker, netns, cwd, log, user = sys.argv[1:6]
cmd = sys.argv[6:]
drop = []
if user != "root":       # the command runs as USER with its own groups, allowed to bind ports below 1024
    import pwd
    entry = pwd.getpwnam(user)
    drop = ["setpriv", "--reuid=%d" % entry.pw_uid, "--regid=%d" % entry.pw_gid, "--init-groups",
            "--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service", "--"]
child = None
stopping = False
# the handler interrupts the loop's child.wait(), which holds the child's wait lock: it only signals,
# and the loop reaps the child (a wait in the handler could not, and would time out)
def stop(*args):
    global stopping
    stopping = True
    if child is not None and child.poll() is None:
        child.terminate()
        signal.alarm(3)                  # still there in 3 s: SIGKILL
def force(*args):
    if child is not None and child.poll() is None:
        child.kill()
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGALRM, force)
while not stopping:
    with open(log, "ab") as out:
        argv = (["ip", "netns", "exec", netns] if netns != "-" else []) + drop + cmd
        child = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    if stopping:                         # SIGTERM came while it was being started
        stop()
    child.wait()
    if not stopping:
        time.sleep(1)                    # restarted after a second
sys.exit(0)
"""


def state_path(lab: str, name: str) -> str:
    return os.path.join(STATE_DIR, lab, f"{name}.json")


def marker(lab: str, name: str) -> str:
    return f"nslab-service:{lab}:{name}"


def alive(record: dict | None) -> bool:
    if not record:
        return False
    try:
        with open(f"/proc/{record['pid']}/cmdline", "rb") as fh:
            return marker(record["lab"], record["name"]).encode() in fh.read().split(b"\0")
    except (OSError, KeyError):
        return False


def _gone(pid: int) -> bool:
    stat = proc_stat(pid)
    return stat is None or stat[0] == "Z"        # a zombie holds nothing: its parent just has not reaped it


def end(pid: int, grace: float = 3.0) -> None:
    """Stop a process: SIGTERM, then SIGKILL when it is still there after ``grace`` seconds."""
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while not _gone(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _gone(pid):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def demo_listen(command: list[str]) -> tuple[str, int] | None:
    """Where a demo service's command (``python3 -m http.server [--bind ADDRESS] ... PORT``) listens: (its address,
    0.0.0.0 without --bind; its port); None for any other command."""
    if not (len(command) > 3 and command[1:3] == ["-m", "http.server"] and command[-1].isdigit()):
        return None
    address = command[command.index("--bind") + 1] if "--bind" in command[:-1] else "0.0.0.0"
    return address, int(command[-1])


def read_record(lab: str, name: str) -> dict | None:
    try:
        with open(state_path(lab, name)) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def records(lab: str | None = None) -> list[dict]:
    out = []
    labs = [lab] if lab else (os.listdir(STATE_DIR) if os.path.isdir(STATE_DIR) else [])
    for one in labs:
        folder = os.path.join(STATE_DIR, one)
        if not os.path.isdir(folder):
            continue
        for entry in sorted(os.listdir(folder)):
            if entry.endswith(".json"):
                record = read_record(one, entry[:-5])
                if record:
                    out.append(record)
    return out


def stop(record: dict, timeout: float = 5.0, keep_log: bool = False) -> None:
    """SIGTERM the supervisor (it stops its command), SIGKILL if it lingers; forget it
    (its state file, and its log unless ``keep_log``)."""
    if alive(record):
        end(record["pid"], timeout)
    for path in (state_path(record["lab"], record["name"]), None if keep_log else record.get("log")):
        try:
            if path:
                os.unlink(path)
        except FileNotFoundError:
            pass


def start(lab: str, name: str, netns: str | None, command: list[str], directory: str, user: str) -> dict:
    if netns and not (shutil.which("ip") or os.access("/usr/sbin/ip", os.X_OK) or os.access("/sbin/ip", os.X_OK)):
        raise Failure("the ip command (iproute2) is needed to run a service inside a namespace: install iproute2")
    os.makedirs(os.path.join(STATE_DIR, lab), exist_ok=True)
    log = os.path.join(STATE_DIR, lab, f"{name}.log")
    argv = [sys.executable, "-c", SUPERVISOR, marker(lab, name), netns or "-", directory, log, user] + command
    # a daemon that outlives the module: run_command cannot start one
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,  # pylint: disable=ansible-bad-function
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            close_fds=True)
    record = dict(lab=lab, name=name, netns=netns, command=command, directory=directory, user=user, pid=proc.pid,
                  log=log)
    with open(state_path(lab, name), "w") as fh:
        json.dump(record, fh)
    return record


def page_path(directory: str) -> str:
    return os.path.join(directory, "index.html")


def read_page(path: str) -> bytes | None:
    """The page's bytes, None when there is none; raises OSError (a directory there...)."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


def in_the_way(directory: str) -> str | None:
    """The nearest existing path of ``directory`` (itself or an ancestor) when it is not a directory."""
    path = directory
    while not os.path.lexists(path):
        path = os.path.dirname(path)
    return None if os.path.isdir(path) else path


def write_page(directory: str, text: str) -> None:
    """Create ``directory`` (and missing parents) with mode 0755, then replace its index.html
    with ``text`` (mode 0644) in one rename, so the server never reads half a page."""
    replace_file(page_path(directory), text.encode())


class ServiceResource(Resource):
    module_name = "ns_service"
    options = dict(
        name=dict(type="str"),
        command=dict(type="list", elements="str"),
        directory=dict(type="str"),
        index=dict(type="str"),
        user=dict(type="str", default=DEFAULT_USER),
    )
    result_key = "services"

    def normalize(self, item: dict, option: Callable[[str], str]) -> dict:
        name = v.required(option("name"), item.get("name"))
        if not all(c.isascii() and (c.isalnum() or c in "-_.") for c in name) or len(name) > 64 or name in (".", ".."):
            raise v.Invalid(option("name"), f"service name {name!r} must be 1-64 ASCII letters, digits, '-', '_' or '.'")
        item["name"] = name
        if self.params["state"] == "present":
            command = v.required(option("command"), item.get("command"), "(the argv to run)")
            if not all(isinstance(arg, str) for arg in command) or not command[0]:
                raise v.Invalid(option("command"), "must be a list of strings, the program first")
            if not (shutil.which(command[0]) if "/" not in command[0] else os.access(command[0], os.X_OK)):
                raise v.Invalid(option("command"), f"program {command[0]!r} is not found on the managed host")
            item["command"] = command
            item["user"] = self.user(item.get("user") or DEFAULT_USER, option("user"))
        item["directory"] = item.get("directory") or "/"
        if not os.path.isabs(item["directory"]):
            raise v.Invalid(option("directory"), "must be an absolute path")
        if item.get("index") is not None:
            if os.path.normpath(item["directory"]) == "/":
                raise v.Invalid(option("index"), "needs directory (the service's own folder, not /): "
                                                 "the page is written to DIRECTORY/index.html")
            try:
                item["index"].encode()
            except UnicodeEncodeError:
                raise v.Invalid(option("index"), "must be text that UTF-8 can encode") from None
        return item

    @staticmethod
    def user(name: str, option: str) -> str:
        """The account the command runs as: it must exist; any but root needs setpriv (util-linux)."""
        import pwd

        try:
            pwd.getpwnam(name)
        except KeyError:
            raise v.Invalid(option, f"user {name!r} does not exist on the managed host (the default is "
                                    f"{DEFAULT_USER!r}; root only when asked)") from None
        if name != "root" and not shutil.which("setpriv"):
            raise v.Invalid(option, f"running as {name!r} needs setpriv on the managed host: install util-linux, "
                                    "or set user: root")
        return name

    def key(self, item: dict) -> str:
        return item["name"]

    def view(self, record: dict | None) -> dict | None:
        if not record:
            return None
        return dict(name=record["name"], netns=record.get("netns"), command=record["command"],
                    directory=record.get("directory", "/"), user=record.get("user", "root"), running=alive(record))

    def page(self, item: Item) -> bytes | None:
        """The bytes of the item's page now (None: there is none)."""
        try:
            return read_page(page_path(item["directory"]))
        except OSError as exc:
            raise v.Invalid(item.option("index"), f"cannot read {page_path(item['directory'])}: "
                                                  f"{exc.strerror}") from None

    def with_page(self, view: dict | None, item: Item) -> dict | None:
        """A service's view with its page (``index``: the text of DIRECTORY/index.html, when
        there is one), for an item that manages it."""
        if view is None or item.get("index") is None:
            return view
        data = self.page(item)
        return view if data is None else dict(view, index=data.decode(errors="replace"))

    def plan(self, items: list[Any], plan: Plan) -> None:
        for item in items:
            record = read_record(self.ctx.lab, item["name"])
            if self.params["state"] == "absent":
                plan.state(item["name"], self.view(record), None)
                if record:
                    plan.do(f"stop service {item['name']} in {where(record.get('netns'))}",
                            lambda record=record: stop(record))
            else:
                self.plan_present(item, record, plan)

    def plan_present(self, item: Item, record: dict | None, plan: Plan) -> None:
        have = self.view(record)
        want = dict(name=item["name"], netns=item["netns"], command=item["command"],
                    directory=item["directory"], user=item["user"], running=True)
        page = item.get("index")
        plan.state(item["name"], self.with_page(have, item), want if page is None else dict(want, index=page))
        if page is not None:
            self.plan_page(item, plan)
        if have == want:          # the page is not the definition: a new page needs no restart
            return
        if record and alive(record):
            plan.do(f"stop service {item['name']} in {where(record.get('netns'))} (its definition changed)",
                    lambda record=record: stop(record))
        if page is None and not self.ctx.check_mode and not os.path.isdir(item["directory"]):
            raise v.Invalid(item.option("directory"), f"{item['directory']} does not exist")
        listen = demo_listen(item["command"])
        if listen is not None and self.ctx.readable(item["netns"]):   # held by another program: it would never listen
            port = listen[1]
            other = self.holder(item["netns"], listen)
            if other and copy_of(other["command"], item["command"]):     # the check's hint, typed by hand
                plan.do(f"stop PID {other['pid']} ({other['command']}): a copy of service {item['name']} started by "
                        f"hand, which holds port {port}", lambda item=item, listen=listen, other=other:
                        self.stop_copy(item["netns"], listen, other))
            elif other:
                raise v.Invalid(item.option("command"), f"service {item['name']} cannot listen on port {port} in "
                                                        f"{where(item['netns'])}: PID {other['pid']} "
                                                        f"({other['command']}) holds it. Stop that program (kill "
                                                        f"{other['pid']}), or give the service another port")
        plan.do(f"start service {item['name']} in {where(item['netns'])} as {item['user']}: {' '.join(item['command'])}",
                lambda item=item: self.start(item, plan))

    def plan_page(self, item: Item, plan: Plan) -> None:
        """Write the page when it is missing or its text differs (before the service starts)."""
        path = page_path(item["directory"])
        blocked = in_the_way(item["directory"])
        if blocked:
            raise v.Invalid(item.option("directory"), f"{blocked} is not a directory (the page goes to {path})")
        if os.path.isdir(path):
            raise v.Invalid(item.option("index"), f"{path} is a directory, not a page")
        if self.page(item) != item["index"].encode():
            plan.do(f"write {path} for service {item['name']}",
                    lambda item=item: write_page(item["directory"], item["index"]))

    def holder(self, netns: str | None, listen: tuple[str, int]) -> dict | None:
        with self.ctx.session.entered(netns):
            return held_by(listen[1], listen[0])

    def listening(self, netns: str | None, listen: tuple[str, int]) -> bool:
        with self.ctx.session.entered(netns):
            return bool(listeners(listen[1], listen[0]))

    def stop_copy(self, netns: str | None, listen: tuple[str, int], copy: dict) -> None:
        """Stop the hand-started copy found when planning, if it is still the one that holds the port (its PID
        not reused since)."""
        now = self.holder(netns, listen)
        if now and now["pid"] == copy["pid"] and now["command"] == copy["command"]:
            end(copy["pid"])

    def start(self, item: dict, plan: Plan) -> None:
        """Start the service; a demo service is waited for until it listens (READY_TIMEOUT, then a warning)."""
        record = start(self.ctx.lab, item["name"], item["netns"], item["command"], item["directory"], item["user"])
        listen = demo_listen(item["command"])
        deadline = time.monotonic() + (START_WATCH if listen is None else READY_TIMEOUT)
        while True:
            time.sleep(0.05)
            if not alive(record):
                stop(record, keep_log=True)     # no record of a service that is not running; its log tells why
                raise Failure(f"service {item['name']} exited at once; see {record['log']}")
            if listen is not None and self.listening(item["netns"], listen):
                return
            if time.monotonic() >= deadline:
                break
        if listen is not None:
            plan.warnings.append(f"service {item['name']} has not listened on port {listen[1]} in "
                                 f"{where(item['netns'])} after {READY_TIMEOUT:.0f} s: it may still be starting "
                                 f"(a loaded host), or its command may be exiting and restarting (its supervisor "
                                 f"restarts it a second after it exits); see {record['log']}")

    def purge(self, items: list[dict], plan: Plan) -> None:
        listed = {item["name"] for item in items}
        for record in records(self.ctx.lab):
            if record["name"] not in listed:
                plan.state(record["name"], self.view(record), None)
                plan.do(f"stop service {record['name']} in {where(record.get('netns'))} (purge: no longer listed)",
                        lambda record=record: stop(record))

    def identity(self, item: dict) -> dict:
        return dict(name=item["name"])

    def report(self, items: list[Any], plan: Plan) -> list:
        if self.ctx.check_mode:
            return [plan.after.get(item["name"]) or self.absent(item) for item in items]
        return [self.with_page(self.view(read_record(self.ctx.lab, item["name"])), item) or self.absent(item)
                for item in items]
