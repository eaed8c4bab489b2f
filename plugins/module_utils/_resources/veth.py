# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The veth resource: a veth pair, its ends in namespaces (or the host), their addresses and state."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._engine.engine import netlink
from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._host.errors import known, owner_tag, where
from ansible_collections.nslab.net.plugins.module_utils._host.readers import veth_peer
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid
from ansible_collections.nslab.net.plugins.module_utils._resources.links import IPV6_MIN_MTU, LinkBase, index_of

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Item, Plan


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

    def normalize(self, item: dict, option: Callable[[str], str]) -> dict:
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

    def check_items(self, items: list[dict]) -> None:
        super().check_items(items)
        seen: dict[tuple[str | None, str | None], int] = {}
        for index, item in enumerate(items):
            for end in ((item["netns"], item["name"]), (item["peer_netns"], item.get("peer"))):
                if end[1] is None:
                    continue
                if end in seen and seen[end] != index:
                    raise Invalid(f"items[{index}]", f"link {end[1]} in {where(end[0])} is also used by items[{seen[end]}]")
                seen[end] = index

    def key(self, item: dict) -> str:
        return f"{item['netns'] or '-'}/{item['name']}"

    def _tag(self, ns: str | None, peer_ns: str | None, peer: str | None) -> str:
        return f"{owner_tag(self.ctx.lab)} peer={peer}@{peer_ns or '-'}"

    def view(self, item: dict, end: dict | None, peer_end: dict | None, up: bool = True) -> dict | None:
        if end is None:
            return None
        return dict(name=item["name"], netns=item["netns"], peer=item["peer"], peer_netns=item["peer_netns"],
                    mtu=end.get("mtu"), address=end.get("addresses", []),
                    peer_address=(peer_end or {}).get("addresses", []), up=end.get("up", up))

    def link_view(self, ns: str | None, link: dict) -> dict | None:
        """:meth:`view` of a veth this lab made, from the link alone (its peer named in its alias): the diff of a
        veth that is removed has the same shape as the one of a veth that is kept."""
        peer, pns = veth_peer(link["alias"])
        peer_end = self.link(pns, peer) if peer and self.ctx.readable(pns) else None
        return self.view(dict(name=link["name"], netns=ns, peer=peer, peer_netns=pns), link, peer_end)

    def paired(self, item: dict, end: dict | None, peer_end: dict | None) -> bool:
        if end is None or peer_end is None:
            return False
        return (end["alias"] == self._tag(item["netns"], item["peer_netns"], item["peer"])
                and peer_end["alias"] == self._tag(item["peer_netns"], item["netns"], item["name"])
                and end["peer_index"] == peer_end["index"] and peer_end["peer_index"] == end["index"])

    def plan(self, items: list[Any], plan: Plan) -> None:
        for item in items:
            if self.params["state"] == "absent":
                self.plan_absent(item, plan)
            else:
                self.plan_present(item, plan)

    def plan_absent(self, item: dict, plan: Plan) -> None:
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

    def plan_present(self, item: Item, plan: Plan) -> None:
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
            end, peer_end = known(end), known(peer_end)     # paired
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

    def op_create(self, item: dict, plan: Plan, text: str) -> None:
        ctx = self.ctx
        ns, name, pns, peer, mtu = item["netns"], item["name"], item["peer_netns"], item["peer"], item["mtu"]

        def fn() -> None:
            nl = ctx.writer(ns)
            peer_spec = dict(ifname=peer)
            if pns != ns:
                peer_spec["net_ns_fd"] = ctx.session.fd(pns)
            kwargs = dict(ifname=name, kind="veth", peer=peer_spec)
            if mtu:
                kwargs["mtu"] = mtu
            netlink(text, nl.link, "add", **kwargs)
            peer_nl = ctx.writer(pns)
            pidx = index_of(ctx, pns, peer)
            if mtu:
                netlink(text, peer_nl.link, "set", index=pidx, mtu=mtu)
            netlink(text, peer_nl.link, "set", index=pidx, ifalias=self._tag(pns, ns, name), state="up")
            netlink(text, nl.link, "set", index=index_of(ctx, ns, name), ifalias=self._tag(ns, pns, peer),
                    state="up" if item["up"] else "down")
        plan.do(text, fn, touches=(ns, pns))     # a new pair changes the namespaces of its two ends

    def purge(self, items: list[dict], plan: Plan) -> None:
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

    def report(self, items: list[dict], plan: Plan) -> list:
        if self.ctx.check_mode:
            return super().report(items, plan)
        out = []
        for item in items:
            end = self.link(item["netns"], item["name"])
            peer_end = self.link(item["peer_netns"], item["peer"]) if item.get("peer") else None
            out.append(self.view(item, end, peer_end) if end else self.absent(item))
        return out
