# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Links and their addresses: reading by name, and the veth / bridge_port resources."""

from __future__ import annotations

import ipaddress

from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Resource, netlink
from ansible_collections.nslab.net.plugins.module_utils._host.errors import Conflict, Failure, owner_tag, parse_owner, where
from ansible_collections.nslab.net.plugins.module_utils._host.readers import (
    addresses_in, find_link, lab_namespaces, links_in, read_link, veth_peer)
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid


def index_of(ctx, ns, name: str) -> int:
    """The ifindex of a link by name at apply time, remembered for the rest of the module
    call (``ctx.indexes``: a link keeps its index while it exists; deletes clear it)."""
    if (ns, name) not in ctx.indexes:
        link = read_link(ctx.reader(ns), name)
        if link is None:
            raise Failure(f"link {name} is missing in {where(ns)}")
        ctx.indexes[(ns, name)] = link["index"]
    return ctx.indexes[(ns, name)]


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


def forget_neighbours(ctx, namespaces, addresses: set, text: str) -> int:
    """Delete the neighbour entries (ARP, NDP) of ``addresses`` in each namespace, on any
    device: one dump per namespace, then one delete per entry found. Entries set by hand
    (permanent, noarp) stay. An entry gone meanwhile is fine. Returns how many went."""
    import socket

    wanted = {ipaddress.ip_address(a).compressed for a in addresses}
    deleted = 0
    for ns in namespaces:
        ipr = ctx.ipr(ns)
        for msg in netlink(text, lambda: list(ipr.neigh("dump", family=socket.AF_UNSPEC))):
            dst = msg.get_attr("NDA_DST")
            if msg["family"] not in (socket.AF_INET, socket.AF_INET6) or not dst:
                continue
            if msg["state"] & (NUD_NOARP | NUD_PERMANENT) or ipaddress.ip_address(dst).compressed not in wanted:
                continue
            netlink(f"{text} in {where(ns)}", ipr.neigh, "del", dst=dst, ifindex=msg["ifindex"],
                    family=msg["family"], gone_ok=True)
            deleted += 1
    return deleted


class LinkBase(Resource):
    """Shared link plumbing: the host's links read once per (namespace, name) ("have", in ``ctx.cache``), the
    links as this call's plan leaves them ("after", in ``ctx.planned``), planned ops."""

    def known(self, ns, name) -> dict | None:
        """What this call knows of a link without reading: as its plan leaves it, else as it was read."""
        key = ("link", ns, name)
        return self.ctx.planned[key] if key in self.ctx.planned else self.ctx.cache.get(key)

    def link(self, ns, name) -> dict | None:
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

    def addresses(self, ns) -> dict:
        """{ifindex: [CIDR, ...]} of a namespace, from one dump (not one per link)."""
        return addresses_in(self.ctx.session, ns)

    def project(self, ns, name, state) -> None:
        """What the plan leaves of a link (None: deleted), for the items planned after it."""
        self.ctx.planned[("link", ns, name)] = state

    def owned(self, link: dict | None) -> bool:
        return link is not None and parse_owner(link["alias"])[0] == self.ctx.lab

    def refuse(self, ns, link: dict, wanted: str) -> Conflict:
        lab = parse_owner(link["alias"])[0]
        who = f"made by nslab lab {lab!r}, not {self.ctx.lab!r}" if lab else "not made by nslab.net"
        return Conflict(f"{wanted}: link {link['name']} already exists in {where(ns)} "
                        f"(kind {link['kind'] or 'unknown'}, {who}); it is left untouched: "
                        "remove or rename it, or choose another name")

    # -- operations (resolved by name at apply time, so planned links work) --
    def op_set(self, ns, name, text, plan, **attrs):
        ctx = self.ctx

        def fn():
            ipr = ctx.ipr(ns)
            netlink(text, ipr.link, "set", index=index_of(ctx, ns, name), **attrs)
        plan.do(text, fn, touches=(ns,))

    def op_delete(self, ns, name, text, plan):
        ctx = self.ctx
        ctx.projected.setdefault("links_gone", set()).add((ns, name))      # for the steps after this one

        def fn():
            ctx.indexes.clear()        # a veth takes its peer with it; names may come back with new indexes
            link = read_link(ctx.reader(ns), name)
            if link is not None:
                netlink(text, ctx.ipr(ns).link, "del", index=link["index"], gone_ok=True)
        plan.do(text, fn)

    def check_overlap(self, ns, name, wanted: list[str], option: str) -> None:
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

    def lab_addresses(self, ns) -> list[tuple[str, str]]:
        """(link, CIDR) of this lab's links in a namespace as the plans so far leave them: the steps before this one
        in a batch (``ctx.projected``: the links they delete, the addresses they remove or add) and this call's
        items (``ctx.planned``: a link's new addresses, or None for a link it deletes)."""
        projected, lab = self.ctx.projected, self.ctx.lab
        gone_links, gone = projected.get("links_gone", set()), projected.get("addresses_gone", set())
        out = set()
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

    def check_lab_overlaps(self, plan) -> None:
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

    def plan_addresses(self, ns, name, current: list[str], wanted: list[str] | None, plan,
                       option: str = "address") -> list[str]:
        if wanted is None:
            return current
        self.check_overlap(ns, name, wanted, option)
        ctx = self.ctx
        if not hasattr(self, "new_addresses"):
            self.new_addresses: list = []
        self.new_addresses += [(ns, name, cidr, f"{option}[{wanted.index(cidr)}]") for cidr in wanted if cidr not in current]
        ctx.projected.setdefault("addresses_gone", set()).update((ns, name, cidr) for cidr in set(current) - set(wanted))
        ctx.projected.setdefault("addresses_added", set()).update(
            (ns, name, cidr, ctx.lab) for cidr in set(wanted) - set(current))
        ctx.projected.setdefault("links_gone", set()).discard((ns, name))      # made again (a veth rebuilt)
        for cidr in sorted(set(current) - set(wanted)):
            def fn(cidr=cidr, text=f"delete address {cidr} from {name} in {where(ns)}"):
                ipr = ctx.ipr(ns)
                netlink(text, ipr.addr, "del", index=index_of(ctx, ns, name), gone_ok=True, **addr_kwargs(cidr))
            plan.do(f"delete address {cidr} from {name} in {where(ns)}", fn, touches=(ns,))
        for cidr in sorted(set(wanted) - set(current)):
            def fn(cidr=cidr, text=f"add address {cidr} to {name} in {where(ns)}"):
                ipr = ctx.ipr(ns)
                netlink(text, ipr.addr, "add", index=index_of(ctx, ns, name), exists_ok=True, **addr_kwargs(cidr))
            plan.do(f"add address {cidr} to {name} in {where(ns)}", fn, touches=(ns,))
        return list(wanted)

    def renew_neighbours(self, addresses: list[str], *namespaces) -> None:
        """The MAC address behind ``addresses`` (CIDRs) is new or may have changed (a veth pair
        created or replaced; a port joining a bridge, whose MAC follows its ports), but the
        neighbour entries elsewhere (the host's, other namespaces') would keep the old one for up
        to a minute: :meth:`finish` forgets them, after every other operation of the call."""
        if not hasattr(self, "renewed"):
            self.renewed: set = set()
            self.renewed_ns: set = {None}       # the host namespace, where a bridge usually is
        self.renewed.update(str(ipaddress.ip_interface(cidr).ip) for cidr in addresses)
        self.renewed_ns.update(namespaces)

    def finish(self, plan) -> None:
        """This lab's overlapping subnets judged (:meth:`check_lab_overlaps`); then one operation for the whole call,
        one neighbour dump per namespace: the host's, the namespaces involved and those of the lab. It belongs to the
        operations that changed the MAC addresses: no action of its own (a run that changes nothing does not plan it)."""
        self.check_lab_overlaps(plan)
        if not getattr(self, "renewed", None):
            return
        addresses = sorted(self.renewed)
        text = f"forget the neighbour entries of {', '.join(addresses)} (new or changed MAC addresses)"
        ctx, fixed = self.ctx, set(self.renewed_ns)

        def fn():
            others = sorted(set(lab_namespaces(ctx)) - fixed)
            forget_neighbours(ctx, sorted(fixed, key=lambda n: n or "") + others, set(addresses), text)
        plan.op(text, fn, touches=())          # neighbour entries: nothing the shared reads hold

    def scan_owned(self, namespaces, kind: str) -> list[tuple]:
        """(ns, link) for every link of ``kind`` this lab owns in ``namespaces``."""
        found = []
        for ns in sorted(namespaces, key=lambda n: n or ""):
            if not self.ctx.readable(ns):
                continue
            for link in links_in(self.ctx.session, ns).values():
                if link["kind"] == kind and self.owned(link):
                    found.append((ns, dict(link)))
        return found


class VethResource(LinkBase):
    module_name = "veth"
    options = dict(
        name=dict(type="str"),
        peer=dict(type="str"),
        peer_netns=dict(type="str"),
        address=dict(type="list", elements="str"),
        peer_address=dict(type="list", elements="str"),
        mtu=dict(type="int"),
        up=dict(type="bool", default=True),
    )
    module_options = dict(allow_overlap=dict(type="bool", default=False))
    result_key = "veths"
    netns_options = ("netns", "peer_netns")

    def normalize(self, item, option):
        item["name"] = v.ifname(option("name"), item.get("name"))
        state = self.params["state"]
        if state == "present" or item.get("peer") is not None:
            peer = v.required(option("peer"), item.get("peer"), "(the name of the other end)")
            item["peer"] = v.ifname(option("peer"), peer)
        item["peer_netns"] = v.netns_name(option("peer_netns"), item.get("peer_netns"))
        item["address"] = v.interfaces(option("address"), item.get("address"))
        item["peer_address"] = v.interfaces(option("peer_address"), item.get("peer_address"))
        item["mtu"] = v.integer(option("mtu"), item.get("mtu"), 68, 65535)
        item["up"] = item.get("up") is not False
        six = [a for a in (item["address"] or []) + (item["peer_address"] or []) if ipaddress.ip_interface(a).version == 6]
        if item["mtu"] and item["mtu"] < IPV6_MIN_MTU and six:
            raise Invalid(option("mtu"), f"{item['mtu']} is below {IPV6_MIN_MTU}, the least a link with an IPv6 address "
                                         f"may have (the kernel refuses {six[0]} there): give mtu {IPV6_MIN_MTU} or more, "
                                         "or only IPv4 addresses")
        if item.get("peer") and item["peer"] == item["name"] and item["peer_netns"] == item["netns"]:
            raise Invalid(option("peer"), "the two ends cannot have the same name in the same namespace")
        if state == "absent":
            item["peer_netns"] = item["peer_netns"] if item.get("peer") else None
        return item

    def check_items(self, items):
        super().check_items(items)
        seen = {}
        for index, item in enumerate(items):
            for end in ((item["netns"], item["name"]), (item["peer_netns"], item.get("peer"))):
                if end[1] is None:
                    continue
                if end in seen and seen[end] != index:
                    raise Invalid(f"items[{index}]", f"link {end[1]} in {where(end[0])} is also used by items[{seen[end]}]")
                seen[end] = index

    def key(self, item):
        return f"{item['netns'] or '-'}/{item['name']}"

    def _tag(self, ns, peer_ns, peer):
        return f"{owner_tag(self.ctx.lab)} peer={peer}@{peer_ns or '-'}"

    def view(self, item, end, peer_end, up=True):
        if end is None:
            return None
        return dict(name=item["name"], netns=item["netns"], peer=item["peer"], peer_netns=item["peer_netns"],
                    mtu=end.get("mtu"), address=end.get("addresses", []),
                    peer_address=(peer_end or {}).get("addresses", []), up=end.get("up", up))

    def link_view(self, ns, link):
        """:meth:`view` of a veth this lab made, from the link alone (its peer named in its alias): the diff of a
        veth that is removed has the same shape as the one of a veth that is kept."""
        peer, pns = veth_peer(link["alias"])
        peer_end = self.link(pns, peer) if peer and self.ctx.readable(pns) else None
        return self.view(dict(name=link["name"], netns=ns, peer=peer, peer_netns=pns), link, peer_end)

    def paired(self, item, end, peer_end) -> bool:
        if end is None or peer_end is None:
            return False
        return (end["alias"] == self._tag(item["netns"], item["peer_netns"], item["peer"])
                and peer_end["alias"] == self._tag(item["peer_netns"], item["netns"], item["name"])
                and end["peer_index"] == peer_end["index"] and peer_end["peer_index"] == end["index"])

    def plan(self, items, plan):
        for item in items:
            if self.params["state"] == "absent":
                self.plan_absent(item, plan)
            else:
                self.plan_present(item, plan)

    def plan_absent(self, item, plan):
        ns, name = item["netns"], item["name"]
        end = self.link(ns, name)
        if end is None:
            plan.state(self.key(item), None, None)
            return
        if end["kind"] != "veth" or not self.owned(end):
            raise self.refuse(ns, end, f"delete veth {name}")
        before = self.link_view(ns, end)
        self.op_delete(ns, name, f"delete veth {name} in {where(ns)} (and its peer)", plan)
        self.project(ns, name, None)
        plan.state(self.key(item), before, None)

    def plan_present(self, item, plan):
        ns, name, pns, peer = item["netns"], item["name"], item["peer_netns"], item["peer"]
        end, peer_end = self.link(ns, name), self.link(pns, peer)
        what = f"veth {name} <-> {peer}@{pns or 'host'}"
        for n, link in ((ns, end), (pns, peer_end)):
            if link is not None and (link["kind"] != "veth" or not self.owned(link)):
                raise self.refuse(n, link, what)
        before = self.view(item, end, peer_end)
        if not self.paired(item, end, peer_end):
            if end is not None:
                self.op_delete(ns, name, f"delete veth {name} in {where(ns)}: its peer is not {peer}@{pns or 'host'}", plan)
            if peer_end is not None:
                self.op_delete(pns, peer, f"delete veth {peer} in {where(pns)}: its peer is not {name}@{ns or 'host'}", plan)
            self.op_create(item, plan, f"add {what}" + (f" in {where(ns)}" if ns else ""))
            self.renew_neighbours((item["address"] or []) + (item["peer_address"] or []), ns, pns)
            end = dict(name=name, mtu=item["mtu"] or 1500, addresses=[], up=item["up"], alias=None)
            peer_end = dict(name=peer, mtu=item["mtu"] or 1500, addresses=[], up=True, alias=None)
        else:
            for n, link, up in ((ns, end, item["up"]), (pns, peer_end, True)):
                if item["mtu"] and link["mtu"] != item["mtu"]:
                    self.op_set(n, link["name"], f"set mtu {item['mtu']} on {link['name']} in {where(n)}", plan,
                                mtu=item["mtu"])
                if link["up"] != up:
                    word = "up" if up else "down"
                    self.op_set(n, link["name"], f"set {link['name']} {word} in {where(n)}", plan, state=word)
        after_end = dict(end, up=item["up"], mtu=item["mtu"] or end["mtu"])
        after_peer = dict(peer_end, up=True, mtu=item["mtu"] or peer_end["mtu"])
        after_end["addresses"] = self.plan_addresses(ns, name, end["addresses"], item["address"], plan,
                                                     item.option("address"))
        after_peer["addresses"] = self.plan_addresses(pns, peer, peer_end["addresses"], item["peer_address"], plan,
                                                      item.option("peer_address"))
        self.project(ns, name, after_end)
        self.project(pns, peer, after_peer)
        plan.state(self.key(item), before, self.view(item, after_end, after_peer))

    def op_create(self, item, plan, text):
        ctx = self.ctx
        ns, name, pns, peer, mtu = item["netns"], item["name"], item["peer_netns"], item["peer"], item["mtu"]

        def fn():
            ipr = ctx.ipr(ns)
            peer_spec = dict(ifname=peer)
            if pns != ns:
                peer_spec["net_ns_fd"] = ctx.session.fd(pns)
            kwargs = dict(ifname=name, kind="veth", peer=peer_spec)
            if mtu:
                kwargs["mtu"] = mtu
            netlink(text, ipr.link, "add", **kwargs)
            pipr = ctx.ipr(pns)
            pidx = index_of(ctx, pns, peer)
            if mtu:
                netlink(text, pipr.link, "set", index=pidx, mtu=mtu)
            netlink(text, pipr.link, "set", index=pidx, ifalias=self._tag(pns, ns, name), state="up")
            netlink(text, ipr.link, "set", index=index_of(ctx, ns, name), ifalias=self._tag(ns, pns, peer),
                    state="up" if item["up"] else "down")
        plan.do(text, fn, touches=(ns, pns))     # a new pair changes the namespaces of its two ends

    def purge(self, items, plan):
        listed = set()
        for item in items:
            listed.update({(item["netns"], item["name"]), (item["peer_netns"], item.get("peer"))})
        namespaces = self.purge_namespaces(items, "netns", "peer_netns")
        gone = set()
        for ns, link in self.scan_owned(namespaces, "veth"):
            if (ns, link["name"]) in listed or (ns, link["name"]) in gone:
                continue
            peer, pns = veth_peer(link["alias"])
            gone.add((pns, peer))
            plan.state(f"{ns or '-'}/{link['name']}", self.link_view(ns, self.link(ns, link["name"]) or link), None)
            self.op_delete(ns, link["name"], f"delete veth {link['name']} in {where(ns)} (purge: no longer listed)", plan)

    def report(self, items, plan):
        if self.ctx.check_mode:
            return super().report(items, plan)
        out = []
        for item in items:
            end = self.link(item["netns"], item["name"])
            peer_end = self.link(item["peer_netns"], item["peer"]) if item.get("peer") else None
            out.append(self.view(item, end, peer_end) if end else self.absent(item))
        return out


class BridgePortResource(LinkBase):
    module_name = "bridge_port"
    options = dict(
        bridge=dict(type="str"),
        port=dict(type="str"),
        address=dict(type="list", elements="str"),
        hairpin=dict(type="bool"),
    )
    module_options = dict(allow_overlap=dict(type="bool", default=False))
    result_key = "bridges"

    def identity(self, item) -> dict:
        return dict(bridge=item["bridge"], netns=item["netns"])

    def normalize(self, item, option):
        item["bridge"] = v.ifname(option("bridge"), item.get("bridge"))
        item["port"] = v.ifname(option("port"), item["port"]) if item.get("port") is not None else None
        if item["port"] == item["bridge"]:
            raise Invalid(option("port"), "a bridge cannot be its own port")
        item["address"] = v.interfaces(option("address"), item.get("address"))
        if item.get("hairpin") is not None and item["port"] is None:
            raise Invalid(option("hairpin"), "is a port flag: give 'port' too")
        return item

    def key(self, item):
        base = f"{item['netns'] or '-'}/{item['bridge']}"
        return f"{base}/{item['port']}" if item["port"] else base

    def check_items(self, items):
        super().check_items(items)
        addresses = {}
        for index, item in enumerate(items):
            br = (item["netns"], item["bridge"])
            if item["address"] is not None:
                if br in addresses and addresses[br][1] != item["address"]:
                    raise Invalid(f"items[{index}].address", f"bridge {item['bridge']} is given other addresses "
                                  f"in items[{addresses[br][0]}]")
                addresses.setdefault(br, (index, item["address"]))

    def bridge_view(self, ns, br, ports: dict):
        if br is None:
            return None
        return dict(bridge=br["name"], netns=ns, address=br.get("addresses", []), up=br.get("up", True),
                    ports=sorted(ports), hairpin=sorted(p for p, on in ports.items() if on))

    def ports_of(self, ns, br) -> dict:
        """{port name: hairpin flag} of a bridge, as the kernel has it."""
        if br is None or br.get("index") is None or not self.ctx.readable(ns):
            return {}
        ports = {}
        for link in links_in(self.ctx.session, ns).values():
            if link["master"] == br["index"] and link["name"] != br["name"]:
                ports[link["name"]] = bool(link["hairpin"])
        return ports

    def plan(self, items, plan):
        absent = self.params["state"] == "absent"
        bridges = {}
        for item in items:
            ns, name = item["netns"], item["bridge"]
            if (ns, name) not in bridges:
                br = self.link(ns, name)
                if br is not None and br["kind"] != "bridge":
                    raise self.refuse(ns, br, f"bridge {name}")
                ports = self.ports_of(ns, br)
                bridges[(ns, name)] = dict(before=self.bridge_view(ns, br, ports), ports=dict(ports))
            entry = bridges[(ns, name)]
            if absent:
                self.plan_absent(item, entry, plan)
            else:
                self.plan_present(item, entry, plan)
        for (ns, name), entry in bridges.items():
            br = self.link(ns, name)
            plan.state(f"{ns or '-'}/{name}", entry["before"],
                       self.bridge_view(ns, br, entry["ports"]) if br else None)

    def plan_present(self, item, entry, plan):
        ns, name = item["netns"], item["bridge"]
        ctx = self.ctx
        br = self.link(ns, name)
        if br is None:
            text = f"add bridge {name} in {where(ns)}"

            def create(text=text):
                ipr = ctx.ipr(ns)
                netlink(text, ipr.link, "add", ifname=name, kind="bridge")
                netlink(text, ipr.link, "set", index=index_of(ctx, ns, name), ifalias=owner_tag(ctx.lab),
                        state="up")
            plan.do(text, create, touches=(ns,))
            br = dict(name=name, index=None, kind="bridge", alias=owner_tag(ctx.lab), up=True, mtu=1500,
                      master=None, addresses=[])
            self.project(ns, name, br)
        elif ("link", ns, name) not in ctx.planned:     # what was read stays as read ("have"): the plan writes a copy
            br = dict(br, addresses=list(br["addresses"]))
            self.project(ns, name, br)
        ours = self.owned(br)
        if item["address"] is not None and set(item["address"]) != set(br["addresses"]) and not ours:
            raise self.refuse(ns, br, f"set addresses {', '.join(item['address'])} on bridge {name}")
        if ours:
            if not br["up"]:
                self.op_set(ns, name, f"set bridge {name} up in {where(ns)}", plan, state="up")
                br["up"] = True
            br["addresses"] = self.plan_addresses(ns, name, br["addresses"], item["address"], plan,
                                                  item.option("address"))
        port = item["port"]
        if port is None:
            return
        link = self.link(ns, port)
        if link is None and not ctx.check_mode:
            raise Invalid(item.option("port"), f"link {port} does not exist in {where(ns)}; create it first "
                          "(nslab.net.veth)")
        if link is not None and (link.get("loopback") or link.get("kind") == "bridge"):
            raise Invalid(item.option("port"), f"{port} is a {'loopback' if link.get('loopback') else 'bridge'} "
                          "link: it cannot be a bridge port")
        if port not in entry["ports"]:
            self.op_set_master(ns, port, name, f"attach {port} to bridge {name} in {where(ns)}", plan)
            entry["ports"][port] = False        # a newly attached port starts with hairpin off
            self.renew_neighbours(br["addresses"], ns)     # the bridge's MAC follows its ports
        if item["hairpin"] is not None and entry["ports"][port] != item["hairpin"]:
            flag = item["hairpin"]
            text = f"set hairpin {'on' if flag else 'off'} on port {port} of {name} in {where(ns)}"

            def hairpin(text=text, flag=int(flag)):
                ipr = ctx.ipr(ns)
                netlink(text, ipr.brport, "set", index=index_of(ctx, ns, port), mode=flag)
            plan.do(text, hairpin, touches=(ns,))
            entry["ports"][port] = flag

    def op_set_master(self, ns, port, bridge, text, plan):
        ctx = self.ctx

        def fn():
            ipr = ctx.ipr(ns)
            netlink(text, ipr.link, "set", index=index_of(ctx, ns, port), master=index_of(ctx, ns, bridge))
        plan.do(text, fn, touches=(ns,))

    def plan_absent(self, item, entry, plan):
        ns, name, port = item["netns"], item["bridge"], item["port"]
        br = self.link(ns, name)
        if br is None:
            return
        if port is not None:
            if port in entry["ports"]:
                self.op_set(ns, port, f"detach {port} from bridge {name} in {where(ns)}", plan, master=0)
                del entry["ports"][port]
            return
        if not self.owned(br):
            raise self.refuse(ns, br, f"delete bridge {name}")
        self.op_delete(ns, name, f"delete bridge {name} in {where(ns)}", plan)
        self.project(ns, name, None)

    def purge(self, items, plan):
        if self.params["state"] == "absent":
            return
        namespaces = self.purge_namespaces(items)
        listed_bridges = {(item["netns"], item["bridge"]) for item in items}
        listed_ports = {(item["netns"], item["bridge"], item["port"]) for item in items if item["port"]}
        for ns, br in self.scan_owned(namespaces, "bridge"):
            name = br["name"]
            if (ns, name) not in listed_bridges:
                self.op_delete(ns, name, f"delete bridge {name} in {where(ns)} (purge: no longer listed)", plan)
                full = self.link(ns, name) or br
                plan.state(f"{ns or '-'}/{name}", self.bridge_view(ns, full, self.ports_of(ns, full)), None)
                continue
            for port in self.ports_of(ns, br):
                if (ns, name, port) not in listed_ports:
                    self.op_set(ns, port, f"detach {port} from bridge {name} in {where(ns)} (purge: no longer listed)",
                                plan, master=0)
                    after = plan.after.get(f"{ns or '-'}/{name}")
                    if after and port in after["ports"]:
                        after["ports"] = [p for p in after["ports"] if p != port]
                        after["hairpin"] = [p for p in after["hairpin"] if p != port]

    def report(self, items, plan):
        if self.ctx.check_mode:
            seen: dict = {}
            for item in items:
                seen.setdefault(f"{item['netns'] or '-'}/{item['bridge']}", item)
            return [plan.after.get(key) or self.absent(item) for key, item in seen.items()]
        out, seen = [], set()
        for item in items:
            key = (item["netns"], item["bridge"])
            if key in seen:
                continue
            seen.add(key)
            br = self.link(*key)
            out.append(self.bridge_view(key[0], br, self.ports_of(key[0], br)) if br else self.absent(item))
        return out
