"""Which foreign nftables base chains drop the lab's traffic, and what the refusal says (firewalls.py)."""

from __future__ import annotations

from ansible_collections.nslab.net.plugins.module_utils.firewalls import blockers, firewalld_opened, refusal
from ansible_collections.nslab.net.plugins.module_utils.nat import NftState


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


def test_firewalld_is_asked_through_firewall_cmd_which_zone_holds_the_bridge():
    state = ruleset(("inet", "firewalld", "filter_FORWARD", "forward", "accept",
                     [[{"jump": {"target": "filter_FORWARD_ZONES"}}], [{"reject": None}]]),
                    ("inet", "filter", "forward", "forward", "drop", []))
    found = blockers(state.base_chains, {"br0"})
    answers = {("firewall-cmd", "--get-zone-of-interface=br0"): (0, "trusted\n"),
               ("firewall-cmd", "--permanent", "--zone=trusted", "--get-target"): (0, "ACCEPT\n")}
    left = firewalld_opened(found, lambda argv: answers[tuple(argv)])
    assert [(b["table"], b["chain"]) for b in left] == [("filter", "forward")], "firewalld says br0 is accepted"
    public = {("firewall-cmd", "--get-zone-of-interface=br0"): (0, "public\n"),
              ("firewall-cmd", "--permanent", "--zone=public", "--get-target"): (0, "default\n")}
    assert len(firewalld_opened(found, lambda argv: public[tuple(argv)])) == 2
    assert len(firewalld_opened(found, lambda argv: (2, "no zone\n"))) == 2
    text = refusal(found, "the host namespace")
    assert text.count("firewall-cmd --zone=trusted --add-interface=br0") == 1
