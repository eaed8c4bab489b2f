# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The iptables backend of nat_rule: ``iptables-save`` / ``iptables-restore`` per family and variant (``IptablesBackend``),
a nat_rule item's rules in the chains NSLAB-PRE, NSLAB-POST and NSLAB-FWD (``rules_of``), and the namespace's NAT behind
the common interface (``IptablesNat``, a :class:`natbackend.NatBackend`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._nat import firewalls
from ansible_collections.nslab.net.plugins.module_utils._host.errors import Failure, known, where
from ansible_collections.nslab.net.plugins.module_utils._nat.natbackend import NatBackend
from ansible_collections.nslab.net.plugins.module_utils._nat.natstate import IPT_CHAINS, IptablesState, line_tag
from ansible_collections.nslab.net.plugins.module_utils._host.tools import which
from ansible_collections.nslab.net.plugins.module_utils._host.validate import port_text, target_text

if TYPE_CHECKING:
    from ansible_collections.nslab.net.plugins.module_utils._host.tools import Tools
    from ansible_collections.nslab.net.plugins.module_utils._nat.rule import Rule


class _Rules:
    """One nat_rule item's rules in this backend (chain key, rule spec), from ``rule.Rule``'s item and tag."""

    def __init__(self, rule: Rule):
        self.item, self.type, self.family, self.comment = rule.item, rule.type, rule.family, rule.comment

    @staticmethod
    def _ipt_iface(flag: str, name: str | None) -> list[str]:
        if not name:
            return []
        return ["!", flag, name[1:]] if name.startswith("!") else [flag, name]

    def _ipt_l4(self, port: object = None, direction: str = "--dport", ports: tuple[int, int] | None = None) -> list[str]:
        proto = self.item["protocol"]
        if not proto:
            return []
        out = ["-p", proto]
        ports = ports if ports is not None else self.item["port"]
        if ports and proto in ("tcp", "udp", "sctp"):
            out += ["-m", proto, direction, port_text(ports, ":")]
        return out

    def ipt_rules(self) -> list[tuple[str, str]]:
        """[(chain key, rule spec without '-A CHAIN')]."""
        it = self.item
        src = ["-s", it["source"]] if it["source"] else []
        dst = ["-d", it["destination"]] if it["destination"] else []
        tag = ["-m", "comment", "--comment", f'"{self.comment}"']
        est = ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"]
        rules = []
        if self.type in ("masquerade", "snat"):
            target = ["-j", "MASQUERADE"] if self.type == "masquerade" else \
                ["-j", "SNAT", "--to-source", target_text(it["to"])]
            rules.append(("post", src + dst + self._ipt_iface("-o", it["out_interface"]) + self._ipt_l4() + tag + target))
            if it["source"] or it["out_interface"]:
                rules.append(("fwd", src + dst + self._ipt_iface("-o", it["out_interface"]) + self._ipt_l4()
                              + tag + ["-j", "ACCEPT"]))
                back = (["-d", it["source"]] if it["source"] else []) + self._ipt_iface("-i", it["out_interface"])
                rules.append(("fwd", back + est + tag + ["-j", "ACCEPT"]))
        elif self.type == "dnat":
            rules.append(("pre", src + dst + self._ipt_iface("-i", it["in_interface"]) + self._ipt_l4() + tag
                          + ["-j", "DNAT", "--to-destination", target_text(it["to"])]))
            addr, to_ports = it["to"]
            ports = to_ports or it["port"]
            rules.append(("fwd", ["-d", addr] + self._ipt_l4(ports=ports) + ["-m", "conntrack", "--ctstate", "DNAT"]
                          + tag + ["-j", "ACCEPT"]))
            rules.append(("fwd", ["-s", addr] + self._ipt_l4(direction="--sport", ports=ports) + est + tag
                          + ["-j", "ACCEPT"]))
        else:
            verdict = ["-j", "DROP" if self.type == "drop" else "ACCEPT"]
            rules.append(("fwd", src + dst + self._ipt_iface("-i", it["in_interface"])
                          + self._ipt_iface("-o", it["out_interface"]) + self._ipt_l4() + tag + verdict))
        return [(chain, " ".join(parts)) for chain, parts in rules]


def rules_of(rule: Rule) -> list[tuple[str, str]]:
    """[(chain key, rule spec without '-A CHAIN')] of a ``rule.Rule``."""
    return _Rules(rule).ipt_rules()


class IptablesBackend:
    """iptables-save and iptables-restore (one family, one variant) in one namespace."""

    def __init__(self, tools: Tools, family: int, legacy: bool):
        self.tools, self.family = tools, family
        base = "iptables" if family == 4 else "ip6tables"
        if legacy:
            self.save, self.restore = which(f"{base}-legacy-save"), which(f"{base}-legacy-restore")
            self.variant = "legacy"
        else:
            self.save = which(f"{base}-nft-save", f"{base}-save")
            self.restore = which(f"{base}-nft-restore", f"{base}-restore")
            self.variant = "nft"

    def available(self) -> bool:
        return bool(self.save and self.restore)

    def read(self) -> IptablesState:
        if not self.tools.ctx.readable(self.tools.ns) or not self.available():
            return IptablesState("", self.variant, self.family)
        return IptablesState(self.tools.run([known(self.save)])[1], self.variant, self.family)      # available()

    def batch(self, state: IptablesState, remove_keys: set, add: list, lab: str) -> str:
        """The restore text that leaves our chains holding exactly what they hold (every other lab's rules
        too) but the rules of ``lab`` with the keys in ``remove_keys``, plus the rules in ``add``."""
        lines: dict[str, list[str]] = {c: [] for c in IPT_CHAINS}
        for chain, existing in state.chain_lines.items():
            for line in existing:
                tag = line_tag(line)
                if tag is None or tag["lab"] != lab or tag["key"] not in remove_keys:
                    lines[chain].append(line[len("-A "):])
        for rule in add:
            for chain, spec in rules_of(rule):
                lines[chain].append(f"{IPT_CHAINS[chain][1]} {spec}")
        lines["fwd"].sort(key=lambda line: not line.endswith(" -j DROP"))    # a drop rule is ahead of every accept
        out = []
        for table in ("nat", "filter"):
            chains = [c for c, spec in IPT_CHAINS.items() if spec[0] == table]
            body = []
            for c in chains:
                name, base = IPT_CHAINS[c][1:]
                if lines[c]:
                    body.append(f":{name} - [0:0]")
                    body += [f"-A {spec}" for spec in lines[c]]
                    if c not in state.jumps:
                        body.append(f"-I {base} 1 -j {name}")
                elif c in state.chains:
                    if c in state.jumps:
                        body.append(f"-D {state.jumps[c]}")
                    body += [f"-F {name}", f"-X {name}"]
            if body:
                out += [f"*{table}"] + body + ["COMMIT"]
        return "\n".join(out) + "\n" if out else ""

    def write(self, text: str) -> None:
        self.tools.run([known(self.restore), "--noflush", "-w"], stdin=text)      # a backend written with is available()


class IptablesNat(NatBackend):
    """A namespace's NAT in iptables (both families, each in the variant read: iptables-nft or -legacy)."""

    name = "iptables"

    def __init__(self, ns: str | None, backends: dict, states: dict):
        self.ns, self.backends, self.states = ns, backends, states

    @classmethod
    def open(cls, ns: str | None, read: dict) -> IptablesNat:
        if not read["ipt_state"]:
            raise Failure("backend iptables: iptables-save/iptables-restore are not installed on the managed host")
        return cls(ns, read["ipt"], read["ipt_state"])

    def ours(self) -> dict:
        """This collection's rules: key -> entry (lab, type, key, digest, lines...)."""
        merged = {}
        for state in self.states.values():
            merged.update(state.ours)
        return merged

    def rule_count(self, rule: Rule) -> int:
        """How many kernel rules ``rule`` is made of here (fewer found: it is incomplete)."""
        return len(rules_of(rule))

    def render(self, remove: set, add: list, lab: str) -> list[tuple]:
        """The operations (text, fn) that remove ``lab``'s rules with the keys in ``remove`` and add ``add``:
        one iptables-restore --noflush per family."""
        ops = []
        for family, backend in self.backends.items():
            state = self.states.get(family)
            adds = [r for r in add if r.family == family]
            removes = {k for k in remove if state is not None and k in state.ours}
            text = backend.batch(state, removes, adds, lab) if state is not None and (adds or removes) else ""
            if text:
                ops.append((f"{backend.restore} --noflush in {where(self.ns)}", lambda b=backend, t=text: b.write(t)))
        return ops

    def forward_blockers(self, bridges: set) -> list[dict]:
        """ufw or a FORWARD policy DROP: this collection's own NSLAB-FWD chain accepts the lab's flows."""
        return firewalls.iptables_blockers(self.states, bridges)

    def cannot_open(self) -> str | None:
        return None
