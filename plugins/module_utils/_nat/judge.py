# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a nat_rule call reads of a namespace and plans apart from it (``scope``, ``todo``), and the firewalls beside
the lab judged for the lab's links (``lab_bridges``: the links its rules pass traffic through, whatever the call
names), every refusal before any change: foreign nftables drops, firewalld (bound through firewall-cmd), ufw and an
iptables FORWARD DROP with ``firewall: fail`` (firewalls.py says what drops and what to say)."""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Resource
from ansible_collections.nslab.net.plugins.module_utils._host.errors import Conflict, where
from ansible_collections.nslab.net.plugins.module_utils._host.files import read_text, remove_file, replace_file
from ansible_collections.nslab.net.plugins.module_utils._host.readers import carriers, default_devices
from ansible_collections.nslab.net.plugins.module_utils._host.tools import which
from ansible_collections.nslab.net.plugins.module_utils._nat import firewalls
from ansible_collections.nslab.net.plugins.module_utils._nat.natread import lab_rules, read_nat
from ansible_collections.nslab.net.plugins.module_utils._nat.natstate import XTABLES_NAMES

if TYPE_CHECKING:
    from typing import Callable

    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Plan


class FirewallJudge(Resource):
    """The part of the nat_rule resource that reads a namespace's NAT, keeps the call's plan apart from it, and judges
    the firewalls beside the lab (NatResource is the rest: items, rules, plan and report)."""

    #: per namespace read (``id(scope)``), the call's items planned there (NatResource.plan fills it)
    items_of: dict

    def scope(self, ns: str | None, requested: str) -> dict:
        """A namespace's NAT as read (``read_nat``, shared by the calls of a run: never written to)."""
        return read_nat(self.ctx, ns, requested)

    def todo(self, scope: dict) -> dict:
        """What this call plans in the namespace of ``scope``, kept apart from what it read: the rules to remove (their
        keys) and to add, the conntrack entries to flush, the new DNAT rules, the rules made by hand to delete."""
        plans = self.__dict__.setdefault("planned_nat", {})
        return plans.setdefault(scope["ns"], dict(remove=set(), add=[], flush=[], unnatted=[], by_hand=[]))

    @staticmethod
    def existing(scope: dict) -> dict:
        return lab_rules(scope)

    def lab_bridges(self, scope: dict, routed: bool = True) -> tuple[set, bool]:
        """The lab's links this call's rules in ``scope`` pass traffic through (which the firewalls beside the lab
        must accept), and whether the lab lets go of the links it no longer needs (a purge, or a removal that leaves
        the lab no rule there). A rule names them (a forward rule's interfaces, a published port's hairpin) or
        matches their subnets: the source of a masquerade or snat, the target of a dnat, a forward rule's addresses,
        found on the links the kernel routes them over and those earlier steps would address
        (:func:`readers.carriers`) - whatever the call names, so a rule written like ``iptables -t nat -A POSTROUTING
        -s 192.168.0.0/16 ! -o br0 -j MASQUERADE`` is judged for br0 too. Only links this collection made count
        (this lab's when it has any there), and never the uplink (the device of a default route) or loopback: a
        host's own cards are never bound to a firewall zone for a lab. ``routed`` False: only the named ones (no
        firewall is there to judge the others for, and the routes are not read)."""
        if self.params["state"] == "absent":
            kept = {key for key, entry in self.existing(scope).items() if entry["lab"] == self.ctx.lab}
            return set(), not (kept - self.todo(scope)["remove"])
        named: set[str] = set()
        nets: list[str] = []
        for item in self.items_of.get(id(scope), []):
            if item["type"] == "forward":
                named.update(name for name in (item.get("in_interface"), item.get("out_interface")) if name)
                nets.extend(item[key] for key in ("source", "destination") if item[key])
            elif item["type"] in ("masquerade", "snat"):
                if item["type"] == "masquerade" and item.get("destination") and item.get("out_interface"):
                    named.add(item["out_interface"])          # the hairpin of a published port
                if item["source"]:
                    nets.append(item["source"])
            elif item["type"] == "dnat":
                nets.append(item["to"][0])
        named = {name for name in named if not name.startswith("!") and name != "lo"}
        purge = bool(self.params.get("purge"))
        if not (routed and self.ctx.readable(scope["ns"])):
            return named, purge
        named -= default_devices(self.ctx.session, scope["ns"])
        planned = [(name, cidr, lab) for ns, name, cidr, lab in sorted(self.ctx.projected.get("addresses_added", ()), key=str)
                   if ns == scope["ns"]]
        found = carriers(self.ctx.session, scope["ns"], [ipaddress.ip_network(net, strict=False) for net in nets], planned)
        labs = {self.ctx.lab, self.ctx.lab[:-len("-in")] if self.ctx.lab.endswith("-in") else self.ctx.lab}
        ours = [link["name"] for link in found if link["owner"] in labs]
        return named | set(ours or [link["name"] for link in found if link["owner"]]), purge

    def check_foreign_firewalls(self, scope: dict, plan: Plan) -> set:
        """Refuse, before any change, a lab whose traffic another nftables table would drop, unless firewalld
        (through its own firewall-cmd, in the host namespace) can let it pass, and with ``firewall: fail`` an
        iptables FORWARD policy DROP or ufw, which the lab's own NSLAB-FWD chain would otherwise open
        (firewalls.py); returns the lab bridges that judgement covers."""
        mode = "fail" if any(item["firewall"] == "fail" for item in self.items_of.get(id(scope), [])) else "integrate"
        record = self.firewalld_record(plan) if scope["ns"] is None else {}
        chains = scope["nft_state"].base_chains
        judged = (bool(record) or any(firewalls.drops(chain) for chain in chains.values() if chain.get("hook") in firewalls.HOOKS)
                  or (mode == "fail" and any(state.ufw or state.forward_drop for state in scope["ipt_state"].values())))
        bridges, release = self.lab_bridges(scope, routed=judged)
        found = firewalls.blockers(chains, bridges) if bridges else []
        owned = any(self.ctx.lab in entry["labs"] or name in bridges for name, entry in record.items())
        firewall_cmd = which("firewall-cmd") if scope["ns"] is None and (found or owned) else None
        if firewall_cmd:
            tools = scope["nft"].tools
            firewalld = firewalls.Firewalld(lambda args: tools.run([firewall_cmd] + args, check=False)[:2],
                                            self.ctx.projected.setdefault("firewalld_zones", {}))
            found, changes, after = firewalls.integrate(found, firewalld, mode, self.ctx.lab, record, bridges, release)
            if self.ctx.check_mode:          # what the steps after this one see (a batch in check mode, its rehearsal)
                self.ctx.projected["firewalld"] = after
                firewalld.zones.update((c["interface"], c["zone"] if c["action"] == "add" else None) for c in changes)
        iptables = scope["impl"].forward_blockers(bridges) if mode == "fail" else []
        if found or iptables:
            raise Conflict("; ".join(text for text in (firewalls.refusal(found, where(scope["ns"])) if found else "",
                                                       firewalls.iptables_refusal(iptables, where(scope["ns"])))
                                     if text))
        if firewall_cmd and after != record:
            self.plan_firewalld(plan, record, after, changes, lambda args: tools.run([firewall_cmd] + args))
        return bridges

    def firewalld_record(self, plan: Plan) -> dict:
        """The lab bridges this collection bound to a firewalld zone (firewalls.RECORD; gone at reboot, like the
        runtime bindings), or what an earlier step of a batch in check mode would have made of it."""
        if "firewalld" in self.ctx.projected:
            return self.ctx.projected["firewalld"]
        text = read_text(firewalls.RECORD)
        try:
            record = json.loads(text) if text else {}
            return {str(name): dict(zone=str(entry["zone"]), labs=sorted(map(str, entry["labs"])))
                    for name, entry in record.items()}
        except (ValueError, TypeError, KeyError, AttributeError):
            plan.warnings.append(f"{firewalls.RECORD} is not a record this collection wrote; it is replaced, and the "
                                 "firewalld bindings it named are left to you")
            return {}

    def plan_firewalld(self, plan: Plan, record: dict, after: dict, changes: list,
                       firewall_cmd: Callable[[list[str]], tuple[int, str, str]]) -> None:
        """firewall-cmd's changes (runtime only), then the record, in the diff under firewalld/BRIDGE."""
        for name in sorted(set(record) | set(after)):
            if record.get(name) != after.get(name):
                before_view, after_view = (dict(entry, interface=name, runtime=True) if entry else None
                                           for entry in (record.get(name), after.get(name)))
                plan.state(f"firewalld/{name}", before_view, after_view)
        for change in changes:
            args = firewalls.Firewalld.command(change)
            verb = (f"bind {change['interface']} to firewalld zone {change['zone']} (runtime)" if change["action"] == "add"
                    else f"unbind {change['interface']} from firewalld zone {change['zone']} (no lab relies on it now)")
            plan.do(f"{verb}: firewall-cmd {' '.join(args)}", lambda a=args: firewall_cmd(a))
        labs = {name: entry["labs"] for name, entry in after.items() if record.get(name, {}).get("labs") != entry["labs"]}
        if labs and not changes:
            plan.actions.append(f"record that lab {self.ctx.lab} relies on firewalld's binding of {', '.join(sorted(labs))}")
        data = (json.dumps(after, indent=1, sort_keys=True) + "\n").encode()
        plan.ops.append((f"write {firewalls.RECORD}", lambda: replace_file(firewalls.RECORD, data)
                         if after else remove_file(firewalls.RECORD)))

    def check_forward_policy(self, scope: dict, plan: Plan, bridges: set) -> None:
        """A backend that cannot open forwarding there is refused when it would add rules; a drop policy of another
        tool that no lab link was found for (so not judged by check_foreign_firewalls) is warned about."""
        if not self.todo(scope)["add"]:
            return
        refusal = scope["impl"].cannot_open()
        if refusal:
            raise Conflict(refusal)
        foreign = [chain for chain in scope["nft_state"].drop_forward       # iptables' own FORWARD: the backends'
                   if chain.split()[0] not in ("ip", "ip6") or chain.split()[1] not in XTABLES_NAMES]   # own matter
        if foreign and not bridges:
            plan.warnings.append(f"forward hook chains with policy drop in {where(scope['ns'])} "
                                 f"({', '.join(foreign)}) may still drop lab traffic: nftables evaluates every base chain")
