# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The answers to the reads (``reader.Reader``) as the collection reads them: a link, address or route message's
fields by name (``msg["index"]``) and the attributes the collection uses by pyroute2's names (``get_attr``), each
decoded when asked. pyroute2's message classes decode every attribute of every message - about 40 for a link
(statistics, per-family configuration...), about 0.2 ms a link -, which made decoding, not the kernel, the cost of
reading a namespace. ``tests/integration/test_netlink.py`` holds them equal to pyroute2's decoding on the kernel."""

from __future__ import annotations

import socket
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

NLA = struct.Struct("=HH")              # an attribute's length and type
NLA_TYPE = 0x3FFF                       # without NLA_F_NESTED and NLA_F_NET_BYTEORDER
IFINFOMSG = struct.Struct("=BxHiII")    # family, device type, index, flags, change
IFADDRMSG = struct.Struct("=BBBBI")     # family, prefix length, flags, scope, index
RTMSG = struct.Struct("=BBBBBBBBI")     # family, dst_len, src_len, tos, table, proto, scope, type, flags
RTNEXTHOP = struct.Struct("=HBBi")      # a multipath route's next hop: length, flags, hops, ifindex

#: the attributes the collection reads, by pyroute2's names: (type, how to decode: "s" a string, "I" and "B"
#: unsigned integers, "a" an address of the message's family, "m" a multipath route's next hops), a dict a nested set
BRPORT_ATTRS = {"IFLA_BRPORT_MODE": (4, "B")}
LINKINFO_ATTRS = {"IFLA_INFO_KIND": (1, "s"), "IFLA_INFO_SLAVE_KIND": (4, "s"), "IFLA_INFO_SLAVE_DATA": (5, BRPORT_ATTRS)}
LINK_ATTRS = {"IFLA_IFNAME": (3, "s"), "IFLA_MTU": (4, "I"), "IFLA_LINK": (5, "I"), "IFLA_MASTER": (10, "I"),
              "IFLA_LINKINFO": (18, LINKINFO_ATTRS), "IFLA_IFALIAS": (20, "s"), "IFLA_GROUP": (27, "I")}
ADDR_ATTRS = {"IFA_ADDRESS": (1, "a"), "IFA_LOCAL": (2, "a")}
ROUTE_ATTRS = {"RTA_DST": (1, "a"), "RTA_OIF": (4, "I"), "RTA_GATEWAY": (5, "a"), "RTA_PRIORITY": (6, "I"),
               "RTA_MULTIPATH": (9, "m"), "RTA_TABLE": (15, "I")}


#: the attribute types of each set above, by the set's id (module constants: their ids stay theirs); any other set
#: of names is read for its types each time
TYPES: dict[int, frozenset[int]] = {id(names): frozenset(spec[0] for spec in names.values())
                                    for names in (BRPORT_ATTRS, LINKINFO_ATTRS, LINK_ATTRS, ADDR_ATTRS, ROUTE_ATTRS)}


class Attrs:
    """The attributes of ``data[start:end]``, located at once and decoded when asked (``get_attr``, by pyroute2's
    name, one of ``names``); an attribute the message does not carry is None, as pyroute2 answers. ``family``: the
    address family of its addresses."""

    def __init__(self, data: bytes, start: int, end: int, names: dict, family: int = 0):
        self.data, self.names, self.family = data, names, family
        self.found: dict[int, tuple[int, int]] = {}
        found = self.found
        wanted = TYPES.get(id(names)) or {spec[0] for spec in names.values()}
        unpack = NLA.unpack_from
        offset = start
        while offset + 4 <= end:    # a link carries about 50 attributes: this loop is most of reading one
            length, kind = unpack(data, offset)
            if length < 4:
                break
            kind &= NLA_TYPE
            if kind in wanted and kind not in found:
                found[kind] = (offset + 4, offset + length)
            offset += (length + 3) & ~3

    def get_attr(self, name: str) -> Any:
        kind, how = self.names[name]
        where = self.found.get(kind)
        if where is None:
            return None
        start, end = where
        if isinstance(how, dict):
            return Attrs(self.data, start, end, how, self.family)
        if how == "s":
            return self.data[start:end].split(b"\0", 1)[0].decode("utf-8", "replace")
        if how == "a":
            return socket.inet_ntop(self.family, self.data[start:end])
        if how == "m":
            return self.hops(start, end)
        return struct.unpack_from("=" + how, self.data, start)[0]

    def hops(self, start: int, end: int) -> list[dict]:
        """A multipath route's next hops, each {"oif", "flags", "hops"} as pyroute2 names them."""
        out = []
        while start + RTNEXTHOP.size <= end:
            length, flags, hops, oif = RTNEXTHOP.unpack_from(self.data, start)
            if length < RTNEXTHOP.size:
                break
            out.append(dict(oif=oif, flags=flags, hops=hops))
            start += (length + 3) & ~3
        return out


class Message(Attrs):
    """One message: its fields (``msg["index"]``) from the fixed header ``layout`` named by ``fields``, then its
    attributes."""

    layout: struct.Struct
    fields: tuple[str, ...]
    attrs: dict

    def __init__(self, data: bytes, start: int, end: int):
        self.values = dict(zip(self.fields, self.layout.unpack_from(data, start)))
        super().__init__(data, start + self.layout.size, end, self.attrs, self.values["family"])

    def __getitem__(self, key: str) -> int:
        return self.values[key]


class LinkMsg(Message):
    """A link (RTM_NEWLINK), like pyroute2's ``ifinfmsg`` for what the collection reads."""
    layout, fields, attrs = IFINFOMSG, ("family", "ifi_type", "index", "flags", "change"), LINK_ATTRS


class AddrMsg(Message):
    """An address (RTM_NEWADDR), like pyroute2's ``ifaddrmsg`` for what the collection reads."""
    layout, fields, attrs = IFADDRMSG, ("family", "prefixlen", "flags", "scope", "index"), ADDR_ATTRS


class RouteMsg(Message):
    """A route (RTM_NEWROUTE), like pyroute2's ``rtmsg`` for what the collection reads."""
    layout, attrs = RTMSG, ROUTE_ATTRS
    fields = ("family", "dst_len", "src_len", "tos", "table", "proto", "scope", "type", "flags")
