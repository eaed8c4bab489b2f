# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``nslab-check``: the student's check on the lab host itself, with no Ansible there.

The hand-out (lab.yml, the batch module's ``record``) installs the command beside the record: a small script
that runs the engine (this collection's code, the module run's own payload, as a persisted lab's engine is)
with ``check``. It does for its host what ``playbooks/check.yml`` does: it reads the host's record (the seed,
the stage, the goal, the lab's variables), runs the same checks as ``nslab.net.lab_check`` (the same facts,
judged against the goal, the same causes and hints), prints the same table and verdict line, and exits 0 when
every fact is as expected, 2 when not (as ansible-playbook does), 1 when it cannot check. The published ports
are probed from outside by check.yml only: from the lab host itself they are not "outside"."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule

USAGE = "usage: nslab-check [--lab LAB] [--no-hints] [--json]"


def _module(params: dict) -> AnsibleModule:
    """An AnsibleModule of lab_check's spec with ``params``, as Ansible would make it, in this process."""
    from ansible.module_utils import basic

    from ansible_collections.nslab.net.plugins.module_utils._persist.boot import module_args
    from ansible_collections.nslab.net.plugins.module_utils._report.check import SPEC

    with module_args(dict(params, _ansible_check_mode=True)):
        return basic.AnsibleModule(argument_spec=SPEC, supports_check_mode=True)


def run(lab: str | None, hints: bool) -> dict:
    """lab_check's result for the host's recorded lab; raises Invalid (no record, a wrong one)."""
    from ansible_collections.nslab.net.plugins.module_utils._persist import record
    from ansible_collections.nslab.net.plugins.module_utils._host import session as nsmod
    from ansible_collections.nslab.net.plugins.module_utils._report.check import check
    from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

    if lab is None:                          # the one lab this host was handed
        labs = record.labs()
        if len(labs) > 1:
            raise Invalid("nslab-check", f"this host was handed several labs ({', '.join(labs)}): say which, --lab NAME")
        lab = labs[0] if labs else "nslab"
    handed = record.read(lab)
    if handed is None:
        raise Invalid("nslab-check", f"this host has no hand-out record of lab {lab!r} ({record.path(lab)}): the "
                                     "teacher's lab.yml writes it; ask for the lab to be handed out again")
    from ansible_collections.nslab.net.plugins.module_utils._lab.topology import DEFAULTS

    # every variable unset, as lab_variables gives them to lab_check: the record fills what the host was handed
    unset = dict(dict.fromkeys(DEFAULTS), lab=lab)
    module = _module(dict(topology=unset, internet=handed.get("internet") or None,
                          hints=hints and handed.get("hints", True) is not False))
    session = nsmod.Session()
    try:
        return dict(check(module, session), lab=lab)
    finally:
        session.close()


def main(argv: list[str]) -> int:
    from ansible_collections.nslab.net.plugins.module_utils._report import grade, results
    from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

    lab, hints, as_json, rest = None, True, False, list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--lab" and rest:
            lab = rest.pop(0)
        elif arg == "--no-hints":
            hints = False
        elif arg == "--json":
            as_json = True
        else:
            sys.stderr.write(USAGE + "\n")
            return 1
    try:
        checked = run(lab, hints)
    except Invalid as exc:
        sys.stderr.write(f"nslab-check: {exc}\n")
        return 1
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback, for a student
        sys.stderr.write(f"nslab-check: could not check: {type(exc).__name__}: {exc}\n")
        return 1
    record = dict(host="this host", results=checked["results"], lab_stage=checked["stage"]["name"],
                  goal=checked["goal"]["name"], seed=checked["seed"], stages=checked["stage"]["stages"],
                  fact_stages=checked["fact_stages"])
    fleet = results.fleet_results([record], ["this host"])
    try:                        # the grade counts the student's checks; a log it cannot write does not stop one
        from ansible_collections.nslab.net.plugins.module_utils._persist.record import add_check

        add_check(checked["lab"], dict(time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), goal=record["goal"],
                                       word=grade.grade_word(fleet[0])))
    except OSError as exc:
        sys.stderr.write(f"nslab-check: this run is not counted ({exc})\n")
    if as_json:
        sys.stdout.write(json.dumps(fleet[0], indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(results.check_table(checked["results"]) + "\n")
        sys.stdout.write(results.fleet_summary(fleet).splitlines()[-1] + "\n")
        if checked["outside"]:
            sys.stdout.write("(the published ports are probed from outside by check.yml, not from this host)\n")
    return 0 if checked["as_expected"] else 2
