# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NAT and forward rules: the nat_rule resource and its two backends.

Every rule the collection writes lives in chains it owns (iptables) or in a
table it owns (nftables), joined to the built-in chains by one jump each, and
carries a comment ``nslab:LAB:TYPE:KEY:DIGEST [user comment]``: KEY is a hash of
the rule's identity (type + match fields), DIGEST a hash of everything that
makes up the rule, so comparing needs no canonical form of the rule text.
Rules are read once per namespace (iptables-save / nft -j list ruleset) and
written in one batch (iptables-restore --noflush / one nft -f).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import shlex
import socket

from ansible_collections.nslab.net.plugins.module_utils._nat import firewalls
from ansible_collections.nslab.net.plugins.module_utils._host.files import read_text, remove_file, replace_file
from ansible_collections.nslab.net.plugins.module_utils._nat.natstate import NFT_TABLE, XTABLES_NAMES, NftState, entry_match
from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Resource, netlink
from ansible_collections.nslab.net.plugins.module_utils._host.errors import Conflict, Failure, where
from ansible_collections.nslab.net.plugins.module_utils._nat.nat_iptables import IptablesBackend, IptablesNat
from ansible_collections.nslab.net.plugins.module_utils._nat.nat_nftables import NftBackend, NftNat
from ansible_collections.nslab.net.plugins.module_utils._host.tools import Tools, which
from ansible_collections.nslab.net.plugins.module_utils._host.readers import carriers, default_devices, read_uplink
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

TYPES = ("masquerade", "snat", "dnat", "forward", "drop")
PROTOCOLS = ("tcp", "udp", "sctp", "icmp", "icmpv6")
BACKENDS = ("auto", "iptables", "nftables")
RENDER_VERSION = "1"


# ----------------------------------------------------------------- the rule
def _digest(*parts) -> str:
    return hashlib.sha1("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def parse_to(option: str, value, rtype: str) -> tuple[str, tuple | None] | None:
    """'addr', 'addr:port', 'addr:first-last', '[v6]:port' -> (addr, ports)."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(.+))?", text)
    if m:
        addr, port = m.group(1), m.group(2)
    elif text.count(":") == 1:
        addr, port = text.split(":")
    else:
        addr, port = text, None
    addr = v.address(option, addr)
    if port is not None and rtype != "dnat":
        raise Invalid(option, f"{rtype} takes an address only, not a port ({value!r})")
    return addr, v.port(option, port) if port is not None else None


class Rule:
    """A normalised nat_rule item: what names it (``key``, from its type and match), its tag and its view; each
    backend renders it (``nat_iptables.rules_of``, ``nat_nftables.rules_of``)."""

    def __init__(self, item: dict, lab: str):
        self.item = item
        self.lab = lab
        self.type = item["type"]
        self.family = item["family"]
        ident = (self.type, self.family, item["source"], item["destination"], item["in_interface"],
                 item["out_interface"], item["protocol"], v.port_text(item["port"]))
        self.key = _digest(*ident)[:10]
        self.digest = _digest(RENDER_VERSION, self.key, v.target_text(item["to"]), item["comment"])[:8]
        self.tag = f"nslab:{lab}:{self.type}:{self.key}:{self.digest}"
        self.comment = self.tag + (f" {item['comment']}" if item["comment"] else "")

    def view(self, backend: str | None = None) -> dict:
        item = self.item
        out = dict(netns=item["netns"], type=self.type, source=item["source"], destination=item["destination"],
                   in_interface=item["in_interface"], out_interface=item["out_interface"],
                   protocol=item["protocol"], port=v.port_text(item["port"]), to=v.target_text(item["to"]),
                   comment=item["comment"], key=self.key)
        if backend:
            out["backend"] = backend
        return out


# ---------------------------------------------------------------- conntrack
IPS_DST_NAT = 1 << 5


def delete_conntrack(ctx, ns, matches) -> None:
    """Delete, inside ``ns``, the conntrack entries that ``matches(entry)`` selects
    (one dump, then one delete per entry; an entry that expired meanwhile is fine)."""
    from pyroute2.conntrack import Conntrack

    with ctx.session.entered(ns):      # the whole exchange inside the namespace
        ct = Conntrack()
        try:
            for entry in list(ct.dump_entries()):
                if not matches(entry):
                    continue
                try:
                    netlink(f"delete conntrack entry {entry.tuple_orig} in {where(ns)}", ct.delete, entry,
                            gone_ok=True)
                except TypeError:
                    pass    # pyroute2 < 0.8: Conntrack.delete iterates the kernel's empty answer after the delete
        finally:
            ct.close()


def dnated_to(target: tuple, ports: tuple | None):
    """Entries of flows a DNAT rule sent to ``target`` (addr, ports), arriving on
    ``ports``: after the rule changes or goes, they would still reach the old target."""
    addr, to_ports = target

    def matches(entry) -> bool:
        orig, reply = entry.tuple_orig, entry.tuple_reply
        return (bool((entry.status or 0) & IPS_DST_NAT) and reply.saddr == addr
                and (not to_ports or to_ports[0] <= (reply.sport or 0) <= to_ports[1])
                and (not ports or ports[0] <= (orig.dport or 0) <= ports[1]))
    return matches


def not_yet_dnated(item: dict):
    """Entries that a new DNAT rule would have matched but that were made before it
    (a UDP sender that keeps its flow alive would otherwise never be translated)."""
    proto = socket.getprotobyname(item["protocol"]) if item["protocol"] else None
    dest = ipaddress.ip_network(item["destination"]) if item["destination"] else None
    source = ipaddress.ip_network(item["source"]) if item["source"] else None
    ports = item["port"]

    def matches(entry) -> bool:
        orig = entry.tuple_orig
        if (entry.status or 0) & IPS_DST_NAT or (proto and orig.proto != proto) or not orig.daddr:
            return False
        daddr = ipaddress.ip_address(orig.daddr)
        return (daddr.version == item["family"] and (not dest or daddr in dest)
                and (not ports or ports[0] <= (orig.dport or 0) <= ports[1])
                and (not source or (bool(orig.saddr) and ipaddress.ip_address(orig.saddr) in source)))
    return matches


def any_of(matchers: list):
    """An entry any of ``matchers`` selects."""
    return lambda entry: any(match(entry) for match in matchers)


# ----------------------------------------------------------------- reading
def read_nat(ctx, ns, requested: str = "auto") -> dict:
    """A namespace's NAT as nat_rule plans on it: both backends read once (iptables-save per family and
    variant, nft -j list ruleset), the backend chosen, conflicts refused; cached for the module run."""
    key = ("nat", ns)
    if key in ctx.cache:
        return ctx.cache[key]
    tools = Tools(ctx, ns)
    ipt, ipt_state = {}, {}
    for family, names in ((4, "/proc/net/ip_tables_names"), (6, "/proc/net/ip6_tables_names")):
        found = pick_variant(ns, family, tools, bool(tools.read_proc(names).strip()))
        if found:
            ipt[family], ipt_state[family] = found
    nft = NftBackend(tools)
    nft_state = nft.read() if nft.available() else NftState(None)
    ipt_ours = any(s.ours or s.chains for s in ipt_state.values())
    if ipt_ours and nft_state.table:
        raise Conflict(f"nslab rules found both in iptables ({'/'.join(sorted({s.variant for s in ipt_state.values()}))}"
                       f" chains NSLAB-*) and in nftables (table inet {NFT_TABLE}) in {where(ns)}: a lab's rules "
                       "must live in one backend; remove one set (state: absent with that backend)")
    if requested == "iptables" and nft_state.table:
        raise Conflict(f"backend iptables requested, but this collection's rules are in nftables table inet "
                       f"{NFT_TABLE} in {where(ns)}: remove them with backend nftables first")
    if requested == "nftables" and ipt_ours:
        raise Conflict(f"backend nftables requested, but this collection's rules are in iptables chains NSLAB-* "
                       f"in {where(ns)}: remove them with backend iptables first")
    foreign_ipt = any(s.foreign for s in ipt_state.values())
    if requested != "auto":
        chosen = requested
    elif ipt_ours:
        chosen = "iptables"
    elif nft_state.table:
        chosen = "nftables"
    elif foreign_ipt or not nft_state.native or not nft.available():
        chosen = "iptables" if ipt_state else "nftables"
    else:
        chosen = "nftables"
    if chosen == "iptables" and not ipt_state:
        raise Failure("backend iptables: iptables-save/iptables-restore are not installed on the managed host")
    if chosen == "nftables" and not nft.available():
        raise Failure("backend nftables: nft is not installed on the managed host")
    impl = IptablesNat(ns, ipt, ipt_state) if chosen == "iptables" else NftNat(ns, nft, nft_state, ipt_state)
    scope = dict(ns=ns, backend=chosen, impl=impl, ipt=ipt, ipt_state=ipt_state, nft=nft, nft_state=nft_state)
    ctx.cache[key] = scope
    return scope


def pick_variant(ns, family, tools, legacy_tables: bool):
    """iptables-nft or iptables-legacy: the one holding our chains, else the
    one the host uses. Legacy is read only when its tables already exist
    (reading it would create them)."""
    candidates = []
    for legacy in ((False, True) if legacy_tables else (False,)):
        backend = IptablesBackend(tools, family, legacy)
        if backend.available():
            candidates.append((backend, backend.read()))
    if not candidates:
        return None
    ours = [c for c in candidates if c[1].ours or c[1].chains]
    if len(ours) > 1:
        raise Conflict(f"nslab chains found in both iptables-nft and iptables-legacy (IPv{family}) in {where(ns)}: "
                       "rules must live in one backend; remove one set by hand")
    if ours:
        return ours[0]
    legacy = [c for c in candidates if c[0].variant == "legacy" and c[1].foreign]
    nft_foreign = [c for c in candidates if c[0].variant == "nft" and c[1].foreign]
    return legacy[0] if legacy and not nft_foreign else candidates[0]


def touches(line: str, nets: list, ifaces: set) -> str | None:
    """What of the lab an iptables-save rule line matches (``subnet 192.168.0.0/16``, ``interface br0``), or None: an
    address (-s, -d, --to-destination, --to-source) overlapping one of ``nets``, an interface (-i, -o) in ``ifaces``;
    a match negated with ``!`` (a rule for everything but the lab) does not count."""
    try:
        words = shlex.split(line)
    except ValueError:
        return None
    for index, (flag, value) in enumerate(zip(words, words[1:])):
        if index and words[index - 1] == "!":
            continue
        if flag in ("-i", "-o") and value in ifaces:
            return f"interface {value}"
        if flag in ("-s", "-d", "--to-destination", "--to-source"):
            address = value.split("-", 1)[0]                  # a range: its first address
            if flag.startswith("--to"):                      # 192.168.0.2:5000, [fd00::2]:80
                address = address[1:].split("]", 1)[0] if address.startswith("[") else (
                    address.split(":", 1)[0] if address.count(":") == 1 else address)
            try:
                net = ipaddress.ip_network(address, strict=False)
            except ValueError:
                continue
            hit = next((n for n in nets if n.version == net.version and n.overlaps(net)), None)
            if hit is not None:
                return f"subnet {hit}" if hit.num_addresses > 1 else f"address {hit.network_address}"
    return None


def reset_match(option: str, values) -> tuple[list, set]:
    """nat_rule's ``reset``: (networks, interface names), each entry a CIDR or an address, or an interface name."""
    nets, ifaces = [], set()
    for index, value in enumerate(values or []):
        value = str(value).strip()
        try:
            nets.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            ifaces.add(v.ifname(f"{option}[{index}]", value))
    return nets, ifaces


def lab_rules(scope) -> dict:
    """This collection's rules in a namespace read by :func:`read_nat`: key -> entry (lab, type, lines...)."""
    return scope["impl"].ours()


# ----------------------------------------------------------------- resource
class NatResource(Resource):
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

    def fill_uplink(self, item, option) -> None:
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

    def normalize(self, item, option):
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

    def key(self, item):
        rule = item.rule
        match = dict(rule.item, port=v.port_text(rule.item["port"]) if rule.item["port"] else None)
        return f"{item['netns'] or '-'}/{self.match_text(rule.type, match, rule.family)}"

    def check_items(self, items):
        super().check_items(items)
        reset_match("reset", self.params.get("reset"))
        wanted = {}
        for index, item in enumerate(items):
            if item["backend"] != "auto":
                prev = wanted.setdefault(item["netns"], (index, item["backend"]))
                if prev[1] != item["backend"]:
                    raise Invalid(f"items[{index}].backend", f"{item['backend']} differs from items[{prev[0]}] in the "
                                  f"same namespace: a namespace's rules live in one backend")

    def scope(self, ns, requested: str) -> dict:
        """A namespace's NAT as read (``read_nat``, shared by the calls of a run: never written to)."""
        return read_nat(self.ctx, ns, requested)

    def todo(self, scope) -> dict:
        """What this call plans in the namespace of ``scope``, kept apart from what it read: the rules to remove (their
        keys) and to add, the conntrack entries to flush, the new DNAT rules, the rules made by hand to delete."""
        plans = self.__dict__.setdefault("planned_nat", {})
        return plans.setdefault(scope["ns"], dict(remove=set(), add=[], flush=[], unnatted=[], by_hand=[]))

    @staticmethod
    def existing(scope) -> dict:
        return lab_rules(scope)

    def old_view(self, scope, entry, rule: Rule | None) -> dict:
        if rule:
            base = rule.view(scope["backend"])
        else:                            # a rule no item names (purge): the same view, read from the kernel's rule
            base = dict(netns=scope["ns"], type=entry["type"], **entry_match(entry),
                        to=None, comment=None, key=entry["key"], backend=scope["backend"])
        base.update(to=entry.get("to"), comment=entry.get("comment"), rules=len(entry["lines"]))
        return base

    def plan(self, items, plan):
        absent = self.params["state"] == "absent"
        scopes, items_of = [], {}
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

    def purge(self, items, plan):
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

    def reset(self, plan):
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

    def finish(self, plan):
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
                deletes = {}                    # table -> its -D lines, one iptables-restore for the family
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
                target = parse_to("to", to, "dnat") if to else None
                if target:
                    texts.append(f"delete conntrack entries DNATed to {to} in {where(scope['ns'])}")
                    flushed.append(dnated_to(target, ports))
            if flushed:                  # one dump for every old target of the namespace
                plan.actions.extend(texts)
                plan.ops.append(("; ".join(texts), lambda ns=scope["ns"], m=any_of(flushed): delete_conntrack(self.ctx, ns, m)))

    def lab_bridges(self, scope, routed: bool = True) -> tuple[set, bool]:
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
        named, nets = set(), []
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

    def check_foreign_firewalls(self, scope, plan) -> set:
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

    def firewalld_record(self, plan) -> dict:
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

    def plan_firewalld(self, plan, record: dict, after: dict, changes: list, firewall_cmd) -> None:
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

    def check_forward_policy(self, scope, plan, bridges: set):
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

    def identity(self, item) -> dict:
        return item.rule.view()

    def report(self, items, plan):
        if self.ctx.check_mode:
            return super().report(items, plan)
        out = []
        for item in items:
            scope = self.scope(item["netns"], "auto")
            entry = self.existing(scope).get(item.rule.key)
            out.append(self.old_view(scope, entry, item.rule) if entry else self.absent(item))
        return out
