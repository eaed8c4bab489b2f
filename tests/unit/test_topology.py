# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' topology check: errors name the nslab_ variable the user set and what it takes."""

from __future__ import annotations

import pytest

from ansible_collections.nslab.net.plugins.filter.topology import lab_topology as lab_topology_filter
from ansible_collections.nslab.net.plugins.module_utils._lab.topology import lab_topology, probes
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

NETNS1 = {"name": "netns1", "address": "192.168.0.2"}


def topo(**kw):
    return dict(dict(bridge="br0", gateway="192.168.0.1/16", namespaces=[NETNS1]), **kw)


@pytest.mark.parametrize("kw, words", [
    (dict(namespaces=[{"name": "netns1", "adress": "192.168.0.2"}]),
     "nslab_namespaces[0].adress: is not a key of nslab_namespaces entries (they take name, address, veth, peer)"),
    (dict(namespaces=["netns1"]), "nslab_namespaces[0]: must be a dictionary with the keys name, address, veth, peer"),
    (dict(published_ports=[{"namespace": "netns1", "port": 80, "proto": "tcp"}]),
     "nslab_published_ports[0].proto: is not a key of nslab_published_ports entries (they take namespace, port, "
     "target_port, protocol)"),
    (dict(demo_services=[{"namespace": "netns1", "port": 80, "bind": "x"}]),
     "nslab_demo_services[0].bind: is not a key of nslab_demo_services entries (they take namespace, port, token)"),
    (dict(gateway="192.168.0.0/16"), "nslab_gateway: 192.168.0.0/16 is the subnet's network address, not a host "
                                     "address: the bridge's address with the prefix, e.g. 192.168.0.1/16"),
    (dict(gateway="10.0.0.255/24"), "nslab_gateway: 10.0.0.255/24 is the subnet's broadcast address"),
])
def test_wrong_variables_are_named_with_what_they_take(kw, words):
    with pytest.raises(Invalid) as exc:
        lab_topology(topo(**kw))
    assert str(exc.value).startswith(words)


def test_the_filter_returns_the_error_for_the_role_to_fail_with():
    assert lab_topology_filter(topo(gateway="192.168.0.0/16"), "return") == {
        "error": "nslab_gateway: 192.168.0.0/16 is the subnet's network address, not a host address: the bridge's "
                 "address with the prefix, e.g. 192.168.0.1/16"}
    assert lab_topology_filter(topo(), "return")["netns"] == [{"name": "netns1"}]


def test_the_lab_steps_are_the_roles_steps_in_order_and_reversed_to_remove():
    from ansible_collections.nslab.net.plugins.module_utils._lab.steps import steps
    plan = lab_topology(topo(published_ports=[{"namespace": "netns1", "port": 5000}],
                             demo_services=[{"namespace": "netns1", "port": 5000}]))
    egress, ingress = steps(plan, "egress"), steps(plan, "ingress")
    assert [s["module"] for s in egress] == ["netns", "veth", "bridge_port", "ns_route", "ns_sysctl", "nat_rule", "ns_route"]
    assert egress[-1]["args"]["state"] == "absent" and egress[-1]["enabled"] is False    # no default route left out
    assert [s["module"] for s in ingress] == ["ns_service", "bridge_port", "nat_rule"]
    assert steps(plan) == egress + ingress
    assert egress[2]["args"]["items"][0] == {"address": ["192.168.0.1/16"]}        # the gateway on the bridge
    assert ingress[2]["args"]["lab"] == "nslab-in" and ingress[1]["enabled"] is True
    measured = steps(plan, "lab", "present", {})
    assert measured[:-1] == egress + ingress and measured[-1]["module"] == "ns_probe"
    assert [p["fact"] for p in measured[-1]["args"]["probes"]][-1] == "namespace -> published port"
    removed = steps({"lab": "x"}, "lab", "absent")
    assert [(s["module"], s["args"]["lab"]) for s in removed] == [
        ("ns_service", "x"), ("nat_rule", "x-in"), ("nat_rule", "x"), ("veth", "x"), ("bridge_port", "x"), ("netns", "x")]
    assert all(s["args"]["items"] == [] and s["args"]["purge"] for s in removed)


def test_unset_variables_take_the_default_lab_and_the_roles_defaults_are_the_same():
    import os
    import re

    import yaml

    from ansible_collections.nslab.net.plugins.module_utils._lab.topology import DEFAULTS
    plan = lab_topology({key: None for key in DEFAULTS})
    assert plan["gateway"] == "192.168.0.1" and [n["name"] for n in plan["netns"]] == ["netns1", "netns2"]
    assert plan["dnat"][0]["port"] == 5000 and plan["services"][0]["netns"] == "netns1"
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for role, names in (("egress", dict(lab="egress_lab", bridge="egress_bridge", gateway="egress_gateway",
                                        dns="egress_dns", egress="egress_masquerade", nat_backend="egress_nat_backend", persist="egress_persist",
                                        namespaces="egress_namespaces")),
                        ("ingress", dict(published_ports="ingress_published_ports", demo_services="ingress_demo_services",
                                         namespaces="ingress_namespaces", bridge="ingress_bridge", persist="ingress_persist",
                                         demo_user="ingress_demo_user"))):
        with open(os.path.join(repo, "roles", role, "defaults", "main.yml")) as fh:
            defaults = yaml.safe_load(fh)
        for key, var in names.items():
            expr = re.fullmatch(r"\{\{ nslab_\w+ \| default\((.*)\) \}\}", defaults[var]).group(1)
            value = defaults[expr] if expr in defaults else yaml.safe_load(expr.replace("'", '"'))
            assert value == DEFAULTS[key], (role, var)


@pytest.mark.parametrize("value, masquerade", [(True, 1), ("false", 0), ("no", 0), ("yes", 1), (0, 0)])
def test_egress_reads_as_ansible_reads_a_boolean(value, masquerade):
    plan = lab_topology(topo(egress=value))
    assert len(plan["masquerade"]) == masquerade and plan["egress"] is bool(masquerade)


@pytest.mark.parametrize("kw, words", [
    (dict(egress="maybe"), "nslab_egress: 'maybe' is not a boolean"),
    (dict(state="absnet"), "nslab_state: 'absnet' is not one of: present, absent"),
    (dict(requirements="instal"), "nslab_requirements: 'instal' is not one of: check, install, skip"),
])
def test_the_lab_playbooks_switches_are_checked(kw, words):
    with pytest.raises(Invalid) as exc:
        lab_topology(topo(**kw))
    assert str(exc.value).startswith(words)


def test_an_unknown_nslab_variable_is_named_with_the_closest_known_one():
    from ansible.errors import AnsibleFilterError

    from ansible_collections.nslab.net.plugins.filter.topology import lab_variables, unknown_variables

    assert unknown_variables({"nslab_stage": "route", "nslab_sandbox_root": "/x", "nslab_plan": {}, "other": 1}) == []
    assert unknown_variables({"nslab_stgae": "route", "nslab_gatway": "10.0.0.1/24", "nslab_zzzz": 1}) == [
        "nslab_gatway: not a variable of nslab.net; did you mean nslab_gateway?",
        "nslab_stgae: not a variable of nslab.net; did you mean nslab_stage?",
        'nslab_zzzz: not a variable of nslab.net; its variables are listed in the README ("The lab")']
    with pytest.raises(AnsibleFilterError, match=r"^nslab_stgae: not a variable of nslab.net; did you mean nslab_stage\?$"):
        lab_variables({"nslab_stgae": "route"})
    assert lab_variables({"nslab_stage": "route"})["stage"] == "route"


def test_sandbox_hosts_are_the_inventory_s_marked_hosts_each_with_an_uplink():
    from ansible_collections.nslab.net.plugins.filter.topology import sandbox_hosts

    hostvars = {"a": {"nslab_sandbox": True}, "b": {"nslab_sandbox": True, "nslab_sandbox_uplink": "203.0.113.10"},
                "vm": {"ansible_host": "192.0.2.11"}, "c": {"nslab_sandbox": "true"}}
    assert sandbox_hosts(["a", "b", "vm", "c"], hostvars) == [
        dict(name="a", uplink_address="203.0.113.11"), dict(name="b", uplink_address="203.0.113.10"),
        dict(name="c", uplink_address="203.0.113.12")]       # the next free addresses, in the inventory's order
    assert sandbox_hosts(["vm"], hostvars) == [] and sandbox_hosts(None, hostvars) == []


def test_the_class_page_is_one_file_that_loads_nothing_and_escapes_what_it_shows():
    from ansible_collections.nslab.net.plugins.module_utils._report.page import class_page
    from ansible_collections.nslab.net.plugins.module_utils._report.results import fleet_results

    probe = dict(name="netns1 -> host", fact="namespace -> host", ok=False, expected=True, detail="timed out",
                 cause="no <default> route", hint="ip route add default via 192.168.0.1")
    fleet = fleet_results([dict(host="s<1>", results=[probe], goal="route", lab_stage="veth")], ["s<1>"])
    page = class_page(fleet, {"s<1>": {"checks": 2, "first_passed": {}}})
    assert "s&lt;1&gt;" in page and "<1>" not in page and "no &lt;default&gt; route" in page
    assert "http://" not in page and "https://" not in page and " src=" not in page
    assert "default-src 'none'" in page                      # the browser refuses any load
    assert page.count('<tr data-host=') == 1 and ">not yet<" in page and "NOT YET 0/1" in page


def test_a_variant_is_each_student_s_own_lab_derived_from_the_name_and_the_secret():
    from ansible.errors import AnsibleFilterError

    from ansible_collections.nslab.net.plugins.filter.topology import lab_variables

    def of(host, **kw):
        return lab_variables(dict(inventory_hostname=host, nslab_variant=True, nslab_class_secret="s3cret-of-teacher", **kw))

    one, again, other = of("student01"), of("student01"), of("student02")
    assert one == again and one["gateway"] != other["gateway"]                   # reproducible, and each its own
    assert one["gateway"].startswith("10.") and one["gateway"].endswith(".1/24")
    assert "s3cret-of-teacher" not in repr(one)                                  # never passed on
    lab = lab_topology(one)                                                      # a lab the roles can build
    assert lab["subnet"] == one["gateway"].replace(".1/24", ".0/24")
    assert lab["published"][0]["port"] == one["published_ports"][0]["port"] and 5000 <= lab["published"][0]["port"] < 6000
    # the demo page shows the student's own token, and the published port's probes expect it
    token = one["demo_services"][0]["token"]
    assert token != other["demo_services"][0]["token"] and len(token) == 10
    page = next(s["index"] for s in lab["services"])
    assert page.endswith(f"token {token}\n")
    made = probes(dict(lab, uplink_address="203.0.113.10"), dict(target="198.51.100.10", kind="http", port=80))
    published = [p for p in made["host"] + made["outside"]
                 if p["fact"].endswith("published port")]
    assert len(published) == 2 and all(p["expect"] == f"token {token}" for p in published)
    stopped = lab_topology(dict(one, faults=["service-stopped"]))     # the student starts it: their page, no token
    made = probes(dict(stopped, uplink_address="203.0.113.10"), dict(target="198.51.100.10", kind="http", port=80))
    assert not [p for p in made["host"] + made["outside"] if p.get("expect", "").startswith("token")]
    assert of("student01", nslab_gateway="172.20.0.1/16")["gateway"] == "172.20.0.1/16"   # what is set stays
    assert lab_variables(dict(inventory_hostname="s1", nslab_variant=True, nslab_class_secret="x" * 8))["gateway"] != \
        one["gateway"]                                                           # another secret, another lab
    with pytest.raises(AnsibleFilterError, match="nslab_class_secret: nslab_variant: true needs the teacher's secret"):
        lab_variables(dict(inventory_hostname="s1", nslab_variant=True))


def test_the_grade_reads_fault_names_on_the_controller_and_a_record_never_carries_them():
    from ansible_collections.nslab.net.plugins.filter.topology import fault_names, lab_record

    assert fault_names("no-forwarding, link-down") == ["no-forwarding", "link-down"]
    assert fault_names([{"fault": "link-down", "namespace": "netns2"}, "no-dnat"]) == ["link-down", "no-dnat"]
    assert fault_names(None) == [] and fault_names("") == []
    from ansible_collections.nslab.net.plugins.module_utils._lab.topology import DEFAULTS

    handed = lab_topology(dict(DEFAULTS, stage="route", goal="forward", faults=["no-forwarding"]))
    record = lab_record(handed, dict(lab="nslab", faults=["no-forwarding"], state="present", gateway=None), "present",
                        None, False)
    assert "faults" not in record["variables"] and "no-forwarding" not in repr(record)
    assert record["hints"] is False


def test_a_variant_fills_the_subnet_and_its_addresses_together():
    from ansible_collections.nslab.net.plugins.filter.topology import lab_variables

    base = dict(inventory_hostname="student01", nslab_variant=True, nslab_class_secret="s3cret-of-teacher")
    mine = lab_variables(dict(base, nslab_gateway="172.20.0.1/16"))
    assert mine["gateway"] == "172.20.0.1/16" and mine["namespaces"] is None      # not addresses of another subnet
    assert mine["published_ports"][0]["port"] == lab_variables(base)["published_ports"][0]["port"]


def test_nslab_reset_reaches_the_calls_that_remove_what_was_made_by_hand_and_nothing_else():
    """nslab_reset: ns_route's and both nat_rule calls' reset (with their purge); never saved for boot (persist's
    intent), never in the hand-out record; a value that is no boolean is named."""
    from ansible_collections.nslab.net.plugins.filter.topology import lab_record, lab_variables
    from ansible_collections.nslab.net.plugins.module_utils._persist.persist import intent_text
    from ansible_collections.nslab.net.plugins.module_utils._lab.steps import steps

    plain = steps(lab_topology(topo()))
    assert not any("reset" in step["args"] for step in plain)
    reset = steps(lab_topology(topo(reset="true")))
    with_reset = [(step["module"], step["args"]["lab"], step["args"]["reset"]) for step in reset if "reset" in step["args"]]
    # nat_rule's: the lab's subnet and bridge, whatever the stage (before masquerade its items name no subnet);
    # the egress call's only, so that a plan lists each rule once
    assert with_reset == [("ns_route", "nslab", True), ("nat_rule", "nslab", ["192.168.0.0/16", "br0"])]
    early = steps(lab_topology(topo(reset=True, stage="forward")))
    assert [step["args"]["reset"] for step in early if step["module"] == "nat_rule" and "reset" in step["args"]] == \
        [["192.168.0.0/16", "br0"]]
    assert all(step["args"]["purge"] for step in reset if step["args"].get("reset"))
    assert intent_text("nslab", "lab", reset) == intent_text("nslab", "lab", plain)
    variables = lab_variables({"nslab_reset": True, "inventory_hostname": "h"})
    assert variables["reset"] is True
    assert "reset" not in lab_record(lab_topology(dict(variables, **topo())), variables)["variables"]
    with pytest.raises(Invalid) as exc:
        lab_topology(topo(reset="maybe"))
    assert str(exc.value).startswith("nslab_reset: 'maybe' is not a boolean")


def test_lab_records_reads_what_the_build_play_left_on_each_host():
    """lab.yml's summary records (nslab.net.lab_records): measured, unreachable (the batch task ignores it), failed
    and rescued, check mode, teardown; a host that never got to its build has none (fleet_results names it)."""
    from ansible_collections.nslab.net.plugins.filter.topology import lab_records
    from ansible_collections.nslab.net.plugins.module_utils._lab.topology import DEFAULTS

    plan = lab_topology(topo(faults=["no-forwarding"]))
    probe = dict(fact="host -> namespace", ok=True)
    measured = dict(results=[dict(changed=True), dict(results=[probe], uplink=dict(address="203.0.113.10"))])
    hostvars = {
        "ok": dict(nslab_plan=lab_topology(dict(DEFAULTS)), nslab_built=measured, nslab_report_strict="false"),
        "faulted": dict(nslab_plan=plan, nslab_built=measured),
        "gone": dict(nslab_plan=plan, nslab_built=dict(unreachable=True, msg="ssh: no route")),
        "failed": dict(nslab_plan=plan, nslab_built=dict(failed=True, msg="the kernel said no")),
        "rescued": dict(nslab_plan={}, nslab_built=dict(failed=True, msg="x"),
                        nslab_failure=dict(stage="build", task="t", msg="nslab_gateway: wrong")),
        "never": {},
    }
    records = {r["host"]: r for r in lab_records(list(hostvars), hostvars)}
    assert sorted(records) == ["failed", "faulted", "gone", "ok", "rescued"]
    assert records["ok"]["results"] == [probe] and records["ok"]["failure"] is None
    assert records["ok"]["strict"] is False and records["faulted"]["strict"] is False      # faults: never strict
    assert records["faulted"]["faults"] == ["no-forwarding"] and records["faulted"]["lab_stage"] == "publish"
    assert records["ok"]["outside"][0]["target"] == "203.0.113.10"
    assert records["gone"]["failure"] == dict(stage="connect", task="", msg="ssh: no route", unreachable=True)
    assert records["gone"]["results"] is None and records["gone"]["outside"] == []
    assert records["failed"]["failure"] == dict(stage="build", task="", msg="the kernel said no", unreachable=False)
    assert records["rescued"]["failure"]["msg"] == "nslab_gateway: wrong"
    checked = {r["host"]: r for r in lab_records(["ok"], hostvars, check_mode=True)}
    assert checked["ok"]["results"] is None and checked["ok"]["check_mode"] is True
    absent = dict(hostvars["ok"], nslab_state="absent")
    assert lab_records(["ok"], {"ok": absent})[0]["results"] is None


def test_a_default_entry_that_names_a_renamed_namespace_says_it_is_the_default_and_what_overrides_it():
    web = [{"name": "web", "address": "192.168.0.9"}]
    with pytest.raises(Invalid) as exc:
        lab_topology(topo(namespaces=web, published_ports=None, demo_services=None))
    assert str(exc.value) == (
        "nslab_published_ports[0].namespace: 'netns1' is not one of nslab_namespaces (web): this is the default lab's "
        "entry, used because nslab_published_ports is not set; set nslab_published_ports (with nslab_demo_services for "
        "the services behind them) for your namespaces, or [] for none")
    with pytest.raises(Invalid) as exc:
        lab_topology(topo(namespaces=web, published_ports=[], demo_services=None))
    assert "used because nslab_demo_services is not set; set nslab_demo_services for your namespaces" in str(exc.value)
    with pytest.raises(Invalid) as exc:                          # an entry the user wrote: no word of defaults
        lab_topology(topo(namespaces=web, published_ports=[{"namespace": "netns9", "port": 80}]))
    assert str(exc.value) == "nslab_published_ports[0].namespace: 'netns9' is not one of nslab_namespaces (web)"
    assert lab_topology(topo(namespaces=web, published_ports=[], demo_services=[]))["published"] == []


def test_each_step_says_what_its_entries_come_from_in_the_users_variables():
    """A step's ``about`` maps its options to the nslab_ variables they were made from (the batch module says a
    refusal in those words); a published port that no demo service serves says so in its probes."""
    from types import SimpleNamespace

    from ansible_collections.nslab.net.plugins.module_utils._entry.batch import in_words
    from ansible_collections.nslab.net.plugins.module_utils._lab.steps import steps
    two = [NETNS1, {"name": "netns2", "address": "192.168.0.3"}]
    plan = lab_topology(topo(namespaces=two, published_ports=[{"namespace": "netns2", "port": 8080, "target_port": 80}],
                             demo_services=[]))
    about = {s["module"] + str(i): s.get("about", {}) for i, s in enumerate(steps(plan))}
    assert about["netns0"]["items[1]"] == "nslab_namespaces[1] (netns2)"
    assert about["bridge_port2"]["items[0].address"] == "nslab_gateway"
    assert about["bridge_port2"]["items[2]"] == "nslab_namespaces[1] (netns2)'s veth on nslab_bridge"
    assert about["ns_route3"]["items[0]"] == "nslab_namespaces[0] (netns1)'s default route via nslab_gateway 192.168.0.1"
    assert about["nat_rule9"] == {"items[0]": "nslab_published_ports[0] (tcp/8080 to netns2)",
                                  "items[1]": "nslab_published_ports[0] (tcp/8080 to netns2)"}
    module = SimpleNamespace(params=dict(steps=[dict(about=about["bridge_port2"])] * 3))
    said = in_words(module, 2, "bridge_port", "items[0].address[0]: 10.0.0.1/24 overlaps ...", "nothing was changed")
    assert said == "nslab_gateway: 10.0.0.1/24 overlaps ... (steps[2] bridge_port items[0].address[0]; nothing was changed)"
    assert in_words(module, 2, "bridge_port", "no path here") == "steps[2] (bridge_port): no path here"
    outside = probes(plan, {"target": "198.51.100.10"})["outside"]
    assert outside[0]["when_refused"] == (
        "nothing serves netns2's 192.168.0.3:80, which nslab_published_ports[0] publishes: nslab_demo_services has "
        "no service there - add {namespace: netns2, port: 80} to it, or start your own")
    served = lab_topology(topo(published_ports=[{"namespace": "netns1", "port": 80}],
                               demo_services=[{"namespace": "netns1", "port": 80}]))
    assert "when_refused" not in probes(served, {"target": "198.51.100.10"})["outside"][0]
