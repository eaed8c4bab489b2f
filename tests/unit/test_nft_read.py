"""natstate.list_ruleset: what nat_rule reads of nftables, without the rules it does not read. nft lists every rule
of every table for ``list ruleset``, iptables-nft's DNAT rules included (0.3 s at 1000 of them, in every run);
the reader lists the chains, then only the tables whose rules it reads. A fake nft answers from one ruleset."""

from __future__ import annotations

import json

import pytest

from ansible_collections.nslab.net.plugins.module_utils._nat.natstate import NftState, list_ruleset


def table(family, name, *chains):
    """A table's objects as nft -j lists them: chains are (name, hook or None, policy, [rules' expressions])."""
    out = [{"table": {"family": family, "name": name, "handle": 1}}]
    rules = []
    for handle, (chain, hook, policy, exprs) in enumerate(chains, start=1):
        spec = {"family": family, "table": name, "name": chain, "handle": handle}
        if hook:
            spec.update(type="filter", hook=hook, prio=0, policy=policy)
        out.append({"chain": spec})
        rules += [{"rule": {"family": family, "table": name, "chain": chain, "handle": 100 * handle + i, "expr": e,
                            **({"comment": c} if c else {})}} for i, (e, c) in enumerate(exprs)]
    return out + rules


DNAT = ([{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}},
         {"dnat": {"addr": "10.0.0.2", "port": 80}}], None)
OURS = ([{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8081}},
         {"dnat": {"family": "ip", "addr": "10.0.0.3", "port": 80}}],
        "nslab:lab1:dnat:k1 publish")
ACCEPT, DROP = ([{"accept": None}], None), ([{"drop": None}], None)

RULESETS = {
    "iptables-nft rules, a firewall, ours": (
        table("ip", "nat", ("PREROUTING", "prerouting", "accept", [DNAT] * 3), ("NSLAB-DNAT", None, None, [DNAT]))
        + table("ip", "filter", ("FORWARD", "forward", "drop", [ACCEPT]))
        + table("inet", "firewalld", ("filter_FORWARD", "forward", "accept", [ACCEPT, DROP]), ("helper", None, None, [DROP]))
        + table("inet", "nslab", ("prerouting", "prerouting", "accept", [OURS]), ("forward_filter", "forward", "accept", []))
        + table("bridge", "filter", ("FORWARD", "forward", "accept", [DROP]))
        + table("inet", "user", ("regular", None, None, [DROP]))),
    "only iptables-nft": table("ip", "nat", ("POSTROUTING", "postrouting", "accept", [DNAT])),
    "nothing": [],
}


class FakeNft:
    """nft -j over one ruleset; ``failing``: the listings that fail (a table gone meanwhile...)."""

    def __init__(self, objects, failing=()):
        self.objects = [{"metainfo": {"json_schema_version": 1}}] + objects
        self.failing = list(failing)
        self.asked: list[list[str]] = []

    def whole(self):
        self.asked.append(["list", "ruleset"])
        return json.dumps({"nftables": self.objects})

    def __call__(self, args):
        self.asked.append(args)
        if args in self.failing:
            return None
        if args == ["list", "chains"]:
            found = [o for o in self.objects if "chain" in o]
        elif args[:2] == ["list", "table"]:
            family, name = args[2:]
            found = [o for o in self.objects if (o.get("table", {}).get("family"), o.get("table", {}).get("name")) == (family, name)
                     or any(kind in o and (o[kind]["family"], o[kind]["table"]) == (family, name) for kind in ("chain", "rule"))]
        else:
            raise AssertionError(f"nft {args}: not what the reader asks")
        return json.dumps({"nftables": [self.objects[0]] + found})


def summary(state: NftState) -> dict:
    return dict(ours=state.ours, table=state.table, chains=state.chains, native=state.native,
                drop_forward=state.drop_forward, base_chains=state.base_chains)


@pytest.mark.parametrize("name", RULESETS)
def test_it_reads_what_the_whole_ruleset_reads(name):
    nft = FakeNft(RULESETS[name])
    assert summary(NftState(list_ruleset(nft, nft.whole))) == summary(NftState({"nftables": nft.objects}))


def test_it_lists_only_the_tables_whose_rules_it_reads():
    nft = FakeNft(RULESETS["iptables-nft rules, a firewall, ours"])
    list_ruleset(nft, nft.whole)
    assert nft.asked == [["list", "chains"], ["list", "table", "inet", "firewalld"], ["list", "table", "inet", "nslab"],
                         ["list", "table", "bridge", "filter"]]


@pytest.mark.parametrize("failing", [["list", "chains"], ["list", "table", "inet", "nslab"]])
def test_a_listing_that_fails_reads_the_whole_ruleset(failing):
    nft = FakeNft(RULESETS["iptables-nft rules, a firewall, ours"], failing=[failing])
    assert summary(NftState(list_ruleset(nft, nft.whole))) == summary(NftState({"nftables": nft.objects}))
    assert nft.asked[-1] == ["list", "ruleset"]
