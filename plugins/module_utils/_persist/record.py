# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hand-out record: what a lab host was handed, kept on the host for the student's check.

``playbooks/lab.yml`` (the batch module's ``record`` option) writes ``/etc/nslab/labs/LAB.json`` on each lab
host: the seed, the stage handed out, the goal, and the lab's own ``nslab_`` variables (the student's addresses).
Never the faults: a student is root on the lab host and reads everything there. ``lab_check`` reads it so that
a check with no ``-e`` checks the lab the host has, and reports variables that disagree with it as such.
Like a resource: read, plan (the one refusal before any change), apply unless in check mode, report."""

from __future__ import annotations

import contextlib
import json
import os

from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._host.files import read_text, remove_file, replace_file
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid
from ansible_collections.nslab.net.plugins.module_utils._host.errors import known

DIRECTORY = "/etc/nslab/labs"
#: the student's check command and its engine: under /usr/local on a lab VM (not in /usr/local/lib/nslab, whose
#: engines persist.py removes when no unit runs them); on a sandbox host, whose /usr is the machine's, under its
#: private /run
COMMAND, SANDBOX_COMMAND = "/usr/local/sbin/nslab-check", "/run/nslab/sbin/nslab-check"
ENGINE, SANDBOX_ENGINE = "/usr/local/lib/nslab-check/nslab-engine.pyz", "/run/nslab/lib/check/nslab-engine.pyz"
#: the log of the student's nslab-check runs on the host (a line each: when, the goal, the word), which the grade
#: counts; removed with the record
CHECKS, SANDBOX_CHECKS = "/var/log/nslab-check", "/run/nslab/log"
SCRIPT = """#!/bin/sh
# nslab-check: this lab host's facts checked against the student's goal, each one not yet done explained
# (written by nslab.net's lab.yml with the hand-out; the same checks as playbooks/check.yml). Root needed.
# engine {tag}
exec {python} {engine} check "$@"
"""
FORMAT = 1
#: the topology variables a record never holds among its variables: the teacher's (faults), the run's own, and
#: those it holds as seed, stage and goal
NOT_RECORDED = ("faults", "state", "requirements", "seed", "stage", "goal")
#: the options of the batch module's ``record``
SPEC = dict(
    lab=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    seed=dict(type="str"), stage=dict(type="str"), goal=dict(type="str"),
    variables=dict(type="dict", default={}), internet=dict(type="dict"), hints=dict(type="bool", default=True),
)


def path(lab: str, root: str = "") -> str:
    return f"{root}{DIRECTORY}/{lab}.json"


def checks_log(lab: str, root: str = "") -> str:
    from ansible_collections.nslab.net.plugins.module_utils._persist.persist import SANDBOX_MARK

    return f"{root}{SANDBOX_CHECKS if os.path.exists(f'{root}{SANDBOX_MARK}') else CHECKS}/{lab}.jsonl"


def add_check(lab: str, line: dict, root: str = "") -> None:
    """One nslab-check run appended to the host's log of them (raises OSError)."""
    where = checks_log(lab, root)
    os.makedirs(os.path.dirname(where), mode=0o755, exist_ok=True)
    with open(where, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, sort_keys=True) + "\n")


def checks_run(lab: str, goal: str | None, root: str = "") -> int:
    """How many times the student ran nslab-check on the host for ``goal`` (as the host's log says: the student is
    root there, so it is their word, shown as such; lines of another goal, or cut short, do not count)."""
    try:
        with open(checks_log(lab, root), encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return 0
    count = 0
    for text in lines:
        try:
            count += json.loads(text).get("goal") == goal
        except (ValueError, AttributeError):
            continue
    return count


def text(options: dict) -> str:
    """The record's file: the hand-out as JSON, stable key order (a re-run with the same hand-out changes nothing)."""
    variables = {k: val for k, val in (options.get("variables") or {}).items()
                 if k not in NOT_RECORDED and val not in (None, "")}
    body = dict(format=FORMAT, lab=options["lab"], seed=options["seed"], stage=options["stage"], goal=options["goal"],
                variables=variables)
    if options.get("internet"):
        body["internet"] = options["internet"]
    if options.get("hints") is False:             # nslab_hints: false - nslab-check withholds them too
        body["hints"] = False
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def read(lab: str, root: str = "") -> dict | None:
    """The host's record of ``lab``, or None when it has none (a lab built by the roles or an older release); a
    record that cannot be read is an error that names the file."""
    where = path(lab, root)
    raw = read_text(where)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise Invalid("record", f"{where} is not the record lab.yml writes ({exc}): hand the lab out again "
                                "(ansible-playbook playbooks/lab.yml) or remove the file") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise Invalid("record", f"{where} has format {data.get('format') if isinstance(data, dict) else None!r}, "
                                f"not {FORMAT}: hand the lab out again (ansible-playbook playbooks/lab.yml)")
    return data


class Command:
    """``nslab-check`` on the lab host: the script and the engine it runs (this module run's payload, as a persisted
    lab's engine), installed with a record, removed with the last one. Without a payload (not run by Ansible) or a
    Python to name, nothing is installed."""

    def __init__(self, root: str, want: bool, payload: str | None, python: str | None):
        from ansible_collections.nslab.net.plugins.module_utils._persist.persist import SANDBOX_MARK, Engine

        sandbox = os.path.exists(f"{root}{SANDBOX_MARK}")
        self.script = f"{root}{SANDBOX_COMMAND if sandbox else COMMAND}"
        self.engine = f"{root}{SANDBOX_ENGINE if sandbox else ENGINE}"
        self.shown = (SANDBOX_COMMAND if sandbox else COMMAND)
        # the engine's tag (a hash of its files) is in the script: its zip is built only when the tag changes
        self.want_engine = Engine(payload) if want and payload and python else None
        self.want_script = SCRIPT.format(python=python, engine=SANDBOX_ENGINE if sandbox else ENGINE,
                                         tag=self.want_engine.tag) if self.want_engine is not None else None
        self.remove = not want
        self.changed = False

    def plan(self) -> Command:
        have_script = read_text(self.script)
        if self.remove:
            self.changed = have_script is not None or os.path.exists(self.engine)
        elif self.want_engine is not None:
            self.changed = have_script != self.want_script or not os.path.isfile(self.engine)
        return self

    @property
    def actions(self) -> list[str]:
        if not self.changed:
            return []
        return [f"remove the student's check command {self.shown}"] if self.remove else \
               [f"install the student's check command {self.shown}"]

    def apply(self) -> None:
        if not self.changed:
            return
        if self.remove:
            remove_file(self.script)
            remove_file(self.engine)
            with contextlib.suppress(OSError):
                os.rmdir(os.path.dirname(self.engine))
        else:
            replace_file(self.engine, known(self.want_engine).data())        # changed: planned with them
            replace_file(self.script, known(self.want_script).encode(), mode=0o755)


class Record:
    """The ``record`` option of one batch run, planned before any step runs."""

    def __init__(self, options: dict, root: str = "", payload: str | None = None, python: str | None = None):
        self.lab = v.lab("record.lab", options["lab"])
        self.root = root
        self.where = path(self.lab, root)
        self.want = None
        if options["state"] == "present":
            for key in ("seed", "stage", "goal"):
                v.required(f"record.{key}", options.get(key))
            self.want = text(options)
        self.payload, self.python = payload, python
        self.command: Command | None = None
        self.before = self.after = ""
        self.changed = False

    def plan(self) -> Record:
        self.before = read_text(self.where) or ""
        self.after = self.want or ""
        self.changed = self.before != self.after
        others = [name for name in labs(self.root) if path(name, self.root) != self.where]
        if self.want is not None or not others:      # the command stays while another lab's record needs it
            self.command = Command(self.root, self.want is not None, self.payload, self.python).plan()
        return self

    @property
    def actions(self) -> list[str]:
        own = [] if not self.changed else [f"remove the hand-out record {self.where}"] if self.want is None else \
            [f"record the hand-out in {self.where}"]
        return own + (self.command.actions if self.command else [])

    def apply(self) -> list[str]:
        done = self.actions
        if self.command is not None:
            self.command.apply()
        if self.changed:
            if self.want is None:
                remove_file(self.where)
                remove_file(checks_log(self.lab, self.root))
                for directory in (os.path.dirname(self.where), os.path.dirname(os.path.dirname(self.where))):
                    with contextlib.suppress(OSError):       # only when empty: another lab's record stays
                        os.rmdir(directory)
            else:
                replace_file(self.where, self.want.encode())
        return done

    def report(self) -> dict:
        command = self.command.shown if self.command and not self.command.remove and self.command.want_script else None
        return dict(path=self.where, state="absent" if self.want is None else "present",
                    changed=bool(self.actions), command=command)


def labs(root: str = "") -> list[str]:
    """The labs this host was handed: the names of the records in DIRECTORY, sorted."""
    try:
        found = os.listdir(f"{root}{DIRECTORY}")
    except FileNotFoundError:
        return []
    return sorted(name[:-len(".json")] for name in found if name.endswith(".json"))
