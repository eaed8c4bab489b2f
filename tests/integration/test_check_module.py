"""lab_check and the student's nslab-check through their own code (no AnsiballZ payload), in a sandbox lab host with
the simulated internet: the default lab built by the batch with its record, a fact broken by hand found with its
cause and hint, the picture of the lab as it is, and nslab-check's verdict and its log, which lab_check counts."""

from __future__ import annotations

import json
import os

from nslabtest import COLLECTIONS, PYTHON, ansible_only

from ansible_collections.nslab.net.plugins.filter.topology import lab_record
from ansible_collections.nslab.net.plugins.module_utils._lab.topology import DEFAULTS, lab_topology
from ansible_collections.nslab.net.plugins.module_utils._lab.steps import steps

INTERNET = dict(target="198.51.100.10", kind="http", port=80, expect_source=True)
NSLAB_CHECK = ("from ansible_collections.nslab.net.plugins.module_utils._entry.checkcli import main; import sys; "
               "sys.exit(main(sys.argv[1:]))")


def test_lab_check_explains_a_broken_fact_draws_the_lab_and_counts_the_students_checks(lab):
    # the demo service's Python: one its user (nobody) can run, as lab.yml's nslab_demo_python default is
    topo = dict(DEFAULTS, uplink_address="203.0.113.10", demo_python="/usr/bin/python3")
    plan = lab_topology(dict(topo))
    built = lab("batch", steps=steps(plan), record=lab_record(plan, dict(topo), "present", INTERNET))
    assert built["changed"] and built["record"]["state"] == "present"
    lab.sh("sysctl -w net.ipv4.ip_forward=0")                                     # the student breaks it

    checked = lab("lab_check", topology=dict.fromkeys(DEFAULTS), internet=INTERNET, host="lab1", picture=True)
    assert checked["recorded"] and not checked["as_expected"] and checked["goal"]["name"] == "publish"
    by_name = {r["name"]: r for r in checked["results"]}
    internet = by_name["netns1 -> internet"]
    assert not internet["as_expected"] and "net.ipv4.ip_forward = 0" in internet["cause"]
    assert internet["hint"] == "sysctl -w net.ipv4.ip_forward=1"
    assert by_name["host -> netns1"]["as_expected"] and checked["host_checks"] == 0
    picture = checked["picture"]
    assert [box["label"] for box in picture["boxes"]] == ["netns1", "netns2", "host (root namespace)"], picture
    assert {node["label"].split(" ")[0] for node in picture["nodes"]} >= {"ceth0", "ceth1", "veth0", "veth1", "br0", "eth0"}
    assert [step["id"] for step in picture["path"]] == ["forward", "nat"]

    # the student's own check on the host: the same verdict, from the record alone; each run counted for the goal
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([COLLECTIONS, ansible_only()]))
    for run in (1, 2):
        on_host = lab.sandbox.run([PYTHON, "-c", NSLAB_CHECK, "--json"], check=False, env=env)
        assert on_host.returncode == 2, (run, on_host.stdout + on_host.stderr)
        verdict = json.loads(on_host.stdout)
        assert {r["probe"] for r in verdict["results"] if not r["as_expected"]} >= {"netns1 -> internet"}, verdict
    again = lab("lab_check", topology=dict.fromkeys(DEFAULTS), internet=INTERNET, host="lab1")
    assert again["host_checks"] == 2 and "picture" not in again
    lab.sh("sysctl -w net.ipv4.ip_forward=1")
    fixed = lab("lab_check", topology=dict.fromkeys(DEFAULTS), internet=INTERNET, host="lab1")
    assert all(r["as_expected"] for r in fixed["results"]), [(r["name"], r.get("cause")) for r in fixed["results"]
                                                             if not r["as_expected"]]
    gone = lab("batch", steps=steps(plan, state="absent"), record=dict(lab="nslab", state="absent"))
    assert gone["changed"] and lab.sh("ls /run/nslab/log 2>/dev/null; true").stdout.strip() == ""
