"""The batch module against the real kernel: several module calls in one pass behave as
the same calls made one by one (actions, results, kernel state), in check mode too; bad
input in any step stops the batch before anything changes; a failing step names itself."""

from __future__ import annotations

import pytest

from nslabtest import lab_state

SEED000 = [
    dict(module="netns", args=dict(items=[dict(name="netns0"), dict(name="netns1")], dns=["127.0.0.1"], purge=True)),
    dict(module="veth", args=dict(items=[
        dict(name="veth0", peer="ceth0", peer_netns="netns0", peer_address=["172.18.0.2/16"]),
        dict(name="veth1", peer="ceth1", peer_netns="netns1", peer_address=["172.18.0.3/16"])], purge=True)),
    dict(module="bridge_port", args=dict(bridge="br0", items=[dict(address=["172.18.0.1/16"]), dict(port="veth0"),
                                                              dict(port="veth1")], purge=True)),
    dict(module="ns_route", args=dict(items=[dict(netns="netns0", dst="default", gateway="172.18.0.1"),
                                             dict(netns="netns1", dst="default", gateway="172.18.0.1")], purge=True)),
    dict(module="ns_sysctl", args=dict(name="net.ipv4.ip_forward", value=1)),
    dict(module="nat_rule", args=dict(items=[dict(type="masquerade", source="172.18.0.0/16", out_interface="lo")],
                                      purge=True)),
]
TEARDOWN = [dict(module=m, args=dict(items=[], purge=True)) for m in ("nat_rule", "veth", "bridge_port", "netns")]


def test_batch_four_times_and_same_as_the_modules_one_by_one(mod):
    first_check = mod("batch", check=True, steps=SEED000)
    assert first_check["changed"] and [r["module"] for r in first_check["results"]] == [s["module"] for s in SEED000]
    assert mod.sh("ip netns list").stdout == ""                      # check mode changed nothing
    applied = mod("batch", steps=SEED000)
    assert applied["changed"] and applied["actions"] == first_check["actions"]
    assert applied["actions"] == [a for r in applied["results"] for a in r["actions"]]
    assert [d["before_header"] for d in applied["diff"]] == [f"steps[{i}] {s['module']}" for i, s in enumerate(SEED000)]
    assert applied["diff"] == first_check["diff"]
    assert mod.sh("ip netns exec netns0 ping -c1 -W2 172.18.0.3").returncode == 0     # ns <-> ns over the bridge
    assert mod.sh("ip netns exec netns1 ping -c1 -W2 172.18.0.1").returncode == 0     # ns <-> host
    again_check = mod("batch", check=True, steps=SEED000)
    assert not again_check["changed"], again_check["actions"]
    again = mod("batch", steps=SEED000)
    assert not again["changed"] and again["actions"] == []
    assert all(d["before"] == d["after"] for d in again["diff"])
    batched = lab_state(mod.sandbox)

    down = mod("batch", steps=TEARDOWN)
    assert down["changed"] and mod.sh("ip netns list").stdout == ""
    mod.sh("sysctl -qw net.ipv4.ip_forward=0")                       # teardown leaves forwarding on purpose
    one_by_one = []
    for step in SEED000:
        one_by_one += mod(step["module"], **step["args"])["actions"]
    assert one_by_one == applied["actions"]
    assert lab_state(mod.sandbox) == batched
    assert not mod("batch", steps=SEED000)["changed"]                 # the batch agrees with what they made


def test_batch_refuses_bad_input_in_any_step_before_any_change(mod):
    bad_option = SEED000[:2] + [dict(module="bridge_port", args=dict(bridge="br0", prot="veth0"))]
    r = mod("batch", expect_fail=True, steps=bad_option)
    assert r["msg"].startswith("steps[2].args: (bridge_port)") and "prot" in r["msg"], r["msg"]
    bad_value = SEED000[:3] + [dict(module="ns_route", args=dict(netns="netns0", dst="default", gateway="172.18.0.300"))]
    r = mod("batch", expect_fail=True, steps=bad_value)
    assert r["msg"].startswith("steps[3].args: (ns_route) gateway:"), r["msg"]
    r = mod("batch", expect_fail=True, steps=[dict(module="sandbox", args={})])
    assert "steps" in r["msg"] and "netns" in r["msg"], r["msg"]
    assert mod.sh("ip netns list").stdout == "" and mod.sh("ip link show br0", check=False).returncode != 0


def test_a_refused_later_step_refuses_the_whole_batch_before_any_change(mod):
    mod("batch", steps=SEED000)
    mod.sh("ip link add br1 type veth peer name br1peer")                              # someone else's link in the way
    before = lab_state(mod.sandbox)
    moved = [dict(module="netns", args=dict(items=[dict(name="netns0")], purge=True)),     # would delete netns1
             dict(module="veth", args=dict(purge=True, items=[
                 dict(name="veth0", peer="ceth0", peer_netns="netns0", peer_address=["172.18.0.9/16"])])),
             dict(module="bridge_port", args=dict(bridge="br1", items=[dict(port="veth0")]))]
    r = mod("batch", expect_fail=True, steps=moved)
    assert r["failed_step"] == 2 and r["msg"].startswith("steps[2] (bridge_port): "), r["msg"]
    assert "br1" in r["msg"] and "not made by nslab.net" in r["msg"] and "nothing was changed" in r["msg"]
    assert not r["changed"] and r["actions"] == [] and r["results"] == []
    assert lab_state(mod.sandbox) == before                          # netns1 and its veth are still there
    assert "veth" in mod.sh("ip -d link show br1").stdout                # left untouched
    mod.sh("ip link del br1")
    assert mod("batch", steps=moved)["changed"]                       # the same batch applies once it is gone
    assert "netns1" not in mod.sh("ip netns list").stdout


def test_steps_that_change_nothing_then_a_change_then_a_refusal_change_nothing(mod):
    """The rehearsal starts at the first step that would change something: the unchanged steps
    before it were planned for real, the refused one after it still stops the batch before that change."""
    mod("batch", steps=SEED000)
    mod.sh("ip link add br1 type veth peer name br1peer")
    before = lab_state(mod.sandbox)
    readdressed = dict(module="veth", args=dict(SEED000[1]["args"], items=[
        dict(SEED000[1]["args"]["items"][0], peer_address=["172.18.0.9/16"]), SEED000[1]["args"]["items"][1]]))
    steps = [SEED000[0], readdressed, dict(module="bridge_port", args=dict(bridge="br1", items=[dict(port="veth0")]))]
    r = mod("batch", expect_fail=True, steps=steps)
    assert r["failed_step"] == 2 and "not made by nslab.net" in r["msg"] and "nothing was changed" in r["msg"], r["msg"]
    assert not r["changed"] and r["actions"] == []
    assert lab_state(mod.sandbox) == before, "the readdressing did not happen"
    mod.sh("ip link del br1")
    done = mod("batch", steps=steps[:2])
    assert done["actions"] == ["delete address 172.18.0.2/16 from ceth0 in netns netns0",
                               "add address 172.18.0.9/16 to ceth0 in netns netns0"], done["actions"]
    assert [r["changed"] for r in done["results"]] == [False, True]


def test_persist_on_a_sandbox_host_is_refused_before_any_change_and_absent_changes_nothing(mod):
    import os

    before, machine = lab_state(mod.sandbox), os.path.exists("/var/lib/nslab")
    r = mod("batch", expect_fail=True, steps=SEED000, persist=dict(state="present"))
    assert "persist: this host is an nslab.net sandbox" in r["msg"] and "nothing was changed" in r["msg"], r["msg"]
    assert "nslab_persist: false" in r["msg"] and not r["changed"] and r["actions"] == []
    assert lab_state(mod.sandbox) == before, "the steps before the refusal did not run"
    kept = mod("batch", steps=SEED000[:1], persist=dict(state="absent"))
    assert kept["persist"] == dict(lab="nslab", part="lab", state="absent", changed=False, unit=None, intent=None,
                                   engine=None)
    assert kept["actions"] and all("netns" in a for a in kept["actions"]), "only the step's own actions"
    assert os.path.exists("/var/lib/nslab") == machine, "the machine's own /var/lib is never written"


def test_disabled_step_is_skipped(mod):
    steps = [dict(SEED000[0])] + [dict(SEED000[4], enabled=False)]
    before = mod.sh("cat /proc/sys/net/ipv4/ip_forward").stdout
    r = mod("batch", steps=steps)
    assert [x["module"] for x in r["results"]] == ["netns"]
    assert mod.sh("cat /proc/sys/net/ipv4/ip_forward").stdout == before


@pytest.mark.parametrize("links", [True, False])
def test_netns_info_finds_the_uplink_with_or_without_the_links(mod, links):
    mod.sh("ip link add up0 type veth peer name up0peer && ip link set up0peer up && ip addr add 198.51.100.7/24 dev up0 && ip link set up0 up && "
           "ip route add default via 198.51.100.1 dev up0 metric 50")
    mod("batch", steps=SEED000[:3])
    r = mod("netns_info", nat=False, namespaces=False, links=links)
    assert r["uplink"] == dict(interface="up0", address="198.51.100.7", gateway="198.51.100.1")
    assert ("links" in r["info"][0]) is links
    assert mod("netns_info", nat=False, namespaces=True, links=links)["info"][1]["lab"] == "nslab"


def test_nat_rule_uplink_follows_the_default_route(mod):
    mod.sh("ip link add up0 type veth peer name up0peer && ip link set up0peer up && ip addr add 198.51.100.7/24 dev up0 "
           "&& ip link set up0 up && ip link add up1 type veth peer name up1peer && ip link set up1peer up "
           "&& ip addr add 203.0.113.9/24 dev up1 && ip link set up1 up")
    items = [dict(type="masquerade", source="10.5.0.0/16", uplink=True),
             dict(type="dnat", uplink=True, protocol="tcp", port=8080, to="10.5.0.2:80")]
    r = mod("nat_rule", expect_fail=True, items=items, purge=True)             # no default route yet
    assert r["msg"].startswith("items[0].uplink: ") and "default route" in r["msg"], r["msg"]
    assert "NSLAB" not in mod.sh("iptables-save -t nat").stdout                  # refused before any change
    mod.sh("ip route add default via 198.51.100.1 dev up0")
    r = mod.four("nat_rule", items=items, purge=True)
    assert [(x["out_interface"], x["destination"]) for x in r["rules"]] == [("up0", None), (None, "198.51.100.7/32")]
    saved = mod.sh("iptables-save -t nat").stdout
    assert any("-o up0" in line and "MASQUERADE" in line for line in saved.splitlines())
    assert "-d 198.51.100.7/32 -p tcp -m tcp --dport 8080" in saved
    mod.sh("ip route replace default via 203.0.113.1 dev up1")                # the uplink moves
    r = mod("nat_rule", items=items, purge=True)
    moved = [(x["out_interface"], x["destination"]) for x in r["rules"]]
    assert r["changed"] and moved == [("up1", None), (None, "203.0.113.9/32")]
    saved = mod.sh("iptables-save -t nat").stdout
    assert "up0" not in saved and "198.51.100.7" not in saved
    assert any("-o up1" in line and "MASQUERADE" in line for line in saved.splitlines())
    assert not mod("nat_rule", items=items, purge=True)["changed"]
    r = mod("nat_rule", expect_fail=True, type="masquerade", source="10.5.0.0/16", uplink=True, out_interface="up0")
    assert r["msg"].startswith("uplink: fills out_interface"), r["msg"]
    r = mod("nat_rule", expect_fail=True, type="forward", in_interface="br0", uplink=True)
    assert r["msg"].startswith("uplink: applies to masquerade, snat, dnat"), r["msg"]


PROBES = dict(module="ns_probe", args=dict(probes=[
    dict(name="host -> netns0", target="172.18.0.2"), dict(name="netns0 -> netns1", netns="netns0", target="172.18.0.3"),
    dict(name="netns1 -> nowhere", netns="netns1", target="172.18.0.99", timeout=0.5)]))


def test_a_probe_step_measures_what_the_steps_before_it_built(mod):
    built = mod("batch", steps=SEED000 + [PROBES])                   # the namespaces exist only after step 0
    probed = built["results"][-1]
    assert built["changed"] and probed["module"] == "ns_probe" and probed["step"] == len(SEED000)
    assert [(r["name"], r["ok"]) for r in probed["results"]] == [
        ("host -> netns0", True), ("netns0 -> netns1", True), ("netns1 -> nowhere", False)]
    assert all(r["ms"] is not None for r in probed["results"][:2]) and probed["results"][2]["ms"] is None
    again = mod("batch", steps=SEED000 + [PROBES])
    assert not again["changed"] and [r["ok"] for r in again["results"][-1]["results"]] == [True, True, False]


def test_a_bad_probe_stops_the_batch_before_any_change(mod):
    bad = dict(module="ns_probe", args=dict(probes=[dict(name="x", target="172.18.0.2", kind="icmp")]))
    r = mod("batch", expect_fail=True, steps=SEED000 + [bad])
    assert r["msg"].startswith(f"steps[{len(SEED000)}]") and "kind" in r["msg"], r["msg"]
    assert mod.sh("ip netns list").stdout == ""


def test_a_namespace_no_earlier_step_creates_refuses_the_batch_before_any_change(mod):
    steps = [dict(module="netns", args=dict(items=[dict(name="a")])),
             dict(module="veth", args=dict(items=[dict(name="va", peer="ca", peer_netns="a"),
                                                  dict(name="vb", peer="cb", peer_netns="b")]))]
    r = mod("batch", expect_fail=True, steps=steps)
    assert r["msg"].startswith("steps[1] (veth): items[1].peer_netns: namespace 'b' does not exist"), r["msg"]
    assert not r["changed"] and mod.sh("ip netns list").stdout == ""       # not even namespace a
    steps[1]["args"]["items"].pop()
    assert mod("batch", steps=steps)["changed"]                            # a created, then used by step 1
