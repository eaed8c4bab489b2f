# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exercises without root: what each stage builds and expects, what each fault changes in the module calls, errors
that name the variable, and the results marked with what was expected."""

from __future__ import annotations

import pytest

from ansible_collections.nslab.net.plugins.filter import results as r
from ansible_collections.nslab.net.plugins.module_utils import exercises as ex
from ansible_collections.nslab.net.plugins.module_utils.topology import DEFAULTS, lab_topology, probes, steps
from ansible_collections.nslab.net.plugins.module_utils.validate import Invalid

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
    assert got["route"] - got["veth"] == {"netns1 -> host", "netns2 -> host"} and got["forward"] == got["route"]
    assert got["masquerade"] - got["forward"] == {"netns1 -> internet", "netns2 -> internet"}
    assert got["service"] == got["masquerade"] and len(got["publish"]) == 10
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
    assert "netns1 -> internet" not in expected(lab(**SEED000, stage="masquerade"))   # forwarding comes last
    assert "netns1 -> internet" in expected(lab(**SEED000))


@pytest.mark.parametrize("fault, check", [
    ("no-default-route", lambda x: [r["netns"] for r in x["routes"]] == ["netns2"]
     and x["unrouted"] == [dict(netns="netns1", dst="default")]),
    ("wrong-gateway", lambda x: x["routes"][0]["gateway"] == "192.168.255.254"),
    ("no-forwarding", lambda x: x["forwarding"] == 0),
    ("no-masquerade", lambda x: x["masquerade"] == [] and x["forward"][0]["comment"] == "bridged"),
    ("no-dnat", lambda x: x["dnat"] == [] and len(x["published"]) == 1),
    ("forward-drop", lambda x: x["forward"][-1] == dict(type="drop", in_interface="br0", comment="fault forward-drop")),
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
    from ansible_collections.nslab.net.plugins.module_utils.diagnose import Diagnosis

    def saved_text(tool):
        return saved.get(tool, "")
    diagnosis = Diagnosis(None, None, lab(), dict(interface="eth0", address="203.0.113.10"))
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
    ("ACCEPT", "-A NSLAB-FWD -i br0 -m comment --comment \"fault forward-drop\" -j DROP", False, "a FORWARD rule drops"),
    ("ACCEPT", "-A DOCKER-FORWARD -o br-1a2b3c -j DROP\n-A FORWARD -i br0.10 -j DROP", False, None),   # other links
])
def test_the_forward_chain_is_judged_for_the_fact_s_direction(policy, rules, bridged, cause):
    from ansible_collections.nslab.net.plugins.module_utils.diagnose import Finding

    diagnosis = _diagnosis({"iptables-save": FILTER.format(policy=policy, rules=rules)})
    if cause is None:
        diagnosis.forward_chain(bridged)
        return
    with pytest.raises(Finding) as found:
        diagnosis.forward_chain(bridged)
    assert found.value.cause.startswith(cause) and found.value.hint.startswith("iptables -I FORWARD -i br0 -j ACCEPT")
