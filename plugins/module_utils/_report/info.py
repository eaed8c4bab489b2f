# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netns_info: read-only view of namespaces, links, addresses, routes and our NAT rules."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._host import session as nsmod
from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Context, read_only
from ansible_collections.nslab.net.plugins.module_utils._host.errors import parse_owner
from ansible_collections.nslab.net.plugins.module_utils._nat.natread import lab_rules, read_nat
from ansible_collections.nslab.net.plugins.module_utils._host.readers import (
    address_list, address_map, link_dict, marker_lab, read_uplink, route_dict, uplink_of, veth_peer)
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

if TYPE_CHECKING:
    from typing import Any

#: the netns_info module's options
SPEC = dict(netns=dict(type="str"), nat=dict(type="bool", default=True), namespaces=dict(type="bool", default=True),
            links=dict(type="bool", default=True))


def namespace_info(ctx: Context, ns: str | None, with_nat: bool, with_links: bool = True) -> dict:
    if not with_links:
        out: dict[str, Any] = dict(name=ns, lab=marker_lab(ctx, ns) if ns else None)
        return add_nat(ctx, ns, out) if with_nat else out
    reader = ctx.reader(ns)
    links, names = [], {}
    msgs = reader.links()
    for msg in msgs:
        names[msg["index"]] = msg.get_attr("IFLA_IFNAME")
    lo_lab = None
    addresses = address_map(address_list(reader))
    for msg in msgs:
        link = link_dict(msg)
        lab = parse_owner(link["alias"])[0]
        if link["name"] == "lo":
            lo_lab = lab
        entry = dict(name=link["name"], kind=link["kind"] or ("loopback" if link["name"] == "lo" else "device"),
                     up=link["up"], mtu=link["mtu"], master=names.get(link["master"]) if link["master"] else None,
                     addresses=addresses.get(link["index"], []), lab=lab)
        peer, pns = veth_peer(link["alias"]) if link["kind"] == "veth" else (None, None)
        if peer:
            entry["peer"], entry["peer_netns"] = peer, pns
        if link["hairpin"] is not None:
            entry["hairpin"] = link["hairpin"]
        links.append(entry)
    routes = []
    for family in (socket.AF_INET, socket.AF_INET6):
        for route_msg in reader.routes(family):
            if route_msg["type"] != 1:
                continue
            route = route_dict(route_msg, names)
            if family == socket.AF_INET6 and (route["prefix"].startswith("fe80:") or route["table"] == 255):
                continue
            routes.append(dict(dst=route["dst"], gateway=route["gateway"], dev=route["dev"], metric=route["metric"],
                               table=route["table"], proto=route["proto"]))
    out = dict(name=ns, lab=lo_lab if ns else None, links=links, routes=routes)
    return add_nat(ctx, ns, out) if with_nat else out


def add_nat(ctx: Context, ns: str | None, out: dict) -> dict:
    """The NAT backend of a namespace and the rules this collection made there."""
    scope = read_nat(ctx, ns)
    out["nat_backend"] = scope["backend"]
    out["nat_rules"] = [dict(lab=e["lab"], type=e["type"], key=k, to=e.get("to"), comment=e.get("comment"),
                             rules=e["lines"]) for k, e in sorted(lab_rules(scope).items())]
    return out


def main(module: AnsibleModule) -> None:
    read_only(module, lambda session: read_info(module, Context(module, "nslab", session)))


def read_info(module: AnsibleModule, ctx: Context) -> dict:
    """netns_info's result: the namespaces, each one's links, addresses, routes and NAT, the uplink."""
    params = module.params
    wanted = params.get("netns")
    names = nsmod.list_namespaces()
    if wanted is not None:
        v.netns_name("netns", wanted)
        if wanted not in names:
            raise Invalid("netns", f"namespace {wanted!r} does not exist")
        scopes = [wanted]
    else:
        scopes = [None] + (names if params.get("namespaces", True) else [])
    info = [namespace_info(ctx, ns, params["nat"], params["links"]) for ns in scopes]
    result = dict(changed=False, namespaces=list(names), info=info)
    if wanted is None:
        result["uplink"] = uplink_of(info[0]) if params["links"] else read_uplink(ctx.session)
    return result
