# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reader layer: what the host has - links, addresses, routes, the uplink, the lab marks of namespaces -
read through the run's netlink session (session.py), shared by every resource and by netns_info. Nothing here
changes the host or knows a resource; the resources plan on what these return."""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._host import session as nsmod
from ansible_collections.nslab.net.plugins.module_utils._host.errors import Failure, parse_owner

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from ansible_collections.nslab.net.plugins.module_utils._host.reader import Reader

IFF_UP = 1
IFF_LOOPBACK = 8


def read_link(reader: Reader, name: str) -> dict | None:
    """One link by name (a netlink get, never a dump) through a namespace's :class:`reader.Reader`;
    None if it is missing."""
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        msg = reader.link(name)
    except NetlinkError as exc:
        if exc.code in (errno.ENODEV, errno.ENOENT):
            return None
        raise Failure(f"reading link {name}: errno {exc.code}") from None
    return link_dict(msg)


def link_dict(msg: Any) -> dict:
    info = msg.get_attr("IFLA_LINKINFO")
    kind = info.get_attr("IFLA_INFO_KIND") if info else None
    hairpin = None
    if info and info.get_attr("IFLA_INFO_SLAVE_KIND") == "bridge":
        slave = info.get_attr("IFLA_INFO_SLAVE_DATA")
        if slave:
            hairpin = bool(slave.get_attr("IFLA_BRPORT_MODE"))
    return dict(
        name=msg.get_attr("IFLA_IFNAME"), index=msg["index"], kind=kind,
        alias=msg.get_attr("IFLA_IFALIAS") or None, up=bool(msg["flags"] & IFF_UP),
        loopback=bool(msg["flags"] & IFF_LOOPBACK),
        mtu=msg.get_attr("IFLA_MTU"), master=msg.get_attr("IFLA_MASTER") or None,
        peer_index=msg.get_attr("IFLA_LINK"), hairpin=hairpin,
    )


def address_list(reader: Reader) -> list[tuple]:
    """(ifindex, CIDR, scope) of every address of a namespace, from one dump."""
    out = []
    for msg in reader.addresses():
        addr = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
        if addr:
            out.append((msg["index"], interface_text(addr, msg["prefixlen"]), msg["scope"]))
    return out


def interface_text(addr: str, prefixlen: int) -> str:
    """An address of the kernel's answer with its prefix length, as the options are normalized
    (``ipaddress.ip_interface(...).with_prefixlen``). The kernel's IPv4 text already is that, and is taken as it is:
    parsing every address of a namespace's dump was two thirds of reading it. IPv6 text is parsed (``inet_ntop``
    writes some addresses another way, and Python 3.13 writes an IPv4-mapped one differently in ``str`` and in
    ``with_prefixlen``)."""
    if ":" not in addr:
        return f"{addr}/{prefixlen}"
    return ipaddress.ip_interface(f"{addr}/{prefixlen}").with_prefixlen


def network_text(family: int, dst: str | None, dst_len: int) -> str:
    """A route's destination as ``ipaddress.ip_network(...).compressed`` writes it; the kernel's IPv4 text (always
    masked: the kernel refuses host bits) already is, and is taken as it is."""
    if family == socket.AF_INET:
        return f"{dst or '0.0.0.0'}/{dst_len}"
    return ipaddress.ip_network(f"{dst or '::'}/{dst_len}").compressed


def address_map(found: list) -> dict:
    """{ifindex: sorted global (non-link-local) addresses as CIDR strings}, from :func:`address_list`."""
    out: dict = {}
    for index, cidr, scope in found:
        if scope == 0:
            out.setdefault(index, set()).add(cidr)
    return {index: sorted(cidrs) for index, cidrs in out.items()}


#: lookups by name in the host namespace before one dump serves the rest (a lab namespace,
#: with a handful of links, is dumped at once; a host may hold many links the lab never asks about)
HOST_DUMP_AFTER = 8


def links_in(session: nsmod.Session, ns: str | None) -> dict:
    """{name: link} of a namespace from one dump, shared by every module call of the run
    until something changes. Callers must not mutate it."""
    def read() -> dict[str, dict]:
        return {link["name"]: link for link in (link_dict(msg) for msg in session.reader(ns).links())}
    return session.cached(("links", ns), read)


def find_link(session: nsmod.Session, ns: str | None, name: str) -> dict | None:
    """One link by name (a copy), from the namespace's dump when there is or should be
    one, else by a netlink get."""
    dump = session.peek(("links", ns))
    if dump is None:
        asked = session.cached(("asked", ns), set)
        asked.add(name)
        if ns is None and len(asked) <= HOST_DUMP_AFTER:
            link = session.cached(("link", ns, name), lambda: read_link(session.reader(ns), name))
            return dict(link) if link is not None else None
        dump = links_in(session, ns)
    link = dump.get(name)
    return dict(link) if link is not None else None


def all_addresses_in(session: nsmod.Session, ns: str | None) -> list[tuple]:
    """(ifindex, CIDR, scope) of every address of a namespace, one dump shared like :func:`links_in`."""
    return session.cached(("all-addresses", ns), lambda: address_list(session.reader(ns)))


def addresses_in(session: nsmod.Session, ns: str | None) -> dict:
    """{ifindex: [CIDR, ...]} of a namespace's global addresses (from the same dump)."""
    return session.cached(("addresses", ns), lambda: address_map(all_addresses_in(session, ns)))


def routes_in(session: nsmod.Session, ns: str | None) -> list:
    """A namespace's unicast routes of every table and both families, one dump shared like :func:`links_in`."""
    return session.cached(("routes", ns), lambda: session.reader(ns).routes())


def route_dict(msg: Any, links: dict) -> dict:
    family = msg["family"]
    dst = msg.get_attr("RTA_DST")
    width = 32 if family == socket.AF_INET else 128
    dst = network_text(family, dst, msg["dst_len"])
    oif = msg.get_attr("RTA_OIF")
    return dict(dst="default" if msg["dst_len"] == 0 else dst, prefix=dst, family=family,
                gateway=msg.get_attr("RTA_GATEWAY"), dev=links.get(oif, oif), metric=msg.get_attr("RTA_PRIORITY") or 0,
                table=msg.get_attr("RTA_TABLE") or msg["table"], proto=msg["proto"], width=width)


def uplink_of(host: dict) -> dict:
    """The uplink of a namespace read as {routes, links}: the device of its IPv4 default
    route (lowest metric, main table) and that device's first global IPv4 address."""
    defaults = sorted((r for r in host["routes"] if r["dst"] == "default" and r["table"] == 254
                       and r["gateway"] and ":" not in r["gateway"]), key=lambda r: r["metric"])
    if not defaults:
        return dict(interface=None, address=None, gateway=None)
    dev = defaults[0]["dev"]
    link: dict = next((link for link in host["links"] if link["name"] == dev), {"addresses": []})
    v4 = [a.split("/")[0] for a in link["addresses"] if ":" not in a]
    return dict(interface=dev, address=v4[0] if v4 else None, gateway=defaults[0]["gateway"])


def read_uplink(session: nsmod.Session, ns: str | None = None) -> dict:
    """The uplink of a namespace - the one reader of it, for every module and the boot run: :func:`uplink_of` without
    reading every link (the IPv4 default routes, then the device they use and its addresses: the same answer whatever
    the number of links), read once per run until a write there; a copy, the caller's to change."""
    return dict(session.cached(("uplink", ns), lambda: _read_uplink(session.reader(ns))))


def _read_uplink(reader: Reader) -> dict:
    routes = [msg for msg in reader.routes(socket.AF_INET) if msg["type"] == 1 and msg["dst_len"] == 0]
    names = {}
    for msg in routes:
        oif = msg.get_attr("RTA_OIF")
        if oif and oif not in names:
            names[oif] = reader.link(index=oif).get_attr("IFLA_IFNAME")
    addresses = reader.addresses(socket.AF_INET) if names else []
    links = []
    for oif, name in names.items():
        found = (msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS") for msg in
                 addresses if msg["scope"] == 0 and msg["index"] == oif)
        links.append(dict(name=name, addresses=[addr for addr in found if addr]))
    return uplink_of(dict(routes=[r for r in (route_dict(msg, names) for msg in routes) if r["dev"]], links=links))


def veth_peer(alias: str | None) -> tuple[str | None, str | None]:
    """The peer a veth of this collection names in its alias (``nslab:LAB peer=NAME@NS``, ``-`` for the host):
    (name, namespace); (None, None) for an alias without one."""
    extra = parse_owner(alias)[1]
    if "peer=" not in extra:
        return None, None
    peer, _sep, pns = extra.split("peer=", 1)[1].partition("@")
    return peer or None, None if pns in ("-", "") else pns


def marker_lab(ctx: Any, name: str) -> str | None:
    """The lab whose mark the namespace carries (alias of its lo), None if unmarked."""
    lo = find_link(ctx.session, name, "lo")
    return parse_owner(lo["alias"] if lo else None)[0]


def lab_namespaces(ctx: Any) -> list[str]:
    """The namespaces that carry this lab's mark (the alias of their lo, see namespaces.py)."""
    found = []
    for name in nsmod.list_namespaces():
        if name in ctx.deleted_ns:
            continue
        try:
            lo = read_link(ctx.reader(name), "lo")
        except OSError:          # deleted meanwhile
            continue
        if lo is not None and parse_owner(lo["alias"])[0] == ctx.lab:
            found.append(name)
    return found


def default_devices(session: nsmod.Session, ns: str | None) -> set:
    """The devices of a namespace's default routes, of every table and every next hop of a multipath one: the
    uplink side, never the lab's."""
    names = {link["index"]: link["name"] for link in links_in(session, ns).values()}
    found: set[str] = set()
    for msg in routes_in(session, ns):
        if msg["dst_len"] != 0:
            continue
        oifs = [msg.get_attr("RTA_OIF")] + [hop["oif"] for hop in (msg.get_attr("RTA_MULTIPATH") or [])]
        found.update(names[oif] for oif in oifs if oif in names)
    return found


def carriers(session: nsmod.Session, ns: str | None, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
             planned: Sequence[tuple[str, str, str]] = ()) -> list[dict]:
    """The links that carry traffic of ``networks`` (ipaddress networks) in a namespace, as its unicast routes of
    the main table say - and ``planned`` (link, CIDR, lab) addresses that earlier steps would add, as the connected
    routes they would make: each link with a route inside one of them, and for a network inside a route (a single
    address), the link of the longest such route. The uplink (:func:`default_devices`) and loopback are never the
    lab's side and are left out. {name, owner: the nslab lab that made it, or None}, sorted by name."""
    networks = list(dict.fromkeys(networks))
    if not networks:
        return []
    by_index = {link["index"]: link for link in links_in(session, ns).values()}
    links = {link["name"]: link for link in by_index.values()}
    names = {index: link["name"] for index, link in by_index.items()}
    routes: list[tuple[Any, str]]       # Any: a network of either version (each compared to one of its own version)
    routes = [(ipaddress.ip_network(route["prefix"]), route["dev"])
              for route in (route_dict(msg, names) for msg in routes_in(session, ns))
              if route["table"] == 254 and route["dst"] != "default" and isinstance(route["dev"], str)]
    routes += [(ipaddress.ip_interface(cidr).network, name) for name, cidr, _lab in planned]
    owners = {name: lab for name, _cidr, lab in planned}
    found = set()
    for net in networks:
        around = []
        for prefix, dev in routes:
            if prefix.version != net.version:
                continue
            if prefix.subnet_of(net):
                found.add(dev)
            elif net.subnet_of(prefix):
                around.append((prefix.prefixlen, dev))
        if around:
            found.add(max(around)[1])
    out = []
    for name in sorted(found - default_devices(session, ns)):
        link = links.get(name)
        if link is not None and link["loopback"]:
            continue
        owner = parse_owner(link["alias"])[0] if link is not None else owners.get(name)
        out.append(dict(name=name, owner=owner))
    return out
