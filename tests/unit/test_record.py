# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hand-out record without root: what lab.yml leaves on a lab host (never the faults), read back by the check,
and a variable that disagrees with it named as such."""

from __future__ import annotations

import json

import pytest

from ansible_collections.nslab.net.plugins.filter.topology import lab_record
from ansible_collections.nslab.net.plugins.module_utils._persist import record as rec
from ansible_collections.nslab.net.plugins.module_utils._report.check import with_record
from ansible_collections.nslab.net.plugins.module_utils._lab.topology import DEFAULTS, lab_topology
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

VARIABLES = dict(lab="nslab", seed="seed002", stage="route", goal="forward", faults=["no-forwarding"], state="present",
                 gateway="192.168.0.1/16", bridge=None, namespaces=None)


def options(**kw):
    handed = lab_topology(dict(DEFAULTS, stage="route", goal="forward", faults=["no-forwarding"]))
    return dict(lab_record(handed, VARIABLES), **kw)


def test_the_record_is_planned_written_and_removed_and_never_holds_the_faults(tmp_path):
    root = str(tmp_path)
    first = rec.Record(options(), root).plan()
    assert first.changed and first.before == "" and first.actions == [f"record the hand-out in {root}/etc/nslab/labs/nslab.json"]
    first.apply()
    saved = json.loads((tmp_path / "etc/nslab/labs/nslab.json").read_text())
    assert saved == dict(format=1, lab="nslab", seed="seed002", stage="route", goal="forward",
                         variables=dict(lab="nslab", gateway="192.168.0.1/16"))
    assert "no-forwarding" not in (tmp_path / "etc/nslab/labs/nslab.json").read_text()
    again = rec.Record(options(), root).plan()
    assert not again.changed and again.actions == []                # a re-run with the same hand-out: nothing
    assert rec.read("nslab", root) == saved
    gone = rec.Record(dict(lab="nslab", state="absent", variables={}), root).plan()
    assert gone.changed and gone.after == "" and gone.actions == [f"remove the hand-out record {root}/etc/nslab/labs/nslab.json"]
    gone.apply()
    assert not (tmp_path / "etc/nslab").exists() and rec.read("nslab", root) is None


def test_a_record_that_cannot_be_read_names_its_file_and_the_fix(tmp_path):
    where = tmp_path / "etc/nslab/labs/nslab.json"
    where.parent.mkdir(parents=True)
    where.write_text("{not json")
    with pytest.raises(Invalid) as err:
        rec.read("nslab", str(tmp_path))
    assert f"record: {where} is not the record lab.yml writes" in str(err.value)
    assert "ansible-playbook playbooks/lab.yml" in str(err.value)


def test_the_check_fills_what_is_unset_from_the_record_and_names_what_disagrees():
    saved = dict(format=1, lab="nslab", seed="seed000", stage="veth", goal="forward",
                 variables=dict(lab="nslab", gateway="172.20.0.10/16"))
    unset = dict(lab="nslab", seed=None, stage=None, goal=None, gateway=None, bridge=None)
    filled = with_record(unset, saved)
    assert (filled["seed"], filled["stage"], filled["goal"]) == ("seed000", "veth", "forward")
    assert filled["gateway"] == "172.20.0.10/16"
    assert with_record(dict(unset, stage="veth"), saved)["stage"] == "veth"     # the same as handed: fine
    with pytest.raises(Invalid) as err:
        with_record(dict(unset, seed="seed002"), saved)
    assert str(err.value).startswith("nslab_seed: this host was handed seed000 stage veth, goal forward")
    assert "you asked about nslab_seed='seed002'" in str(err.value)
    assert with_record(unset, None) == unset                                    # no record: the variables alone


def test_the_students_checks_on_the_host_are_counted_per_goal_and_go_with_the_record(tmp_path):
    from ansible_collections.nslab.net.plugins.module_utils._report.grade import progress

    root = str(tmp_path)
    rec.Record(options(), root).plan().apply()
    assert rec.checks_run("nslab", "forward", root) == 0
    for goal in ("forward", "forward", "route"):
        rec.add_check("nslab", dict(time="t", goal=goal, word="NOT YET 3/4"), root)
    with open(rec.checks_log("nslab", root), "a", encoding="utf-8") as fh:
        fh.write('{"goal": "forw')                           # a line cut short does not count
    assert rec.checks_run("nslab", "forward", root) == 2 and rec.checks_run("nslab", "route", root) == 1
    assert rec.checks_log("nslab", root) == f"{root}/var/log/nslab-check/nslab.jsonl"
    # the grade's count: check.yml's runs of the goal and the host's
    lines = [dict(kind="check", goal="forward"), dict(kind="grade", goal="forward"), dict(kind="check", goal="route")]
    counted = progress(lines, "forward", host_checks=2)
    assert counted == dict(checks=3, check_runs=1, host_checks=2, grades=1, first_passed={}, done_at=None)
    rec.Record(dict(lab="nslab", state="absent"), root).plan().apply()
    assert not (tmp_path / "var" / "log" / "nslab-check" / "nslab.jsonl").exists()
