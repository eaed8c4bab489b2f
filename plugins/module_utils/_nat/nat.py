# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NAT and forward rules: the nat_rule resource (its items, rules, plan and report; what it reads and the firewalls it
judges are judge.py, a rule rule.py, the backends nat_iptables.py and nat_nftables.py).

Every rule the collection writes lives in chains it owns (iptables) or in a
table it owns (nftables), joined to the built-in chains by one jump each, and
carries a comment ``nslab:LAB:TYPE:KEY:DIGEST [user comment]``: KEY is a hash of
the rule's identity (type + match fields), DIGEST a hash of everything that
makes up the rule, so comparing needs no canonical form of the rule text.
Rules are read once per namespace (iptables-save; nft -j list chains, then the
tables whose rules matter) and written in one batch (iptables-restore --noflush / one nft -f).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._nat import firewalls
from ansible_collections.nslab.net.plugins.module_utils._nat.natstate import entry_match
from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._nat.judge import FirewallJudge
from ansible_collections.nslab.net.plugins.module_utils._host.errors import Conflict, where
from ansible_collections.nslab.net.plugins.module_utils._host.readers import read_uplink
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid
from ansible_collections.nslab.net.plugins.module_utils._nat.conntrack import any_of, delete_conntrack, dnated_to, not_yet_dnated
from ansible_collections.nslab.net.plugins.module_utils._nat.natread import BACKENDS, reset_match, touches
from ansible_collections.nslab.net.plugins.module_utils._nat.rule import PROTOCOLS, Rule, TYPES, parse_to, read_target

if TYPE_CHECKING:
    from typing import Any, Callable

    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Plan


# ----------------------------------------------------------------- resource
class NatResource(FirewallJudge):
    module_name = "nat_rule"
    options = dict(
        type=dict(type="str", choices=list(TYPES)),
        source=dict(type="str"),
        destination=dict(type="str"),
        in_interface=dict(type="str"),
        out_interface=dict(type="str"),
        protocol=dict(type="str", choices=list(PROTOCOLS)),
        port=dict(type="str"),
        to=dict(type="str"),
        comment=dict(type="str"),
        backend=dict(type="str", choices=list(BACKENDS), default="auto"),
        uplink=dict(type="bool", default=False),
        firewall=dict(type="str", choices=list(firewalls.MODES), default="integrate"),
    )
    module_options = dict(reset=dict(type="list", elements="str", default=[]))
    result_key = "rules"
    #: what ``uplink`` fills in, per rule type
    UPLINK_FILLS = dict(masquerade="out_interface", snat="out_interface", dnat="destination")

    def fill_uplink(self, item: dict, option: Callable[[str], str]) -> None:
        """``uplink: true``: the interface (masquerade, snat) or the IPv4 address (dnat) of the
        default route of the rule's namespace, read at each run (one read per namespace)."""
        rtype, ns = item["type"], item.get("netns")
        fills = self.UPLINK_FILLS.get(rtype)
        if fills is None:
            raise Invalid(option("uplink"), f"applies to {', '.join(self.UPLINK_FILLS)}, not to {rtype}")
        if item.get(fills):
            raise Invalid(option("uplink"), f"fills {fills} from the default route: give one or the other")
        if not self.ctx.readable(ns):
            raise Invalid(option("uplink"), f"namespace {ns!r} does not exist yet, so it has no default route to read")
        found = read_uplink(self.ctx.session, ns)
        value = found["interface"] if fills == "out_interface" else found["address"]
        if not value:
            what = "an IPv4 default route" if not found["interface"] else f"an IPv4 address on {found['interface']}"
            raise Invalid(option("uplink"), f"{where(ns)} has no {what} to take the uplink from: give {fills} "
                          "instead (the roles: nslab_uplink_interface / nslab_uplink_address)")
        item[fills] = value

    def normalize(self, item: Any, option: Callable[[str], str]) -> dict:
        rtype = v.choice(option("type"), v.required(option("type"), item.get("type"),
                                                    f"(one of {', '.join(TYPES)})"), TYPES)
        item["type"] = rtype
        item["backend"] = v.choice(option("backend"), item.get("backend") or "auto", BACKENDS)
        item["firewall"] = v.choice(option("firewall"), item.get("firewall") or "integrate", firewalls.MODES)
        if item.get("uplink"):
            self.fill_uplink(item, option)
        item["source"] = v.network(option("source"), item.get("source"))
        item["destination"] = v.network(option("destination"), item.get("destination"))
        for name in ("in_interface", "out_interface"):
            value = item.get(name)
            if value:
                v.ifname(option(name), value[1:] if value.startswith("!") else value)
            item[name] = value or None
        if rtype in ("masquerade", "snat") and item["in_interface"]:
            raise Invalid(option("in_interface"), f"{rtype} happens after routing (POSTROUTING): match "
                          "out_interface instead")
        if rtype == "dnat" and item["out_interface"]:
            raise Invalid(option("out_interface"), "dnat happens before routing (PREROUTING): match in_interface instead")
        proto = item.get("protocol")
        item["protocol"] = v.choice(option("protocol"), str(proto).lower(), PROTOCOLS) if proto else None
        item["port"] = v.port(option("port"), item.get("port"))
        if item["port"] and item["protocol"] not in ("tcp", "udp", "sctp"):
            raise Invalid(option("port"), "needs protocol tcp, udp or sctp")
        item["to"] = parse_to(option("to"), item.get("to"), rtype)
        if rtype in ("dnat", "snat") and item["to"] is None:
            raise Invalid(option("to"), f"is required for {rtype} (the new {'destination' if rtype == 'dnat' else 'source'} address)")
        if rtype in ("masquerade", "forward", "drop") and item["to"] is not None:
            raise Invalid(option("to"), f"does not apply to {rtype}")
        if rtype == "dnat" and item["to"][1] and item["port"]:
            span_to = item["to"][1][1] - item["to"][1][0]
            if span_to not in (0, item["port"][1] - item["port"][0]):
                raise Invalid(option("to"), "a port range must map to one port or to a range of the same size")
        if rtype == "dnat" and item["to"][1] and not item["port"]:
            raise Invalid(option("port"), "is required when 'to' names a port")
        item["comment"] = v.comment(option("comment"), item.get("comment"))
        families = {ipaddress.ip_network(x).version for x in (item["source"], item["destination"]) if x}
        if item["to"]:
            families.add(ipaddress.ip_address(item["to"][0]).version)
        if item["protocol"] == "icmpv6":
            families.add(6)
        if len(families) > 1:
            raise Invalid(option("to" if item["to"] else "destination"), "mixes IPv4 and IPv6 addresses")
        item["family"] = families.pop() if families else 4
        item.rule = Rule(item, self.ctx.lab)
        return item

    def key(self, item: Any) -> str:
        rule = item.rule
        match = dict(rule.item, port=v.port_text(rule.item["port"]) if rule.item["port"] else None)
        return f"{item['netns'] or '-'}/{self.match_text(rule.type, match, rule.family)}"

    def check_items(self, items: list[dict]) -> None:
        super().check_items(items)
        reset_match("reset", self.params.get("reset"))
        wanted: dict[str | None, tuple[int, str]] = {}
        for index, item in enumerate(items):
            if item["backend"] != "auto":
                prev = wanted.setdefault(item["netns"], (index, item["backend"]))
                if prev[1] != item["backend"]:
                    raise Invalid(f"items[{index}].backend", f"{item['backend']} differs from items[{prev[0]}] in the "
                                  f"same namespace: a namespace's rules live in one backend")

    def old_view(self, scope: dict, entry: dict, rule: Rule | None) -> dict:
        if rule:
            base = rule.view(scope["backend"])
        else:                            # a rule no item names (purge): the same view, read from the kernel's rule
            base = dict(netns=scope["ns"], type=entry["type"], **entry_match(entry),
                        to=None, comment=None, key=entry["key"], backend=scope["backend"])
        base.update(to=entry.get("to"), comment=entry.get("comment"), rules=len(entry["lines"]))
        return base

    def plan(self, items: list[Any], plan: Plan) -> None:
        absent = self.params["state"] == "absent"
        scopes: list[dict] = []
        items_of: dict[int, list[Any]] = {}
        for item in items:
            scope = self.scope(item["netns"], item["backend"])
            if scope not in scopes:
                scopes.append(scope)
            items_of.setdefault(id(scope), []).append(item)
            rule = item.rule
            entry = self.existing(scope).get(rule.key)
            if entry is not None and entry["lab"] != self.ctx.lab:
                raise Conflict(f"{rule.type} rule {rule.key} in {where(item['netns'])} belongs to nslab lab "
                               f"{entry['lab']!r}, not {self.ctx.lab!r}; it is left untouched")
            before = self.old_view(scope, entry, rule) if entry else None
            complete = (entry is not None and entry["digest"] == rule.digest
                        and len(entry["lines"]) == scope["impl"].rule_count(rule))
            if entry is not None and entry["type"] == "dnat" and (absent or entry.get("to") != v.target_text(item["to"])):
                self.todo(scope)["flush"].append((entry.get("to"), item["port"]))
            if entry is None and not absent and rule.type == "dnat":
                self.todo(scope)["unnatted"].append(item)
            if absent:
                plan.state(self.key(item), before, None)
                if entry is not None:
                    self.todo(scope)["remove"].add(rule.key)
                    plan.do(f"delete {self.describe(rule)} in {where(item['netns'])} ({scope['backend']})")
                continue
            after = dict(rule.view(scope["backend"]), rules=scope["impl"].rule_count(rule))
            plan.state(self.key(item), before, after)
            if complete:
                continue
            if entry is not None:
                self.todo(scope)["remove"].add(rule.key)
            self.todo(scope)["add"].append(rule)
            verb = "replace" if entry is not None else "add"
            plan.do(f"{verb} {self.describe(rule)} in {where(item['netns'])} ({scope['backend']})")
        self.scopes, self.items_of = scopes, items_of

    def purge(self, items: list[Any], plan: Plan) -> None:
        if self.params["state"] == "absent":
            return
        listed = {(item["netns"], item.rule.key) for item in items}
        for ns in self.purge_namespaces(items):
            if self.ctx.readable(ns):
                scope = self.scope(ns, "auto")
                if scope not in self.scopes:
                    self.scopes.append(scope)
        for scope in self.scopes:
            for key, entry in sorted(self.existing(scope).items()):
                if entry["lab"] == self.ctx.lab and (scope["ns"], key) not in listed:
                    self.todo(scope)["remove"].add(key)
                    if entry["type"] == "dnat":
                        self.todo(scope)["flush"].append((entry.get("to"), None))
                    view = self.old_view(scope, entry, None)
                    name = f"{scope['ns'] or '-'}/{self.match_text(entry['type'], view, entry.get('family'))}"
                    plan.state(name if name not in plan.before else f"{name} ({key})", view, None)
                    plan.do(f"delete {entry['type']} rule {key} in {where(scope['ns'])} ({scope['backend']}; "
                            "purge: no longer listed)")
        if self.params.get("reset"):
            self.reset(plan)

    def reset(self, plan: Plan) -> None:
        """``reset``: the iptables rules made by hand (by no nslab lab) in the nat table's PREROUTING, POSTROUTING
        and OUTPUT and the filter table's FORWARD that match one of the subnets or interfaces it names
        (:func:`touches`), removed; each one in the actions and the diff. Read in every namespace purge looks in."""
        nets, ifaces = reset_match("reset", self.params["reset"])
        for scope in self.scopes:
            for family, state in sorted(scope["ipt_state"].items()):
                for table, line in state.by_hand:
                    why = touches(line, nets, ifaces)
                    if why is None:
                        continue
                    rule = line.strip()       # as one types it after iptables -t TABLE
                    self.todo(scope)["by_hand"].append((family, table, line))
                    plan.state(f"{scope['ns'] or '-'}/by hand: -t {table} {rule}",
                               dict(netns=scope["ns"], table=table, rule=rule, made="by hand"), None)
                    plan.do(f"delete iptables rule -t {table} {rule} in {where(scope['ns'])} (reset: made by hand, "
                            f"it matches the lab's {why})")

    def finish(self, plan: Plan) -> None:
        """The firewalls beside the lab judged (every refusal before any change), then one batch per namespace
        (and per family for iptables)."""
        for scope in getattr(self, "scopes", []):
            bridges = self.check_foreign_firewalls(scope, plan)
            if self.params["state"] != "absent":
                self.check_forward_policy(scope, plan, bridges)
        for scope in getattr(self, "scopes", []):
            todo = self.todo(scope)
            for family in sorted({family for family, _table, _line in todo["by_hand"]}):
                backend = scope["ipt"][family]
                deletes: dict[str, list[str]] = {}      # table -> its -D lines, one iptables-restore for the family
                for fam, table, line in todo["by_hand"]:
                    if fam == family:
                        deletes.setdefault(table, []).append(f"-D {line[len('-A '):]}\n")
                text = "".join(f"*{table}\n" + "".join(lines) + "COMMIT\n" for table, lines in deletes.items())
                plan.ops.append((f"{backend.restore} --noflush in {where(scope['ns'])} (reset)",
                                 lambda b=backend, t=text: b.write(t)))
            if not todo["remove"] and not todo["add"]:
                continue
            plan.ops.extend(scope["impl"].render(todo["remove"], todo["add"], self.ctx.lab))
            if todo["unnatted"]:        # one conntrack dump for all the new DNAT rules of the namespace
                rules = ", ".join(self.describe(item.rule) for item in todo["unnatted"][:3])
                more = len(todo["unnatted"]) - 3
                text = (f"delete conntrack entries of {rules}{f' and {more} more' if more > 0 else ''} "
                        f"not yet DNATed in {where(scope['ns'])}")
                plan.ops.append((text, lambda ns=scope["ns"], m=any_of([not_yet_dnated(item) for item in todo["unnatted"]]):
                                 delete_conntrack(self.ctx, ns, m)))
            flushed, texts = [], []
            for to, ports in todo["flush"]:
                target = read_target(to)
                if target:
                    texts.append(f"delete conntrack entries DNATed to {to} in {where(scope['ns'])}")
                    flushed.append(dnated_to(target, ports))
            if flushed:                  # one dump for every old target of the namespace
                plan.actions.extend(texts)
                plan.ops.append(("; ".join(texts), lambda ns=scope["ns"], m=any_of(flushed): delete_conntrack(self.ctx, ns, m)))

    @staticmethod
    def match_text(rtype: str, match: dict, family: int | None = None) -> str:
        """A rule's type and match in words: ``masquerade from 192.168.0.0/16 out !br0``, ``dnat to 203.0.113.10
        tcp/5000``; its key in the diff, so a changed rule pairs its old and new views (a rule for IPv6 that names
        no address says so)."""
        parts = [rtype]
        for field, word in (("source", "from"), ("in_interface", "in"), ("destination", "to"), ("out_interface", "out")):
            if match.get(field):
                value = str(match[field])
                try:                     # a single address without its /32 or /128
                    net = ipaddress.ip_network(value, strict=False) if field in ("source", "destination") else None
                except ValueError:       # read back from a rule in a form of its own: as it is
                    net = None
                if net is not None:
                    value = str(net.network_address) if net.prefixlen == net.max_prefixlen else net.with_prefixlen
                parts.append(f"{word} {value}")
        if match.get("protocol"):
            parts.append(match["protocol"] + (f"/{match['port']}" if match.get("port") else ""))
        if family == 6 and not (match.get("source") or match.get("destination")):
            parts.append("ipv6")
        return " ".join(parts)

    def describe(self, rule: Rule) -> str:
        it = rule.item
        text = self.match_text(rule.type, dict(it, port=v.port_text(it["port"]) if it["port"] else None), rule.family)
        return text + (f" -> {v.target_text(it['to'])}" if it["to"] else "")

    def identity(self, item: Any) -> dict:
        return item.rule.view()

    def report(self, items: list[Any], plan: Plan) -> list:
        if self.ctx.check_mode:
            return super().report(items, plan)
        out = []
        for item in items:
            scope = self.scope(item["netns"], "auto")
            entry = self.existing(scope).get(item.rule.key)
            out.append(self.old_view(scope, entry, item.rule) if entry else self.absent(item))
        return out
