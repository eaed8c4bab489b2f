# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads at the kernel's pace: a plain netlink socket in one namespace with pyroute2's own message classes - dumps of
links, addresses and routes, a link by name or index - without pyroute2 0.9's event loop per request."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket
    from collections.abc import Iterable
    from typing import Any

RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE = 18, 22, 26
ANSWER = -2         # a request RTM_GET* is answered by RTM_NEW*, the type before it
SOL_NETLINK, NETLINK_GET_STRICT_CHK = 270, 12
RTN_UNICAST = 1


class Reader:
    """The reads of one namespace (links, addresses, routes) on a plain NETLINK_ROUTE socket,
    encoded and decoded by pyroute2's own message classes: the same messages IPRoute's
    ``get_links``, ``get_addr``, ``get_routes`` and ``link("get")`` return, without the event
    loop pyroute2 0.9 runs for every request (about 0.3 ms each: more than a small namespace's
    whole dump). Changes still go through IPRoute."""

    def __init__(self, sock: socket.socket):
        from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
        from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
        from pyroute2.netlink.rtnl.rtmsg import rtmsg

        try:        # the generic marshal and only the three message classes (rtnl's imports every one, and asyncio)
            from pyroute2.netlink.marshal import Marshal
        except ImportError:                 # pyroute2 0.7
            from pyroute2.netlink.nlsocket import Marshal
        self.sock = sock
        self.marshal = Marshal()
        self.marshal.msg_map.update({RTM_GETLINK + ANSWER: ifinfmsg, RTM_GETADDR + ANSWER: ifaddrmsg,
                                     RTM_GETROUTE + ANSWER: rtmsg})
        self.seq = 0

    def request(self, msg_type: int, dump: bool, fields: dict | None = None, attrs: Iterable[tuple[str, Any]] = ()) -> list:
        """The answer to one request (of the message class of its answer): every message of a dump, or
        the one message of a get. A netlink error is raised as pyroute2's NetlinkError, as IPRoute raises it."""
        from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE

        request = self.marshal.msg_map[msg_type + ANSWER]()
        for key, value in (fields or {}).items():
            request[key] = value
        request["attrs"] = [list(attr) for attr in attrs]
        self.seq += 1
        request["header"]["type"] = msg_type
        request["header"]["flags"] = NLM_F_REQUEST | (NLM_F_DUMP if dump else 0)
        request["header"]["sequence_number"] = self.seq
        request.encode()
        self.sock.send(request.data)
        found: list[Any] = []
        while True:
            for msg in self.marshal.parse(self.sock.recv(1 << 16)):
                if msg["header"]["sequence_number"] != self.seq:
                    continue                    # the tail of an earlier, interrupted read
                if msg["header"].get("error") is not None:
                    raise msg["header"]["error"]
                if msg["header"]["type"] == NLMSG_DONE:
                    return found
                found.append(msg)
                if not dump:
                    return found

    def links(self) -> list:
        return self.request(RTM_GETLINK, True)

    def link(self, name: str | None = None, index: int = 0) -> Any:
        """One link, by name or by index (a get, never a dump)."""
        return self.request(RTM_GETLINK, False, {"index": index},
                            [("IFLA_IFNAME", name)] if name else ())[0]

    def addresses(self, family: int = 0) -> list:
        return self.request(RTM_GETADDR, True, {"family": family})

    def routes(self, family: int = 0, kind: int = RTN_UNICAST) -> list:
        """The unicast routes (or those of another rtnetlink type, ``kind``) of every table: the kernel filters them
        (strict checking, Linux 4.20 and later: without it, the other types come too, and callers skip them)."""
        return self.request(RTM_GETROUTE, True, {"family": family, "type": kind})
