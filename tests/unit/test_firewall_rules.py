"""Which foreign nftables base chains drop the lab's traffic, and what the refusal says (firewalls.py)."""

from __future__ import annotations

from ansible_collections.nslab.net.plugins.module_utils._nat.firewalls import Firewalld, blockers, integrate, refusal
from ansible_collections.nslab.net.plugins.module_utils._nat.natstate import NftState


def meta(key, name, op="=="):
    return {"match": {"op": op, "left": {"meta": {"key": key}}, "right": name}}


ACCEPT, DROP, COUNTER = {"accept": None}, {"drop": None}, {"counter": {"packets": 0, "bytes": 0}}


def ruleset(*chains):
    """nft -j list ruleset of tables with base chains: (family, table, name, hook, policy, [rules])."""
    out = [{"metainfo": {"json_schema_version": 1}}]
    for family, table, name, hook, policy, rules in chains:
        out.append({"table": {"family": family, "name": table, "handle": 1}})
        out.append({"chain": {"family": family, "table": table, "name": name, "handle": 1, "type": "filter",
                              "hook": hook, "prio": 0, "policy": policy}})
        out += [{"rule": {"family": family, "table": table, "chain": name, "handle": i + 2, "expr": expr}}
                for i, expr in enumerate(rules)]
    return NftState({"nftables": out})


def test_a_drop_policy_on_forward_and_input_blocks_until_the_bridge_is_accepted_both_ways():
    state = ruleset(("inet", "filter", "forward", "forward", "drop", [[meta("iifname", "br0"), ACCEPT]]),
                    ("inet", "filter", "input", "input", "drop", [[meta("iifname", "lo"), ACCEPT]]))
    found = blockers(state.base_chains, {"br0"})
    assert [(b["chain"], b["missing"]) for b in found] == [("forward", [("oifname", "br0")]),
                                                           ("input", [("iifname", "br0")])]
    text = refusal(found, "the host namespace")
    assert "nft insert rule inet filter forward oifname br0 accept" in text
    assert "nft insert rule inet filter input iifname br0 accept" in text
    assert "base chain inet filter forward (hook forward, policy drop)" in text and "never edits" in text
    opened = ruleset(("inet", "filter", "forward", "forward", "drop",
                      [[meta("iifname", "br0"), ACCEPT], [COUNTER, meta("oifname", {"set": ["br0", "eth9"]}, "in"), ACCEPT]]))
    assert blockers(opened.base_chains, {"br0"}) == []


def test_firewalld_s_last_reject_blocks_and_the_fix_is_firewall_cmd():
    state = ruleset(("inet", "firewalld", "filter_FORWARD", "forward", "accept",
                     [[{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}},
                       ACCEPT], [{"reject": {"type": "icmpx", "expr": "admin-prohibited"}}]]))
    found = blockers(state.base_chains, {"br0"})
    assert found and found[0]["why"] == "its last rule rejects every packet"
    text = refusal(found, "the host namespace")
    assert text.startswith("firewalld in the host namespace would drop the lab's egress and published ports")
    assert "firewall-cmd --zone=trusted --add-interface=br0" in text


def test_what_does_not_drop_the_lab_is_left_alone():
    state = ruleset(("inet", "user", "user_fwd", "forward", "accept", [[meta("iifname", "eth7"), DROP]]),  # conditional
                    ("inet", "user", "user_out", "output", "drop", []),                   # a hook the lab does not need
                    ("ip", "filter", "FORWARD", "forward", "drop", []),                  # iptables-nft: the iptables backend's
                    ("inet", "nslab", "forward_filter", "forward", "accept", []))        # ours
    assert blockers(state.base_chains, {"br0"}) == []
    assert ("ip", "filter", "FORWARD") not in state.base_chains and ("inet", "nslab", "forward_filter") not in state.base_chains


FIREWALLD_FORWARD = ("inet", "firewalld", "filter_FORWARD", "forward", "accept",
                     [[{"jump": {"target": "filter_FORWARD_ZONES"}}], [{"reject": None}]])


class FakeFirewalld(Firewalld):
    """firewall-cmd's answers: zones bound per interface, targets per zone; the calls it was asked."""

    def __init__(self, zones=None, targets=None):
        self.bound, self.zone_targets, self.asked = dict(zones or {}), dict(targets or {"trusted": "ACCEPT"}), []
        super().__init__(self.answer)

    def answer(self, args):
        self.asked.append(args)
        if args[0].startswith("--get-zone-of-interface="):
            zone = self.bound.get(args[0].split("=", 1)[1])
            return (0, zone + "\n") if zone else (2, "no zone\n")
        zone = args[1].split("=", 1)[1]
        return (0, self.zone_targets[zone] + "\n") if zone in self.zone_targets else (112, "INVALID_ZONE\n")


def test_firewalld_is_asked_through_firewall_cmd_which_zone_holds_the_bridge():
    state = ruleset(FIREWALLD_FORWARD, ("inet", "filter", "forward", "forward", "drop", []))
    found = blockers(state.base_chains, {"br0"})
    left, changes, record = integrate(found, FakeFirewalld({"br0": "trusted"}), "fail", "nslab", {}, {"br0"}, False)
    assert [(b["table"], b["chain"]) for b in left] == [("filter", "forward")], "firewalld says br0 is accepted"
    assert changes == [] and record == {}, "a binding someone else made is not recorded as the lab's"
    left, changes, _record = integrate(found, FakeFirewalld({"br0": "public"}, {"public": "default"}), "integrate",
                                       "nslab", {}, {"br0"}, False)
    assert len(left) == 2 and changes == [], "a bridge someone bound to another zone stays there"
    text = refusal(left, "the host namespace")
    assert "firewall-cmd --zone=trusted --change-interface=br0 (br0 is in firewalld zone public" in text
    left, _changes, _record = integrate(found, FakeFirewalld(), "fail", "nslab", {}, {"br0"}, False)
    text = refusal(left, "the host namespace")
    assert text.count("firewall-cmd --zone=trusted --add-interface=br0") == 1
    assert "or firewall: integrate (the roles: nslab_firewall: integrate)" in text


def test_integrate_binds_an_unbound_bridge_to_trusted_once_and_records_the_lab():
    found = blockers(ruleset(FIREWALLD_FORWARD, ("inet", "firewalld", "filter_INPUT", "input", "accept",
                                                 [[{"reject": None}]])).base_chains, {"br0"})
    assert len(found) == 2, "forward and input both reject"
    firewalld = FakeFirewalld()
    left, changes, record = integrate(found, firewalld, "integrate", "nslab", {}, {"br0"}, True)
    assert left == [] and changes == [dict(action="add", interface="br0", zone="trusted")]
    assert record == {"br0": {"zone": "trusted", "labs": ["nslab"]}}
    assert all(not args[-1].startswith("--add") for args in firewalld.asked), "planning changes nothing"
    # applied: firewalld now holds br0 in trusted; a re-run changes nothing, the ingress lab joins the record
    bound = FakeFirewalld({"br0": "trusted"})
    assert integrate(found, bound, "integrate", "nslab", record, {"br0"}, True) == ([], [], record)
    _left, changes, joined = integrate(found, bound, "integrate", "nslab-in", record, {"br0"}, True)
    assert changes == [] and joined == {"br0": {"zone": "trusted", "labs": ["nslab", "nslab-in"]}}
    # teardown: the first lab to go leaves the binding to the other; the last one unbinds it
    _left, changes, after = integrate([], bound, "integrate", "nslab", joined, set(), True)
    assert changes == [] and after == {"br0": {"zone": "trusted", "labs": ["nslab-in"]}}
    _left, changes, after = integrate([], bound, "fail", "nslab-in", after, set(), True)
    assert changes == [dict(action="remove", interface="br0", zone="trusted")] and after == {}


def test_a_binding_firewalld_forgot_is_made_again_and_not_undone_twice():
    found = blockers(ruleset(FIREWALLD_FORWARD).base_chains, {"br0"})
    record = {"br0": {"zone": "trusted", "labs": ["nslab"]}}
    _left, changes, after = integrate(found, FakeFirewalld(), "integrate", "nslab", record, {"br0"}, False)
    assert changes == [dict(action="add", interface="br0", zone="trusted")] and after == record
    _left, changes, after = integrate([], FakeFirewalld(), "integrate", "nslab", record, set(), True)
    assert changes == [] and after == {}, "nothing to unbind after a firewalld restart; the record goes"
    _left, changes, after = integrate([], FakeFirewalld({"br0": "trusted"}), "integrate", "nslab", record, set(), False)
    assert changes == [] and after == record, "without purge or removal the lab keeps what it relies on"


def test_integrate_does_not_use_a_trusted_zone_that_does_not_accept():
    found = blockers(ruleset(FIREWALLD_FORWARD).base_chains, {"br0"})
    left, changes, record = integrate(found, FakeFirewalld(targets={"trusted": "default"}), "integrate", "nslab",
                                      {}, {"br0"}, False)
    assert changes == [] and record == {} and len(left) == 1
    assert "zone trusted has target default, not ACCEPT" in refusal(left, "the host namespace")


def test_native_nftables_tables_are_never_integrated():
    found = blockers(ruleset(("inet", "filter", "forward", "forward", "drop", [])).base_chains, {"br0"})
    left, changes, _record = integrate(found, FakeFirewalld(), "integrate", "nslab", {}, {"br0"}, False)
    assert changes == [] and left == found
