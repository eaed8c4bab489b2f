# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nftables backend of nat_rule: ``nft`` in one namespace (``NftBackend``: the ruleset read as JSON, one ``nft -f``
batch), a nat_rule item's rules in the table ``inet nslab`` (``rules_of``), and the namespace's NAT behind the common
interface (``NftNat``, a :class:`natbackend.NatBackend`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._host.errors import Failure, known, where
from ansible_collections.nslab.net.plugins.module_utils._nat.natbackend import NatBackend
from ansible_collections.nslab.net.plugins.module_utils._nat.natstate import NFT_CHAINS, NFT_TABLE, NftState, list_ruleset
from ansible_collections.nslab.net.plugins.module_utils._host.tools import which
from ansible_collections.nslab.net.plugins.module_utils._host.validate import port_text, target_text

if TYPE_CHECKING:
    from ansible_collections.nslab.net.plugins.module_utils._host.tools import Tools
    from ansible_collections.nslab.net.plugins.module_utils._nat.rule import Rule


class _Rules:
    """One nat_rule item's rules in this backend (chain key, rule spec), from ``rule.Rule``'s item and tag."""

    def __init__(self, rule: Rule):
        self.item, self.type, self.family, self.comment = rule.item, rule.type, rule.family, rule.comment

    def _nft_addr(self, field: str, value: str | None) -> list[str]:
        return [f"{'ip' if self.family == 4 else 'ip6'} {field} {value}"] if value else []

    @staticmethod
    def _nft_iface(field: str, name: str | None) -> list[str]:
        if not name:
            return []
        return [f'{field} != "{name[1:]}"'] if name.startswith("!") else [f'{field} "{name}"']

    def _nft_l4(self, direction: str = "dport", ports: tuple[int, int] | None = None) -> list[str]:
        proto = self.item["protocol"]
        if not proto:
            return []
        ports = ports if ports is not None else self.item["port"]
        if ports and proto in ("tcp", "udp", "sctp"):
            return [f"{proto} {direction} {port_text(ports)}"]
        return [f"meta l4proto {proto}"]

    def nft_rules(self) -> list[tuple[str, str]]:
        it = self.item
        fam = [f"meta nfproto {'ipv4' if self.family == 4 else 'ipv6'}"]
        src, dst = self._nft_addr("saddr", it["source"]), self._nft_addr("daddr", it["destination"])
        tag = [f'comment "{self.comment}"']
        est = ["ct state established,related"]
        rules = []
        ipkw = "ip" if self.family == 4 else "ip6"
        if self.type in ("masquerade", "snat"):
            target = ["masquerade"] if self.type == "masquerade" else [f"snat {ipkw} to {target_text(it['to'])}"]
            rules.append(("post", fam + src + dst + self._nft_iface("oifname", it["out_interface"]) + self._nft_l4()
                          + target + tag))
            if it["source"] or it["out_interface"]:
                rules.append(("fwd", fam + src + dst + self._nft_iface("oifname", it["out_interface"]) + self._nft_l4()
                              + ["accept"] + tag))
                back = self._nft_addr("daddr", it["source"]) + self._nft_iface("iifname", it["out_interface"])
                rules.append(("fwd", fam + back + est + ["accept"] + tag))
        elif self.type == "dnat":
            rules.append(("pre", fam + src + dst + self._nft_iface("iifname", it["in_interface"]) + self._nft_l4()
                          + [f"dnat {ipkw} to {target_text(it['to'])}"] + tag))
            addr, to_ports = it["to"]
            ports = to_ports or it["port"]
            rules.append(("fwd", fam + self._nft_addr("daddr", addr) + self._nft_l4(ports=ports)
                          + ["ct status dnat", "accept"] + tag))
            rules.append(("fwd", fam + self._nft_addr("saddr", addr) + self._nft_l4("sport", ports=ports) + est
                          + ["accept"] + tag))
        else:
            rules.append(("fwd", fam + src + dst + self._nft_iface("iifname", it["in_interface"])
                          + self._nft_iface("oifname", it["out_interface"]) + self._nft_l4()
                          + ["drop" if self.type == "drop" else "accept"] + tag))
        return [(chain, " ".join(parts)) for chain, parts in rules]


def rules_of(rule: Rule) -> list[tuple[str, str]]:
    """[(chain key, rule spec)] of a ``rule.Rule`` in the table inet nslab."""
    return _Rules(rule).nft_rules()


class NftBackend:
    """nft in one namespace: the ruleset read as JSON, a batch applied with nft -f."""

    def __init__(self, tools: Tools):
        self.tools = tools
        self.nft = which("nft")

    def available(self) -> bool:
        return bool(self.nft)

    def read(self) -> NftState:
        """The namespace's ruleset as nat_rule reads it (``natstate.list_ruleset``: the chains, then the tables
        whose rules it reads)."""
        if not self.tools.ctx.readable(self.tools.ns) or not self.available():
            return NftState(None)
        try:
            return NftState(list_ruleset(self.attempt, lambda: self.json(["list", "ruleset"])))
        except ValueError as exc:
            raise Failure(f"cannot parse 'nft -j list' output in {where(self.tools.ns)}: {exc}") from None

    def json(self, args: list[str]) -> str:
        return self.tools.run([known(self.nft), "-j", *args])[1]      # available()

    def attempt(self, args: list[str]) -> str | None:
        rc, out, _err = self.tools.run([known(self.nft), "-j", *args], check=False)
        return out if rc == 0 else None

    def native_table(self) -> bool:
        """Whether the namespace has an nftables table of another tool than iptables-nft, without a chain too
        (which :meth:`read` does not see)."""
        if not self.tools.ctx.readable(self.tools.ns) or not self.available():
            return False
        try:
            return NftState(json.loads(self.json(["list", "tables"]) or "{}")).native
        except ValueError as exc:
            raise Failure(f"cannot parse 'nft -j list tables' output in {where(self.tools.ns)}: {exc}") from None

    def batch(self, state: NftState, remove_keys: set, add: list, lab: str) -> str:
        remaining = {k for k, e in state.ours.items() if not (e["lab"] == lab and k in remove_keys)}
        out = []
        if not remaining and not add:
            if state.table:
                out.append(f"delete table inet {NFT_TABLE}")
            return "\n".join(out) + ("\n" if out else "")
        out.append(f"add table inet {NFT_TABLE}")
        for name, spec in NFT_CHAINS.values():
            out.append(f"add chain inet {NFT_TABLE} {name} {{ {spec} }}")
        for key in sorted(remove_keys):
            entry = state.ours.get(key)
            if entry and entry["lab"] == lab:
                for chain, handle in entry["handles"]:
                    out.append(f"delete rule inet {NFT_TABLE} {chain} handle {handle}")
        for rule in add:
            for chain, spec in rules_of(rule):     # a drop rule is ahead of every accept
                verb = "insert" if rule.type == "drop" else "add"
                out.append(f"{verb} rule inet {NFT_TABLE} {NFT_CHAINS[chain][0]} {spec}")
        return "\n".join(out) + "\n"

    def write(self, text: str) -> None:
        self.tools.run([known(self.nft), "-f", "-"], stdin=text)      # a backend written with is available()


class NftNat(NatBackend):
    """A namespace's NAT in nftables: the table inet nslab (``ipt_states``: the namespace's iptables, read too)."""

    name = "nftables"

    def __init__(self, ns: str | None, backend: NftBackend, state: NftState, ipt_states: dict | None = None):
        self.ns, self.backend, self.state, self.ipt_states = ns, backend, state, ipt_states or {}

    @classmethod
    def open(cls, ns: str | None, read: dict) -> NftNat:
        if not read["nft"].available():
            raise Failure("backend nftables: nft is not installed on the managed host")
        return cls(ns, read["nft"], read["nft_state"], read["ipt_state"])

    def ours(self) -> dict:
        return self.state.ours

    def rule_count(self, rule: Rule) -> int:
        return len(rules_of(rule))

    def render(self, remove: set, add: list, lab: str) -> list[tuple]:
        """One nft -f for the whole namespace."""
        text = self.backend.batch(self.state, remove, add, lab)
        return [(f"nft -f in {where(self.ns)}", lambda: self.backend.write(text))] if text else []

    def forward_blockers(self, bridges: set) -> list[dict]:
        """Its accepts are in its own table; the other tools' chains are judged apart (``firewalls.blockers``)."""
        return []

    def cannot_open(self) -> str | None:
        if any(state.forward_drop for state in self.ipt_states.values()):
            return (f"backend nftables cannot open forwarding in {where(self.ns)}: the iptables FORWARD policy is DROP "
                    "there and an nftables accept does not override it; use backend iptables (or auto) on this host")
        return None
