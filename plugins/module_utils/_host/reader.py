# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads at the kernel's pace: a plain netlink socket in one namespace - dumps of links, addresses and routes, a link
by name or index - without pyroute2 0.9's event loop per request. Requests are encoded by pyroute2's own message
classes; the answers to the reads are decoded by ``decode.py``, which reads only the attributes the collection uses
(a link message carries about 40 - statistics, per-family configuration... - and pyroute2 decodes all of them, about
0.2 ms a link), the others by pyroute2's classes. The changes (``writer.Writer``) go through the same socket."""

from __future__ import annotations

import errno
import os
import struct
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._host.decode import AddrMsg, LinkMsg, RouteMsg

if TYPE_CHECKING:
    import socket
    from collections.abc import Iterable
    from typing import Any

RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE = 18, 22, 26
FAMILY = ~3         # rtnetlink's types come in fours (NEW, DEL, GET, SET) of one message class: RTM_NEWLINK is 16
SOL_NETLINK, NETLINK_GET_STRICT_CHK = 270, 12
RTN_UNICAST = 1
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
HEADER = struct.Struct("=IHHII")        # nlmsghdr: length, type, flags, sequence number, port
SEQ, SEQ_OFFSET = struct.Struct("=I"), 8  # the header's sequence number

#: requests as encoded (``Reader.encode``), by type, flags, fields and attributes: the same in every namespace
ENCODED: dict[tuple, bytes] = {}


class Reader:
    """The reads of one namespace (links, addresses, routes) on a plain NETLINK_ROUTE socket: the messages IPRoute's
    ``get_links``, ``get_addr``, ``get_routes`` and ``link("get")`` return, as the collection reads them
    (``decode.LinkMsg``, ``AddrMsg``, ``RouteMsg``), without the event loop pyroute2 0.9 runs for every request
    (about 0.3 ms each: more than a small namespace's whole dump). :class:`writer.Writer` sends its changes
    through :meth:`request` too."""

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

        self.seq += 1
        request = bytearray(self.encode(msg_type, NLM_F_REQUEST | (NLM_F_DUMP if dump else 0) | flags, fields, attrs))
        SEQ.pack_into(request, SEQ_OFFSET, self.seq)
        self.sock.send(request)
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
                        raise OSError(code, os.strerror(code)) if code == errno.ENOBUFS else NetlinkError(code)
                    return found                # the acknowledgement
                if kind == NLMSG_DONE:
                    return found
                found.append((data, start, start + length))
                if not dump:
                    return found

    def encode(self, msg_type: int, flags: int, fields: dict | None, attrs: Iterable[tuple[str, Any]]) -> bytes:
        """A request as its type's message class encodes it, sequence number 0. The reads ask every namespace the
        same few questions (a dump of its links, a link by index...), and encoding one costs pyroute2 about as
        much as the kernel's answer: each distinct request whose fields and attributes are plain values is encoded
        once per module run (a change, acknowledged, is encoded each time)."""
        msg_class = self.classes[msg_type & FAMILY]
        attrs = tuple(attrs)
        key: tuple | None = None
        if not flags & NLM_F_ACK:
            key = (msg_class, msg_type, flags, tuple((fields or {}).items()), attrs)
            try:
                hash(key)
            except TypeError:       # a nested attribute
                key = None
        if key is not None and key in ENCODED:
            return ENCODED[key]
        request = msg_class()
        for name, value in (fields or {}).items():
            request[name] = value
        request["attrs"] = [list(attr) for attr in attrs]
        request["header"]["type"] = msg_type
        request["header"]["flags"] = flags
        request["header"]["sequence_number"] = 0
        request.encode()
        data = bytes(request.data)
        if key is not None:
            ENCODED[key] = data
        return data

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

    def addresses(self, family: int = 0) -> list[AddrMsg]:
        return [AddrMsg(data, start + HEADER.size, end)
                for data, start, end in self.exchange(RTM_GETADDR, True, {"family": family}, (), 0)]

    def routes(self, family: int = 0, kind: int = RTN_UNICAST) -> list[RouteMsg]:
        """The unicast routes (or those of another rtnetlink type, ``kind``) of every table: the kernel filters them
        (strict checking, Linux 4.20 and later: without it, the other types come too, and callers skip them)."""
        return [RouteMsg(data, start + HEADER.size, end)
                for data, start, end in self.exchange(RTM_GETROUTE, True, {"family": family, "type": kind}, (), 0)]
