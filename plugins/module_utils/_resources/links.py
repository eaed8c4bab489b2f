# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the veth and bridge_port resources share (`LinkBase`): a link by name, its addresses planned, an address
overlapping another link's refused, the neighbours renewed."""

from __future__ import annotations

import errno
import ipaddress
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Resource, netlink
from ansible_collections.nslab.net.plugins.module_utils._host.errors import Conflict, Failure, parse_owner, where
from ansible_collections.nslab.net.plugins.module_utils._host.readers import (
    addresses_in, find_link, lab_namespaces, links_in, read_link, veth_peer)
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Context, Plan


def index_of(ctx: Context, ns: str | None, name: str) -> int:
    """The ifindex of a link by name at apply time, remembered for the rest of the module
    call (``ctx.indexes``: a link keeps its index while it exists; deletes clear it)."""
    if (ns, name) not in ctx.indexes:
        link = read_link(ctx.reader(ns), name)
        if link is None:
            raise Failure(f"link {name} is missing in {where(ns)}")
        ctx.indexes[(ns, name)] = link["index"]
    return ctx.indexes[(ns, name)]


#: the first link group number tried for :func:`delete_together` (the kernel's default group is 0)
GROUP = 0x6E534C00


def delete_together(ctx: Context, ns: str | None, names: list[str]) -> bool:
    """Delete several links of one namespace with one request: each is put in a link group no other link of the
    namespace is in, then the group is deleted (``ip link delete group``). The kernel then waits for one RCU grace
    period for all of them, where a delete alone waits for its own: about 18 ms a veth pair on a 2-core machine,
    most of a lab's teardown. A link gone already is skipped. False, when the kernel refuses any of it: nothing is
    deleted, each link moved is put back in its group, and the caller deletes each alone. (Another program that
    puts a link in the same group between this call's read and its delete would see it deleted too: the group is
    one no link had a moment before.)"""
    from pyroute2.netlink.exceptions import NetlinkError

    ctx.indexes.clear()
    reader, writer = ctx.reader(ns), ctx.writer(ns)
    moved: list[tuple[int, int]] = []        # (index, its group before)
    try:
        links = reader.links()
        found = {msg.get_attr("IFLA_IFNAME"): (msg["index"], msg.get_attr("IFLA_GROUP") or 0) for msg in links}
        used = {pair[1] for pair in found.values()}
        group = GROUP
        while group in used:
            group += 1
        for name in names:
            if name not in found:
                continue
            try:
                writer.link("set", index=found[name][0], group=group)
                moved.append(found[name])
            except NetlinkError as exc:
                if exc.code != errno.ENODEV:     # deleted since the read, by another program: nothing to do
                    raise
        if moved:
            writer.delete_group(group)
    except (NetlinkError, OSError):
        for index, before in moved:
            try:
                writer.link("set", index=index, group=before)
            except (NetlinkError, OSError):
                pass                             # gone, or refused: deleting it alone is what comes next
        return False
    return True


def addr_kwargs(cidr: str) -> dict:
    iface = ipaddress.ip_interface(cidr)
    kwargs = dict(address=str(iface.ip), prefixlen=iface.network.prefixlen)
    if iface.version == 4 and iface.network.prefixlen <= 30:
        kwargs["broadcast"] = str(iface.network.broadcast_address)
    return kwargs


NUD_NOARP = 0x40
NUD_PERMANENT = 0x80
#: the least MTU of a link that carries IPv6 (RFC 8200); the kernel refuses an IPv6 address on a smaller one
IPV6_MIN_MTU = 1280


def forget_neighbours(ctx: Context, namespaces: Iterable[str | None], addresses: set[str], text: str) -> int:
    """Delete the neighbour entries (ARP, NDP) of ``addresses`` in each namespace, on any
    device: one dump per namespace, then one delete per entry found. Entries set by hand
    (permanent, noarp) stay. An entry gone meanwhile is fine. Returns how many went."""
    import socket

    wanted = {ipaddress.ip_address(a).compressed for a in addresses}
    deleted = 0
    for ns in namespaces:
        nl = ctx.writer(ns)
        for msg in netlink(text, lambda: list(nl.neigh("dump", family=socket.AF_UNSPEC))):  # noqa: B023 - called at once
            dst = msg.get_attr("NDA_DST")
            if msg["family"] not in (socket.AF_INET, socket.AF_INET6) or not dst:
                continue
            if msg["state"] & (NUD_NOARP | NUD_PERMANENT) or ipaddress.ip_address(dst).compressed not in wanted:
                continue
            netlink(f"{text} in {where(ns)}", nl.neigh, "del", dst=dst, ifindex=msg["ifindex"],
                    family=msg["family"], gone_ok=True)
            deleted += 1
    return deleted


class LinkBase(Resource):
    """Shared link plumbing: the host's links read once per (namespace, name) ("have", in ``ctx.cache``), the
    links as this call's plan leaves them ("after", in ``ctx.planned``), planned ops."""

    def known(self, ns: str | None, name: str) -> dict | None:
        """What this call knows of a link without reading: as its plan leaves it, else as it was read."""
        key = ("link", ns, name)
        return self.ctx.planned[key] if key in self.ctx.planned else self.ctx.cache.get(key)

    def link(self, ns: str | None, name: str) -> dict | None:
        """The link as the items planned so far leave it (as the host has it, when none touched it)."""
        key = ("link", ns, name)
        if key in self.ctx.planned:
            return self.ctx.planned[key]
        cache = self.ctx.cache
        if key not in cache:
            cache[key] = find_link(self.ctx.session, ns, name) if self.ctx.readable(ns) else None
            if cache[key] is not None:
                cache[key]["addresses"] = list(self.addresses(ns).get(cache[key]["index"], []))
        return cache[key]

    def addresses(self, ns: str | None) -> dict:
        """{ifindex: [CIDR, ...]} of a namespace, from one dump (not one per link)."""
        return addresses_in(self.ctx.session, ns)

    def project(self, ns: str | None, name: str, state: dict | None) -> None:
        """What the plan leaves of a link (None: deleted), for the items planned after it."""
        self.ctx.planned[("link", ns, name)] = state

    def owned(self, link: dict | None) -> bool:
        return link is not None and parse_owner(link["alias"])[0] == self.ctx.lab

    def refuse(self, ns: str | None, link: dict, wanted: str) -> Conflict:
        lab = parse_owner(link["alias"])[0]
        who = f"made by nslab lab {lab!r}, not {self.ctx.lab!r}" if lab else "not made by nslab.net"
        return Conflict(f"{wanted}: link {link['name']} already exists in {where(ns)} "
                        f"(kind {link['kind'] or 'unknown'}, {who}); it is left untouched: "
                        "remove or rename it, or choose another name")

    # -- operations (resolved by name at apply time, so planned links work) --
    def op_set(self, ns: str | None, name: str, text: str, plan: Plan, **attrs: Any) -> None:
        ctx = self.ctx

        def fn() -> None:
            nl = ctx.writer(ns)
            netlink(text, nl.link, "set", index=index_of(ctx, ns, name), **attrs)
        plan.do(text, fn, touches=(ns,))

    def op_delete(self, ns: str | None, name: str, text: str, plan: Plan) -> None:
        ctx = self.ctx
        ctx.projected.setdefault("links_gone", set()).add((ns, name))      # for the steps after this one

        def fn() -> None:
            ctx.indexes.clear()        # a veth takes its peer with it; names may come back with new indexes
            link = read_link(ctx.reader(ns), name)
            if link is not None:
                netlink(text, ctx.writer(ns).link, "del", index=link["index"], gone_ok=True)

        def together(names: list[str]) -> bool:
            return delete_together(ctx, ns, names)
        plan.do(text, fn, together=(("delete links", ns), together, name))

    def check_overlap(self, ns: str | None, name: str, wanted: list[str], option: str) -> None:
        """A new address must not share a subnet with an address on a link this lab does not own (another lab's
        bridge, the uplink...): refused before any change. Links of this same lab are judged once the whole call
        is planned (:meth:`check_lab_overlaps`)."""
        if not self.ctx.readable(ns):
            return
        link = self.known(ns, name)
        mine = link.get("index") if link else None
        for pos, cidr in enumerate(wanted):
            net = ipaddress.ip_interface(cidr).network
            for index, others in self.addresses(ns).items():
                for other in others:
                    if index == mine or not net.overlaps(ipaddress.ip_interface(other).network):
                        continue
                    found = next((link for link in links_in(self.ctx.session, ns).values() if link["index"] == index), None)
                    if found is None or found["name"] == name or self.owned(found):
                        continue
                    owner = parse_owner(found["alias"])[0]
                    whose = f"nslab lab {owner!r}" if owner else "not made by nslab.net"
                    raise Invalid(f"{option}[{pos}]", f"{cidr} overlaps {other} on {found['name']} in {where(ns)} "
                                  f"({whose}): a lab subnet must not overlap another subnet of the namespace, "
                                  "such as the uplink's or another lab's")

    def lab_addresses(self, ns: str | None) -> list[tuple[str, str]]:
        """(link, CIDR) of this lab's links in a namespace as the plans so far leave them: the steps before this one
        in a batch (``ctx.projected``: the links they delete, the addresses they remove or add) and this call's
        items (``ctx.planned``: a link's new addresses, or None for a link it deletes)."""
        projected, lab = self.ctx.projected, self.ctx.lab
        gone_links, gone = projected.get("links_gone", set()), projected.get("addresses_gone", set())
        out: set[tuple[str, str]] = set()
        if self.ctx.readable(ns):
            by_index = addresses_in(self.ctx.session, ns)
            for link in links_in(self.ctx.session, ns).values():
                peer, pns = veth_peer(link["alias"])
                if not self.owned(link) or (ns, link["name"]) in gone_links or (peer and pns in self.ctx.deleted_ns):
                    continue
                out.update((link["name"], cidr) for cidr in by_index.get(link["index"], []))
        out.update((name, cidr) for where_ns, name, cidr, owner in projected.get("addresses_added", ())
                   if where_ns == ns and owner == lab and (ns, name) not in gone_links)
        out = {(name, cidr) for name, cidr in out if (ns, name, cidr) not in gone}
        for (kind, where_ns, name), state in self.ctx.planned.items():
            if kind == "link" and where_ns == ns:
                out = {(n, c) for n, c in out if n != name}
                if state is not None:
                    out.update((name, cidr) for cidr in state.get("addresses") or [])
        return sorted(out)

    def check_lab_overlaps(self, plan: Plan) -> None:
        """Each address this call adds must not share a subnet with another link of this same lab (two routes to one
        subnet: the kernel sends the traffic of both over one of them, seed 000's lesson) as the whole call leaves
        them, purge and deletions included; refused before any change, unless ``allow_overlap`` (then said)."""
        new = getattr(self, "new_addresses", [])
        for position, (ns, name, cidr, option) in enumerate(new):
            net = ipaddress.ip_interface(cidr).network
            later = {(n, c) for where_ns, n, c, _opt in new[position + 1:] if where_ns == ns}   # told at their turn
            for other_name, other in self.lab_addresses(ns):
                if other_name == name or (other_name, other) in later \
                        or not net.overlaps(ipaddress.ip_interface(other).network):
                    continue
                if self.params.get("allow_overlap"):
                    plan.warnings.append(f"{cidr} on {name} overlaps {other} on {other_name} in {where(ns)} "
                                         "(allow_overlap): the kernel routes that subnet over one of them")
                    break
                raise Invalid(option, f"{cidr} overlaps {other} on {other_name} in {where(ns)}, both of lab "
                              f"{self.ctx.lab!r}: two subnets of one lab must not overlap (the kernel would route the "
                              f"traffic of both over one link); give {name} a subnet outside "
                              f"{ipaddress.ip_interface(other).network}, or set allow_overlap: true to make that "
                              "conflict on purpose, as seed 000 does")

    def plan_addresses(self, ns: str | None, name: str, current: list[str], wanted: list[str] | None, plan: Plan,
                       option: str = "address") -> list[str]:
        if wanted is None:
            return current
        self.check_overlap(ns, name, wanted, option)
        ctx = self.ctx
        if not hasattr(self, "new_addresses"):
            self.new_addresses: list[tuple[str | None, str, str, str]] = []
        self.new_addresses += [(ns, name, cidr, f"{option}[{wanted.index(cidr)}]") for cidr in wanted if cidr not in current]
        ctx.projected.setdefault("addresses_gone", set()).update((ns, name, cidr) for cidr in set(current) - set(wanted))
        ctx.projected.setdefault("addresses_added", set()).update(
            (ns, name, cidr, ctx.lab) for cidr in set(wanted) - set(current))
        ctx.projected.setdefault("links_gone", set()).discard((ns, name))      # made again (a veth rebuilt)
        for cidr in sorted(set(current) - set(wanted)):
            def fn(cidr: str = cidr, text: str = f"delete address {cidr} from {name} in {where(ns)}") -> None:
                nl = ctx.writer(ns)
                netlink(text, nl.addr, "del", index=index_of(ctx, ns, name), gone_ok=True, **addr_kwargs(cidr))
            plan.do(f"delete address {cidr} from {name} in {where(ns)}", fn, touches=(ns,))
        for cidr in sorted(set(wanted) - set(current)):
            def fn(cidr: str = cidr, text: str = f"add address {cidr} to {name} in {where(ns)}") -> None:
                nl = ctx.writer(ns)
                netlink(text, nl.addr, "add", index=index_of(ctx, ns, name), exists_ok=True, **addr_kwargs(cidr))
            plan.do(f"add address {cidr} to {name} in {where(ns)}", fn, touches=(ns,))
        return list(wanted)

    def renew_neighbours(self, addresses: list[str], *namespaces: str | None) -> None:
        """The MAC address behind ``addresses`` (CIDRs) is new or may have changed (a veth pair
        created or replaced; a port joining a bridge, whose MAC follows its ports), but the
        neighbour entries elsewhere (the host's, other namespaces') would keep the old one for up
        to a minute: :meth:`finish` forgets them, after every other operation of the call."""
        if not hasattr(self, "renewed"):
            self.renewed: set[str] = set()
            self.renewed_ns: set[str | None] = {None}       # the host namespace, where a bridge usually is
        self.renewed.update(str(ipaddress.ip_interface(cidr).ip) for cidr in addresses)
        self.renewed_ns.update(namespaces)

    def finish(self, plan: Plan) -> None:
        """This lab's overlapping subnets judged (:meth:`check_lab_overlaps`); then one operation for the whole call,
        one neighbour dump per namespace: the host's, the namespaces involved and those of the lab. It belongs to the
        operations that changed the MAC addresses: no action of its own (a run that changes nothing does not plan it)."""
        self.check_lab_overlaps(plan)
        if not getattr(self, "renewed", None):
            return
        addresses = sorted(self.renewed)
        text = f"forget the neighbour entries of {', '.join(addresses)} (new or changed MAC addresses)"
        ctx, fixed = self.ctx, set(self.renewed_ns)

        def fn() -> None:
            others = sorted(set(lab_namespaces(ctx)) - fixed)
            forget_neighbours(ctx, [*sorted(fixed, key=lambda n: n or ""), *others], set(addresses), text)
        plan.op(text, fn, touches=())          # neighbour entries: nothing the shared reads hold

    def scan_owned(self, namespaces: Iterable[str | None], kind: str) -> list[tuple[str | None, dict]]:
        """(ns, link) for every link of ``kind`` this lab owns in ``namespaces``."""
        found = []
        for ns in sorted(namespaces, key=lambda n: n or ""):
            if not self.ctx.readable(ns):
                continue
            for link in links_in(self.ctx.session, ns).values():
                if link["kind"] == kind and self.owned(link):
                    found.append((ns, dict(link)))
        return found
