# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ns_route resource. Identity: netns + table + dst + metric.

Routes the collection makes carry a route protocol number derived from the lab
label (``lab_proto``), so purge and absent touch only this lab's routes.
"""

from __future__ import annotations

import ipaddress
import socket
import zlib
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Resource, netlink
from ansible_collections.nslab.net.plugins.module_utils._host.errors import Conflict, known, where
from ansible_collections.nslab.net.plugins.module_utils._host.readers import (
    all_addresses_in, find_link, lab_namespaces, links_in, marker_lab, read_link, route_dict, routes_in)
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Item, Plan

RT_TABLE_MAIN = 254
IP6_DEFAULT_METRIC = 1024
TABLE_NAMES = {"main": 254, "default": 253, "local": 255}
PROTO_BASE, PROTO_SPAN = 110, 60   # 110..169: unused by iproute2's rt_protos
RTPROT_KERNEL = 2                  # the routes the kernel adds for an address's own subnet
#: the route types reset removes (rtnetlink's numbers): unicast, and those a student may add with ip route add TYPE
ROUTE_TYPES = {1: "unicast", 6: "blackhole", 7: "unreachable", 8: "prohibit"}


def lab_proto(lab: str) -> int:
    """The route protocol number that marks this lab's routes."""
    return PROTO_BASE + zlib.crc32(lab.encode()) % PROTO_SPAN


def _found(ns: str | None, route: dict, family: int, rtype: int = 1) -> dict:
    """An item for a route read from the kernel that no item names (purge, reset): what deleting it needs."""
    return dict(netns=ns, dst=route["dst"], prefix=route["prefix"], family=family, metric=route["metric"],
                table=route["table"], gateway=None, dev=None, type=rtype)


class RouteResource(Resource):
    module_name = "ns_route"
    options = dict(
        dst=dict(type="str"),
        gateway=dict(type="str"),
        dev=dict(type="str"),
        metric=dict(type="int"),
        table=dict(type="str"),
    )
    module_options = dict(reset=dict(type="bool", default=False))
    result_key = "routes"

    def normalize(self, item: dict, option: Callable[[str], str]) -> dict:
        dst = v.required(option("dst"), item.get("dst"), "('default' or a CIDR)")
        gateway = v.address(option("gateway"), item.get("gateway"))
        gw_family = ipaddress.ip_address(gateway).version if gateway else None
        prefix: str | None
        if str(dst).strip() == "default":
            family = gw_family or 4
            prefix = "0.0.0.0/0" if family == 4 else "::/0"
        else:
            prefix = v.network(option("dst"), dst)
            prefix = known(prefix)       # dst is required
            family = ipaddress.ip_network(prefix).version
            if gw_family and gw_family != family:
                raise Invalid(option("gateway"), f"{gateway} is IPv{gw_family} but dst {prefix} is IPv{family}")
        item["dst"] = "default" if prefix in ("0.0.0.0/0", "::/0") else prefix
        item["prefix"] = prefix
        item["family"] = family
        item["gateway"] = gateway
        item["dev"] = v.ifname(option("dev"), item["dev"]) if item.get("dev") is not None else None
        if self.params["state"] == "present" and not gateway and not item["dev"]:
            raise Invalid(option("gateway"), "a route needs a gateway, a dev, or both")
        item["metric"] = v.integer(option("metric"), item.get("metric") or 0, 0, 2 ** 32 - 1)
        if family == 6 and item["metric"] == 0:
            item["metric"] = IP6_DEFAULT_METRIC     # what the kernel stores for metric 0
        table = item.get("table")
        if table is None:
            item["table"] = RT_TABLE_MAIN
        elif str(table) in TABLE_NAMES:
            item["table"] = TABLE_NAMES[str(table)]
        else:
            item["table"] = v.integer(option("table"), table, 1, 2 ** 32 - 1)
        if item["table"] == 255:
            raise Invalid(option("table"), "the local table belongs to the kernel")
        return item

    def key(self, item: dict) -> str:
        return f"{item['netns'] or '-'} table {item['table']} {item['prefix']} metric {item['metric']}"

    def routes(self, ns: str | None, family: int) -> list[dict]:
        key = ("routes", ns, family)
        if key not in self.ctx.cache:
            found = []
            if self.ctx.readable(ns):
                session = self.ctx.session
                links = {link["index"]: name for name, link in links_in(session, ns).items()}
                fam = socket.AF_INET if family == 4 else socket.AF_INET6
                # both families in one dump, shared by every call of the run until a change
                for msg in routes_in(session, ns):
                    if msg["type"] == 1 and msg["family"] == fam:   # unicast
                        found.append(route_dict(msg, links))
            self.ctx.cache[key] = found
        return self.ctx.cache[key]

    def find(self, item: dict) -> dict | None:
        for route in self.routes(item["netns"], item["family"]):
            if route["prefix"] == item["prefix"] and route["metric"] == item["metric"] \
                    and route["table"] == item["table"]:
                return route
        return None

    def view(self, item: dict, route: dict | None) -> dict | None:
        if route is None:
            return None
        return dict(netns=item["netns"], dst=item["dst"], gateway=route.get("gateway"), dev=route.get("dev"),
                    metric=item["metric"], table=item["table"])

    def may_replace(self, ns: str | None, route: dict) -> bool:
        if route["proto"] == lab_proto(self.ctx.lab):
            return True
        # a namespace this lab made is the lab's: its routes are repaired
        return ns is not None and marker_lab(self.ctx, ns) == self.ctx.lab

    def refuse(self, item: dict, route: dict, doing: str) -> Conflict:
        return Conflict(f"{doing}: route {item['dst']} (table {item['table']}, metric {item['metric']}) already exists "
                        f"in {where(item['netns'])} via {route.get('gateway') or '-'} dev {route.get('dev') or '-'} "
                        f"(proto {route['proto']}, not made by nslab lab {self.ctx.lab!r}); it is left untouched")

    def check_gateway(self, item: Item) -> None:
        gateway, ns = item["gateway"], item["netns"]
        if not gateway or self.ctx.check_mode or not self.ctx.readable(ns):
            return
        ip = ipaddress.ip_address(gateway)
        if ip.version == 6 and ip.is_link_local:
            if not item["dev"]:
                raise Invalid(item.option("dev"), f"a link-local gateway {gateway} needs 'dev'")
            return
        for _index, cidr, _scope in all_addresses_in(self.ctx.session, ns):   # one dump per namespace
            iface = ipaddress.ip_interface(cidr)
            if ip in iface.network and ip != iface.ip:
                return
        raise Invalid(item.option("gateway"), f"{gateway} is not inside any subnet connected in {where(ns)}: "
                      "no address of the namespace reaches it (add the address first, e.g. with nslab.net.veth)")

    def plan(self, items: list[Any], plan: Plan) -> None:
        for item in items:
            current = self.find(item)
            if self.params["state"] == "absent":
                if current is None:
                    plan.state(self.key(item), None, None)
                    continue
                if not self.may_replace(item["netns"], current):
                    raise self.refuse(item, current, f"delete route {item['dst']}")
                self.op(item, "del", f"delete route {item['dst']} (table {item['table']}, metric {item['metric']}) "
                        f"in {where(item['netns'])}", plan)
                plan.state(self.key(item), self.view(item, current), None)
                continue
            self.check_gateway(item)
            if item["dev"] and not self.ctx.check_mode and find_link(self.ctx.session, item["netns"], item["dev"]) is None:
                raise Invalid(item.option("dev"), f"link {item['dev']} does not exist in {where(item['netns'])}")
            want = dict(gateway=item["gateway"], dev=item["dev"])
            if current is not None:
                same = current["gateway"] == item["gateway"] and (item["dev"] is None or current["dev"] == item["dev"]) \
                    and current["proto"] == lab_proto(self.ctx.lab)
                if same:
                    plan.state(self.key(item), self.view(item, current), self.view(item, current))
                    continue
                if not self.may_replace(item["netns"], current):
                    raise self.refuse(item, current, f"route {item['dst']}")
                want["dev"] = item["dev"] or (current["dev"] if current["gateway"] == item["gateway"] else None)
            via = f" via {item['gateway']}" if item["gateway"] else ""
            dev = f" dev {item['dev']}" if item["dev"] else ""
            self.op(item, "replace", f"{'replace' if current else 'add'} route {item['dst']}{via}{dev} "
                    f"(table {item['table']}, metric {item['metric']}) in {where(item['netns'])}", plan)
            plan.state(self.key(item), self.view(item, current), self.view(item, want))

    def op(self, item: dict, command: str, text: str, plan: Plan) -> None:
        ctx = self.ctx

        def fn() -> None:
            nl = ctx.writer(item["netns"])
            net = ipaddress.ip_network(item["prefix"])
            kwargs = dict(family=socket.AF_INET if item["family"] == 4 else socket.AF_INET6,
                          dst_len=net.prefixlen, table=item["table"], priority=item["metric"])
            if net.prefixlen:
                kwargs["dst"] = str(net.network_address)
            if item.get("type", 1) != 1:       # reset: a blackhole, unreachable or prohibit route
                kwargs["type"] = item["type"]
            if command != "del":
                kwargs["proto"] = lab_proto(ctx.lab)
                if item["gateway"]:
                    kwargs["gateway"] = item["gateway"]
                if item["dev"]:
                    link = read_link(ctx.reader(item["netns"]), item["dev"])
                    if link is None:
                        raise Invalid("dev", f"link {item['dev']} does not exist in {where(item['netns'])}")
                    kwargs["oif"] = link["index"]
            netlink(text, nl.route, command, gone_ok=(command == "del"), **kwargs)
        plan.do(text, fn, touches=(item["netns"],))

    def purge(self, items: list[dict], plan: Plan) -> None:
        if self.params["state"] == "absent":
            return
        listed = {self.key(item) for item in items}
        scopes = {(ns, family) for ns in self.purge_namespaces(items) for family in (4, 6)}
        proto = lab_proto(self.ctx.lab)
        for ns, family in sorted(scopes, key=lambda s: (s[0] or "", s[1])):
            for route in self.routes(ns, family):
                if route["proto"] != proto:
                    continue
                item = _found(ns, route, family)
                if self.key(item) in listed:
                    continue
                self.op(item, "del", f"delete route {route['dst']} (table {route['table']}, metric {route['metric']}) "
                        f"in {where(ns)} (purge: no longer listed)", plan)
                plan.state(self.key(item), self.view(item, route), None)
        if self.params.get("reset"):
            self.reset(listed, plan)

    def reset(self, listed: set[str], plan: Plan) -> None:
        """``reset``: the routes made by hand (not by nslab, not the kernel's own) in every namespace this lab made,
        removed unless an item names them (an item's route is replaced by plan anyway); unicast routes and the
        blackhole, unreachable and prohibit ones a student may add."""
        proto = lab_proto(self.ctx.lab)
        session = self.ctx.session
        seen: set[str] = set()
        for ns in sorted(lab_namespaces(self.ctx)):
            links = {link["index"]: name for name, link in links_in(session, ns).items()}
            dumps = [routes_in(session, ns)] + [
                session.reader(ns).routes(kind=kind) for kind in ROUTE_TYPES if kind != 1]
            for msg in (msg for dump in dumps for msg in dump):
                if msg["type"] not in ROUTE_TYPES or msg["proto"] in (proto, RTPROT_KERNEL):
                    continue
                route = route_dict(msg, links)
                if route["table"] == 255:
                    continue
                family = 4 if msg["family"] == socket.AF_INET else 6
                item = _found(ns, route, family, msg["type"])
                if self.key(item) in listed or self.key(item) in seen:    # a kernel without strict dumps
                    continue                                              # sends every type in each
                seen.add(self.key(item))
                kind = "" if msg["type"] == 1 else f"{ROUTE_TYPES[msg['type']]} "
                via = f" via {route['gateway']}" if route.get("gateway") else ""
                dev = f" dev {route['dev']}" if route.get("dev") else ""
                self.op(item, "del", f"delete route {kind}{route['dst']}{via}{dev} (table {route['table']}, metric "
                        f"{route['metric']}) in {where(ns)} (reset: made by hand, proto {route['proto']})", plan)
                shown = self.view(item, route)
                if msg["type"] != 1:
                    shown = known(shown)        # route is not None
                    shown["type"] = ROUTE_TYPES[msg["type"]]
                plan.state(self.key(item), shown, None)

    def identity(self, item: dict) -> dict:
        return dict(netns=item["netns"], dst=item["dst"])

    def report(self, items: list[dict], plan: Plan) -> list:
        if self.ctx.check_mode:
            return super().report(items, plan)
        return [self.view(item, self.find(item)) or self.absent(item) for item in items]
