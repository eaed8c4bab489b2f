# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exercises without root: what each stage builds and expects, what each fault changes in the module calls, errors
that name the variable, and the results marked with what was expected."""

from __future__ import annotations

import pytest

from ansible_collections.nslab.net.plugins.filter import results as r
from ansible_collections.nslab.net.plugins.module_utils._report import grade as mg
from ansible_collections.nslab.net.plugins.module_utils._lab import exercises as ex
from ansible_collections.nslab.net.plugins.module_utils._lab.topology import DEFAULTS, lab_topology, probes
from ansible_collections.nslab.net.plugins.module_utils._lab.steps import steps
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

INTERNET = {"target": "198.51.100.10"}
SEED000 = dict(bridge="br0", gateway="172.20.0.10/16", published_ports=[], demo_services=[], seed="seed000",
               namespaces=[dict(name="netns1", address="172.20.0.11", veth="veth1", peer="ceth1"),
                           dict(name="netns2", address="172.20.0.12", veth="veth2", peer="ceth2")])


def lab(**kw):
    return lab_topology(dict(DEFAULTS, **kw))


def expected(lab_):
    made = probes(lab_, INTERNET)
    return {p["name"] for p in made["host"] + made["outside"] if p["expected"]}


def test_each_stage_of_seed_002_adds_its_step_and_expects_what_the_seed_shows():
    seen = [(s, expected(lab(stage=s))) for s in ex.STAGES["seed002"]]
    assert [stage for stage, names in seen] == ["netns", "bridge", "veth", "route", "forward", "masquerade", "service", "publish"]
    got = dict(seen)
    assert got["netns"] == got["bridge"] == set()
    assert got["veth"] == {"host -> netns1", "host -> netns2", "netns1 -> netns2", "netns2 -> netns1"}
    assert got["route"] - got["veth"] == {"netns1 -> host", "netns2 -> host"}
    assert got["forward"] - got["route"] == {"netns1 -> uplink", "netns2 -> uplink"}     # seen leaving by eth0
    assert got["masquerade"] - got["forward"] == {"netns1 -> internet", "netns2 -> internet"}
    assert got["service"] == got["masquerade"] and len(got["publish"]) == 12
    at = lab(stage="bridge")
    assert at["veth"] == [] and at["routes"] == [] and at["forwarding"] == 0 and at["masquerade"] == []
    assert at["bridged"] and at["ports"] == [] and at["services"] == [] and at["dnat"] == []
    full = lab()
    assert full["stage"]["name"] == "publish" and full["stage"]["last"] and full["forwarding"] == 1
    assert [step["module"] for step in steps(lab(stage="netns"))][:3] == ["netns", "veth", "bridge_port"]
    assert next(s for s in steps(lab(stage="netns")) if s["module"] == "bridge_port")["args"]["items"] == []


def test_seed_000_addresses_the_host_ends_before_its_bridge_and_removes_them_after():
    at_veth = lab(**SEED000, stage="veth")
    assert [v["address"] for v in at_veth["veth"]] == [["172.20.0.1/16"], ["172.20.0.2/16"]]
    assert at_veth["ports"] == [] and not at_veth["bridged"]
    assert expected(at_veth) == {"host -> netns1"}             # veth1's route hides veth2's
    at_bridge = lab(**SEED000, stage="bridge")
    assert [v["address"] for v in at_bridge["veth"]] == [[], []] and len(at_bridge["ports"]) == 2
    assert not {"netns1 -> internet", "netns1 -> uplink"} & expected(lab(**SEED000, stage="masquerade"))  # forwarding last
    assert {"netns1 -> internet", "netns1 -> uplink"} <= expected(lab(**SEED000))


@pytest.mark.parametrize("fault, check", [
    ("no-default-route", lambda x: [r["netns"] for r in x["routes"]] == ["netns2"]
     and x["unrouted"] == [dict(netns="netns1", dst="default")]),
    ("wrong-gateway", lambda x: x["routes"][0]["gateway"] == "192.168.255.254"),
    ("no-forwarding", lambda x: x["forwarding"] == 0),
    ("no-masquerade", lambda x: x["masquerade"] == [] and x["forward"][0]["comment"] == "bridged"),
    ("no-dnat", lambda x: x["dnat"] == [] and len(x["published"]) == 1),
    ("forward-drop", lambda x: x["forward"][-1] == dict(type="drop", in_interface="br0", comment="bridged drop")),
    ("port-detached", lambda x: x["ports"] == [dict(port="veth1")] and x["hairpin"] == []),
    ("link-down", lambda x: x["veth"][0]["up"] is False and "up" not in x["veth"][1]),
    ("service-stopped", lambda x: x["services"] == []),
    ("bridge-route-conflict", lambda x: x["veth"][0]["address"] == ["192.168.127.254/17"]),
])
def test_each_fault_is_the_lab_s_own_state_changed(fault, check):
    faulted = lab(faults=[fault])
    assert check(faulted), faulted
    assert expected(faulted) == expected(lab())          # a fault does not change what the stage expects
    assert lab(faults=f"{fault}")["faults"] == faulted["faults"]      # -e nslab_faults=NAME


def test_a_fault_for_another_namespace():
    faulted = lab(faults=[{"fault": "link-down", "namespace": "netns2"}, "no-forwarding"])
    assert faulted["faults"] == [dict(fault="link-down", namespace="netns2"), dict(fault="no-forwarding", namespace=None)]
    assert "up" not in faulted["veth"][0] and faulted["veth"][1]["up"] is False


@pytest.mark.parametrize("kw, words", [
    (dict(stage="publsh"), "nslab_stage: 'publsh' is not a stage of seed002: choose one of netns, bridge, veth"),
    (dict(seed="seed001"), "nslab_seed: 'seed001' is not a seed: choose one of seed002, seed000"),
    (dict(stage="service", **SEED000), "'service' is not a stage of seed000"),
    (dict(faults=["no-route"]), "nslab_faults[0]: 'no-route' is not a fault: choose one of no-default-route"),
    (dict(faults=[{"fault": "no-forwarding", "namespace": "netns1"}]),
     "nslab_faults[0].namespace: no-forwarding concerns the whole lab host, not one namespace"),
    (dict(faults=[{"fault": "link-down", "namespace": "netns9"}]),
     "nslab_faults[0].namespace: 'netns9' is not one of the namespaces link-down can concern (netns1, netns2)"),
    (dict(faults=[{"fault": "no-dnat", "ns": "netns1"}]), "nslab_faults[0]: must be a fault name or a dictionary"),
    (dict(faults=["link-down", "link-down"]), "nslab_faults[1]: link-down is given twice"),
    (dict(faults=["no-dnat"], published_ports=[]), "nslab_faults[0]: no-dnat needs an entry in nslab_published_ports"),
    (dict(faults={"no-dnat": True}), "nslab_faults: must be a list of fault names"),
])
def test_wrong_exercise_variables_are_named(kw, words):
    with pytest.raises(Invalid) as err:
        lab(**kw)
    assert words in str(err.value)


def result(name, fact, ok, expected_=True, **kw):
    return dict(name=name, fact=fact, ok=ok, expected=expected_, detail="" if ok else "timed out", ms=None, attempts=1, **kw)


def test_results_say_what_was_expected_and_why_a_fact_is_not():
    staged = [result("netns1 -> host", "namespace -> host", True),
              result("netns1 -> internet", "namespace -> internet", False, False),
              result("netns2 -> internet", "namespace -> internet", True, False)]
    fleet = r.fleet_results([dict(host="s1", results=staged[:2], lab_stage="route"),
                             dict(host="s2", results=staged[::2], lab_stage="route", faults=["no-forwarding"])],
                            ["s1", "s2"])
    summary = r.fleet_summary(fleet).splitlines()
    assert summary[2].split("  ")[0] == "namespace -> internet"
    assert "NOT reachable (expected)" in summary[2] and summary[2].endswith("1/1 NOT as expected")
    assert summary[3] == "s1: 1/2 probes reachable, 2/2 as expected at stage route"
    assert summary[4] == "s2: 2/2 probes reachable, 1/2 as expected at stage route (faults injected: no-forwarding)"
    assert r.fleet_problems(fleet) == ["s2: namespace -> internet 1/1 NOT as expected"]
    explained = [dict(result("netns1 -> internet", "namespace -> internet", False), cause="IP forwarding is off",
                      hint="sysctl -w net.ipv4.ip_forward=1", evidence=["net.ipv4.ip_forward = 0"])]
    table = r.check_table(explained + staged[1:2]).splitlines()
    assert table[1].endswith("NOT reachable   <- NOT as expected")
    assert table[2:4] == ["    cause: IP forwarding is off", "    hint:  sysctl -w net.ipv4.ip_forward=1"]
    assert table[4].endswith("NOT reachable (expected)")
    xml = r.junit_xml(r.fleet_results([dict(host="s1", results=explained)], ["s1"]))
    assert 'message="NOT reachable: IP forwarding is off"' in xml and "hint: sysctl -w net.ipv4.ip_forward=1" in xml


def _diagnosis(saved: dict):
    """A Diagnosis of the default lab whose host reads are the given texts (no root, no pyroute2)."""
    from ansible_collections.nslab.net.plugins.module_utils._report.diagnose import Diagnosis

    def saved_text(tool):
        return saved.get(tool, "")
    diagnosis = Diagnosis(None, lab(), dict(interface="eth0", address="203.0.113.10"))
    diagnosis.saved = saved_text
    return diagnosis


@pytest.mark.parametrize("line, translates", [
    ("-A POSTROUTING -s 192.168.0.0/16 ! -o br0 -j MASQUERADE", True),                 # seed 002's
    ("-A NSLAB-POST -s 192.168.0.0/16 -o eth0 -m comment --comment \"nslab:x\" -j MASQUERADE", True),
    ("-A POSTROUTING -o eth0 -j MASQUERADE", True),                                    # any source, out of the uplink
    ("-A POSTROUTING -s 0.0.0.0/0 -j SNAT --to-source 203.0.113.10", True),
    ("meta nfproto ipv4 ip saddr 192.168.0.0/16 oifname \"eth0\" masquerade comment \"x\"", True),
    ("-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE", False),             # Docker's, another subnet
    ("-A POSTROUTING -o docker0 -m addrtype --src-type LOCAL -j MASQUERADE", False),
    ("-A POSTROUTING -o wg0 -j MASQUERADE", False),                                    # out of another interface
    ("-A POSTROUTING ! -s 192.168.0.0/16 -j MASQUERADE", False),
    ("-A NSLAB-POST -s 192.168.0.0/16 -d 192.168.0.2/32 -p tcp --dport 5000 -j MASQUERADE", False),   # NAT loopback
    ("ip6 saddr fd00::/80 oifname \"eth0\" masquerade", False),                       # IPv6: no crash
    ("ip saddr { 10.0.0.0/8, 192.168.0.0/16 } masquerade", False),                      # a set: no crash
])
def test_which_source_nat_counts_for_the_lab(line, translates):
    import ipaddress

    assert _diagnosis({}).translates(line, ipaddress.ip_network("192.168.0.0/16")) is translates


FILTER = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD {policy} [0:0]\n{rules}\nCOMMIT\n"
BRIDGED = "-A NSLAB-FWD -i br0 -o br0 -m comment --comment \"nslab:nslab:forward:k:d bridged\" -j ACCEPT"


@pytest.mark.parametrize("policy, rules, bridged, cause", [
    ("ACCEPT", "", False, None),
    ("DROP", "", False, "the FORWARD policy is DROP"),
    ("DROP", BRIDGED, False, "the FORWARD policy is DROP"),       # accepts bridged traffic only, not egress
    ("DROP", BRIDGED, True, None),
    ("DROP", "-A FORWARD -i br0 -j ACCEPT\n-A FORWARD -o br0 -j ACCEPT", False, None),   # the hint's commands
    ("DROP", "-A NSLAB-FWD -d 192.168.0.2/32 -p tcp -m tcp --dport 5000 -m conntrack --ctstate DNAT -j ACCEPT", False,
     None),                                                     # the lab's own accepts (a published port's)
    ("DROP", "-A FORWARD -s 192.168.0.0/16 -j ACCEPT", False, None),
    ("DROP", "-A FORWARD ! -s 192.168.0.0/16 -j ACCEPT", False, "the FORWARD policy is DROP"),
    ("ACCEPT", "-A NSLAB-FWD -i br0 -m comment --comment \"bridged drop\" -j DROP", False, "a FORWARD rule drops"),
    ("ACCEPT", "-A DOCKER-FORWARD -o br-1a2b3c -j DROP\n-A FORWARD -i br0.10 -j DROP", False, None),   # other links
])
def test_the_forward_chain_is_judged_for_the_fact_s_direction(policy, rules, bridged, cause):
    from ansible_collections.nslab.net.plugins.module_utils._report.diagnose import Finding

    diagnosis = _diagnosis({"iptables-save": FILTER.format(policy=policy, rules=rules)})
    if cause is None:
        diagnosis.forward_chain(bridged)
        return
    with pytest.raises(Finding) as found:
        diagnosis.forward_chain(bridged)
    assert found.value.cause.startswith(cause) and found.value.hint.startswith("iptables -I FORWARD -i br0 -j ACCEPT")


def graded(lab_, judge="goal"):
    """{probe name: (expected, graded)} of the lab's probes judged against its goal."""
    made = probes(lab_, INTERNET, judge)
    return {p["name"]: (p["expected"], p.get("graded", True)) for p in made["host"] + made["outside"]}


def test_a_goal_grades_what_it_needs_and_nothing_after_it():
    handed = lab(stage="route", goal="forward")
    assert handed["stage"]["name"] == "route" and handed["goal"]["name"] == "forward"
    got = graded(handed)
    needed = {name for name, (exp, gr) in got.items() if gr}
    assert needed == {"host -> netns1", "host -> netns2", "netns1 -> netns2", "netns2 -> netns1", "netns1 -> host",
                      "netns2 -> host", "netns1 -> uplink", "netns2 -> uplink"}
    assert all(exp for name, (exp, gr) in got.items() if gr)          # what the goal needs must get through
    assert not any(exp for name, (exp, gr) in got.items() if not gr)  # the rest: measured, never a failure
    assert lab()["goal"]["name"] == "publish"                          # default: the whole lab
    assert lab(stage="veth")["goal"]["name"] == "publish"


@pytest.mark.parametrize("kw, words", [
    (dict(stage="route", goal="veth"), "nslab_goal: 'veth' comes before the stage handed out (nslab_stage route)"),
    (dict(goal="forwad"), "nslab_goal: 'forwad' is not a stage of seed002"),
])
def test_a_goal_that_cannot_be_is_named(kw, words):
    with pytest.raises(Invalid) as err:
        lab(**kw)
    assert words in str(err.value)


def test_the_stage_reached_is_the_last_whose_facts_all_get_through():
    handed = lab(stage="route")
    made = probes(handed, INTERNET)
    every = made["host"] + made["outside"]
    stages = {p["name"]: ex.first_stage(handed, p) for p in every}
    assert stages["netns1 -> uplink"] == "forward" and stages["netns1 -> internet"] == "masquerade"
    names = list(ex.STAGES["seed002"])
    ok = {"host -> netns1", "host -> netns2", "netns1 -> netns2", "netns2 -> netns1", "netns1 -> host", "netns2 -> host"}
    results = [dict(name=p["name"], ok=p["name"] in ok) for p in every]
    assert ex.reached(names, stages, results) == "route"
    assert ex.reached(names, stages, [dict(r, ok=True) for r in results]) == "publish"
    # past the stage: forwarding and masquerade done, the published port not: masquerade (service adds no fact)
    more = ok | {"netns1 -> uplink", "netns2 -> uplink", "netns1 -> internet", "netns2 -> internet"}
    assert ex.reached(names, stages, [dict(r, ok=r["name"] in more) for r in results]) == "masquerade"
    assert ex.reached(names, stages, [dict(r, ok=False) for r in results]) is None


def checked_record(host, oks, goal="forward", stage="route", **kw):
    """A check.yml record of a host handed ``stage`` with ``goal``: ``oks`` {probe name: ok} of the graded facts."""
    handed = lab(stage=stage, goal=goal)
    made = probes(handed, INTERNET, "goal")
    results = [dict(p, ok=oks.get(p["name"], False), detail="", ms=None, attempts=1,
                    as_expected=oks.get(p["name"], False) == p["expected"] or p.get("graded") is False)
               for p in made["host"] + made["outside"]]
    return dict(host=host, results=results, lab_stage=stage, goal=goal, seed="seed002", stages=list(ex.STAGES["seed002"]),
                fact_stages={p["name"]: ex.first_stage(handed, p) for p in results}, **kw)


BASE = {"host -> netns1", "host -> netns2", "netns1 -> netns2", "netns2 -> netns1", "netns1 -> host", "netns2 -> host"}
FORWARDED = BASE | {"netns1 -> uplink", "netns2 -> uplink"}


def test_the_grade_has_a_row_per_student_a_word_and_fits_a_terminal():
    students = [checked_record(f"student{i:02}", dict.fromkeys(FORWARDED if i % 3 else BASE, True),
                               faults=["no-forwarding"] if i % 3 == 0 else []) for i in range(1, 31)]
    students.append(dict(host="student31", results=None,
                         failure=dict(stage="connect", msg="ssh: no route to host", unreachable=True)))
    fleet = r.fleet_results(students, [s["host"] for s in students])
    table = r.grade_table(fleet, {"student01": {"checks": 4}})
    lines = table.splitlines()
    assert max(map(len, lines)) <= 120, max(lines, key=len)
    assert lines[0].split() == ["STUDENT", "RESULT", "REACHED", "GOAL", "h>ns", "ns>h", "ns>ns", "ns>up", "ns>net",
                                "ns>pub", "out>pub", "CHECKS", "FAULTS"]
    rows = {line.split()[0]: line.split() for line in lines[1:32]}
    assert rows["student01"][1:6] == ["DONE", "4/4", "forward", "forward", "ok"] and rows["student01"][-2:] == ["4", "-"]
    assert rows["student03"][1:4] == ["NOT", "YET", "3/4"] and rows["student03"][-1] == "no-forwarding"
    assert rows["student03"][4] == "route" and rows["student03"][9] == "no"          # ns>up not yet
    assert rows["student31"][1:4] == ["FAILED", "TO", "CHECK"]
    assert "20 of 31 students done." in table
    assert "student03: not yet: ns>up (netns1 -> uplink)" in table
    assert "student31: could not check: ssh: no route to host" in table
    assert len(r.grade_problems(fleet)) == 11 and r.grade_problems(fleet, strict=False) == ["student31: FAILED TO CHECK"]


def test_going_past_the_goal_is_never_a_failure():
    past = checked_record("s1", dict.fromkeys(FORWARDED | {"netns1 -> internet", "netns2 -> internet"}, True))
    fleet = r.fleet_results([past], ["s1"])
    assert mg.grade_word(fleet[0]) == "DONE 4/4" and fleet[0]["reached"] == "masquerade"
    assert r.fleet_problems(fleet) == [] and r.grade_problems(fleet) == []
    summary = r.fleet_summary(fleet)
    assert [line.split("  ")[-1] for line in summary.splitlines() if line.startswith("namespace -> internet")] == \
        ["not graded"]
    assert summary.splitlines()[-1] == "s1: DONE, 4 of 4 facts of goal forward (handed out at stage route)"
    table = r.check_table(fleet[0]["results"])
    assert "reachable (not graded)" in table and "NOT as expected" not in table


def test_history_gives_each_student_s_progress():
    before = r.fleet_results([checked_record("s1", dict.fromkeys(BASE, True))], ["s1"])[0]
    after = r.fleet_results([checked_record("s1", dict.fromkeys(FORWARDED, True))], ["s1"])[0]
    lines = [mg.history_line(before, "check", "T1"), mg.history_line(after, "check", "T2"),
             mg.history_line(after, "grade", "T3")]
    assert lines[0]["facts"]["namespace -> uplink"] is False and lines[0]["word"] == "NOT YET 3/4"
    got = mg.progress(lines)
    assert got == dict(checks=2, check_runs=2, host_checks=0, grades=1, done_at="T2", first_passed={
        "host -> namespace": "T1", "namespace -> host": "T1", "namespace -> namespace": "T1",
        "namespace -> uplink": "T2"})


def test_a_fact_reachable_too_soon_names_what_does_the_later_stage_s_work():
    from ansible_collections.nslab.net.plugins.module_utils._report.diagnose import Diagnosis, Finding

    def at(stage, saved, forwarding):
        diagnosis = Diagnosis(None, dict(lab(stage=stage), host="student02"),
                              dict(interface="eth0", address="203.0.113.10"))
        diagnosis.saved = lambda tool: saved.get(tool, "")
        diagnosis.read = lambda path: forwarding if path.endswith("ip_forward") else None
        return diagnosis

    internet = dict(name="netns1 -> internet", fact="namespace -> internet", ok=True)
    by_hand = "*nat\n-A POSTROUTING -s 192.168.0.0/16 ! -o br0 -j MASQUERADE\nCOMMIT\n"
    with pytest.raises(Finding) as found:
        at("forward", {"iptables-save": by_hand}, "1").too_soon(internet)
    assert "does the masquerade stage's work before stage forward" in found.value.cause
    assert found.value.hint == "iptables -t nat -D POSTROUTING -s 192.168.0.0/16 ! -o br0 -j MASQUERADE"
    with pytest.raises(Finding) as found:
        at("route", {}, "1").too_soon(dict(internet, name="netns1 -> uplink", fact="namespace -> uplink"))
    assert found.value.hint == "sysctl -w net.ipv4.ip_forward=0"
    with pytest.raises(Finding) as found:
        at("veth", {}, "0").too_soon(dict(name="netns1 -> host", fact="namespace -> host", ok=True))
    assert found.value.hint.startswith("ansible-playbook playbooks/lab.yml --limit student02 -e nslab_stage=veth")


def test_progress_counts_the_current_goal_only():
    lines = [dict(time="T1", kind="check", goal="route", word="DONE 3/3", facts={"namespace -> host": True}),
             dict(time="T2", kind="check", goal="forward", word="NOT YET 3/4", facts={"namespace -> uplink": False}),
             "not a line", dict(time="T3", kind="check", goal="forward", word="DONE 4/4",
                                facts={"namespace -> uplink": True})]
    assert mg.progress(lines, "forward") == dict(checks=2, check_runs=2, host_checks=0, grades=0, done_at="T3",
                                                 first_passed={"namespace -> uplink": "T3"})


def test_a_published_port_held_by_another_program_names_it_unless_it_is_a_copy_of_the_demo_service(monkeypatch):
    import contextlib

    from ansible_collections.nslab.net.plugins.module_utils._report import diagnose
    from ansible_collections.nslab.net.plugins.module_utils._report.diagnose import Diagnosis, Finding

    class Session:
        @staticmethod
        def entered(_name):
            return contextlib.nullcontext()
    diagnosis = Diagnosis(Session(), lab(), dict(interface="eth0", address="203.0.113.10"))
    # 192.168.0.2:5000 listening (little-endian hex), as /proc/net/tcp shows it
    diagnosis.read = lambda path: "header\n 0: 0200A8C0:1388 00000000:0000 0A 0 0 0 0 0 0 1234\n"
    pub = dict(namespace="netns1", address="192.168.0.2", target_port=5000)
    holder = dict(pid=4242, command="nc -l 192.168.0.2 5000", ours=False)
    monkeypatch.setattr(diagnose, "held_by", lambda port, address: holder if (address, port) == ("192.168.0.2", 5000)
                        else None)
    with pytest.raises(Finding) as found:
        diagnosis.service(pub)
    assert found.value.cause.startswith("port 5000 in netns1 is held by PID 4242 (nc -l 192.168.0.2 5000)")
    assert found.value.hint == "kill 4242"
    svc = next(s for s in lab()["services"] if s["netns"] == "netns1")
    holder["command"] = " ".join(["/usr/bin/python3", *svc["command"][1:]])      # the check's own hint, typed by hand
    diagnosis.service(pub)                                                        # serves the page: not the cause
    # the same copy where the lab runs no service (the service-stopped fault): still the student's, not a stranger
    stopped = Diagnosis(Session(), lab(faults=["service-stopped"]), dict(interface="eth0", address="203.0.113.10"))
    stopped.read = diagnosis.read
    assert not [s for s in stopped.lab["services"] if s["netns"] == "netns1"]
    stopped.service(pub)


def test_a_listener_address_is_read_from_proc_net_tcp_and_tcp6():
    from ansible_collections.nslab.net.plugins.module_utils._resources.ports import local_address

    assert [local_address(h) for h in ("0200A8C0", "00000000", "00000000000000000000000000000000",
                                       "0000000000000000FFFF00000200A8C0")] == \
        ["192.168.0.2", "0.0.0.0", "::", "::ffff:192.168.0.2"]
