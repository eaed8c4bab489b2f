# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads at the kernel's pace: a plain netlink socket in one namespace - dumps of links, addresses and routes, a link
by name or index - without pyroute2 0.9's event loop per request. Requests are encoded by pyroute2's own message
classes; answers are decoded by them too, except links: a link message carries about 40 attributes (statistics,
per-family configuration...) and pyroute2 decodes all of them (about 0.2 ms a link), where the collection reads
seven (:class:`LinkMsg`: a few microseconds). The changes (``writer.Writer``) go through the same socket."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket
    from collections.abc import Iterable
    from typing import Any

RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE = 18, 22, 26
FAMILY = ~3         # rtnetlink's types come in fours (NEW, DEL, GET, SET) of one message class: RTM_NEWLINK is 16
SOL_NETLINK, NETLINK_GET_STRICT_CHK = 270, 12
RTN_UNICAST = 1
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
ENOBUFS = 105
HEADER = struct.Struct("=IHHII")        # nlmsghdr: length, type, flags, sequence number, port
IFINFOMSG = struct.Struct("=BxHiII")    # family, device type, index, flags, change
NLA = struct.Struct("=HH")              # an attribute's length and type
NLA_TYPE = 0x3FFF                       # without NLA_F_NESTED and NLA_F_NET_BYTEORDER

#: the attributes of a link the collection reads, by pyroute2's names: (type, how to decode); a dict is a nested set
BRPORT_ATTRS = {"IFLA_BRPORT_MODE": (4, "B")}
LINKINFO_ATTRS = {"IFLA_INFO_KIND": (1, "s"), "IFLA_INFO_SLAVE_KIND": (4, "s"), "IFLA_INFO_SLAVE_DATA": (5, BRPORT_ATTRS)}
LINK_ATTRS = {"IFLA_IFNAME": (3, "s"), "IFLA_MTU": (4, "I"), "IFLA_LINK": (5, "I"), "IFLA_MASTER": (10, "I"),
              "IFLA_LINKINFO": (18, LINKINFO_ATTRS), "IFLA_IFALIAS": (20, "s")}


class Attrs:
    """The attributes of ``data[start:end]``, located at once and decoded when asked (``get_attr``, by pyroute2's
    name, one of ``names``); an attribute the message does not carry is None, as pyroute2 answers."""

    def __init__(self, data: bytes, start: int, end: int, names: dict):
        self.data, self.names = data, names
        self.found: dict[int, tuple[int, int]] = {}
        offset = start
        while offset + 4 <= end:
            length, kind = NLA.unpack_from(data, offset)
            if length < 4:
                break
            self.found.setdefault(kind & NLA_TYPE, (offset + 4, offset + length))
            offset += (length + 3) & ~3

    def get_attr(self, name: str) -> Any:
        kind, how = self.names[name]
        where = self.found.get(kind)
        if where is None:
            return None
        start, end = where
        if isinstance(how, dict):
            return Attrs(self.data, start, end, how)
        if how == "s":
            return self.data[start:end].split(b"\0", 1)[0].decode("utf-8", "replace")
        return struct.unpack_from("=" + how, self.data, start)[0]


class LinkMsg(Attrs):
    """One link message (RTM_NEWLINK) as the collection reads it: ``msg["index"]``, ``msg["flags"]`` and the
    attributes of :data:`LINK_ATTRS` by ``get_attr``, like pyroute2's ``ifinfmsg`` for those."""

    def __init__(self, data: bytes, start: int, end: int):
        family, device, index, flags, change = IFINFOMSG.unpack_from(data, start)
        self.fields = dict(family=family, ifi_type=device, index=index, flags=flags, change=change)
        super().__init__(data, start + IFINFOMSG.size, end, LINK_ATTRS)

    def __getitem__(self, key: str) -> int:
        return self.fields[key]


class Reader:
    """The reads of one namespace (links, addresses, routes) on a plain NETLINK_ROUTE socket: the same messages
    IPRoute's ``get_links``, ``get_addr``, ``get_routes`` and ``link("get")`` return (links as :class:`LinkMsg`),
    without the event loop pyroute2 0.9 runs for every request (about 0.3 ms each: more than a small namespace's
    whole dump). :class:`writer.Writer` sends its changes through :meth:`request` too."""

    def __init__(self, sock: socket.socket):
        from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
        from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
        from pyroute2.netlink.rtnl.rtmsg import rtmsg

        self.sock = sock
        self.classes: dict[int, Any] = {}
        self.learn(RTM_GETLINK, ifinfmsg)
        self.learn(RTM_GETADDR, ifaddrmsg)
        self.learn(RTM_GETROUTE, rtmsg)
        self.seq = 0

    def learn(self, msg_type: int, msg_class: Any) -> None:
        """The message class of ``msg_type``'s four types, for the requests and for decoding the answers."""
        self.classes[msg_type & FAMILY] = msg_class

    def exchange(self, msg_type: int, dump: bool, fields: dict | None, attrs: Iterable[tuple[str, Any]],
                 flags: int) -> list[tuple[bytes, int, int]]:
        """Send one request (encoded by its type's message class) and return its answers, undecoded: (data,
        start, end) of each message of a dump, of the one message of a get, or none for the kernel's
        acknowledgement of a change (``flags`` with NLM_F_ACK). A netlink error is raised as pyroute2's
        NetlinkError (ENOBUFS as OSError), as IPRoute raises it."""
        from pyroute2.netlink.exceptions import NetlinkError

        request = self.classes[msg_type & FAMILY]()
        for key, value in (fields or {}).items():
            request[key] = value
        request["attrs"] = [list(attr) for attr in attrs]
        self.seq += 1
        request["header"]["type"] = msg_type
        request["header"]["flags"] = NLM_F_REQUEST | (NLM_F_DUMP if dump else 0) | flags
        request["header"]["sequence_number"] = self.seq
        request.encode()
        self.sock.send(request.data)
        found: list[tuple[bytes, int, int]] = []
        while True:
            data = self.sock.recv(1 << 16)
            offset = 0
            while offset + HEADER.size <= len(data):
                length, kind, _flags, seq, _port = HEADER.unpack_from(data, offset)
                if length < HEADER.size:
                    break
                start, offset = offset, offset + ((length + 3) & ~3)
                if seq != self.seq:
                    continue                    # the tail of an earlier, interrupted read
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", data, start + HEADER.size)[0]
                    if code:
                        raise OSError(code, "No buffer space available") if code == ENOBUFS else NetlinkError(code)
                    return found                # the acknowledgement
                if kind == NLMSG_DONE:
                    return found
                found.append((data, start, start + length))
                if not dump:
                    return found

    def request(self, msg_type: int, dump: bool, fields: dict | None = None, attrs: Iterable[tuple[str, Any]] = (),
                flags: int = 0) -> list:
        """:meth:`exchange`'s answers decoded by pyroute2's message class of their type."""
        out = []
        for data, start, end in self.exchange(msg_type, dump, fields, attrs, flags):
            msg = self.classes[HEADER.unpack_from(data, start)[1] & FAMILY](data[start:end])
            msg.decode()
            out.append(msg)
        return out

    def links(self) -> list[LinkMsg]:
        return [LinkMsg(data, start + HEADER.size, end)
                for data, start, end in self.exchange(RTM_GETLINK, True, None, (), 0)]

    def link(self, name: str | None = None, index: int = 0) -> LinkMsg:
        """One link, by name or by index (a get, never a dump)."""
        data, start, end = self.exchange(RTM_GETLINK, False, {"index": index}, [("IFLA_IFNAME", name)] if name else (), 0)[0]
        return LinkMsg(data, start + HEADER.size, end)

    def addresses(self, family: int = 0) -> list:
        return self.request(RTM_GETADDR, True, {"family": family})

    def routes(self, family: int = 0, kind: int = RTN_UNICAST) -> list:
        """The unicast routes (or those of another rtnetlink type, ``kind``) of every table: the kernel filters them
        (strict checking, Linux 4.20 and later: without it, the other types come too, and callers skip them)."""
        return self.request(RTM_GETROUTE, True, {"family": family, "type": kind})
