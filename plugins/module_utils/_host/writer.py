# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Changes at the kernel's pace: the requests the resources make - links, bridge ports, addresses, routes,
neighbour entries - sent on a namespace's plain netlink socket (the :class:`reader.Reader`'s), encoded by
pyroute2's own message classes, each answered by the kernel's acknowledgement.

The calls and keywords are the subset of pyroute2's ``IPRoute`` the resources use, and each request is the
one ``IPRoute`` sends for them (pyroute2 0.7 and 0.9 alike, compared with strace; a route's table byte in the
header aside, which the kernel takes from RTA_TABLE), with its errors (``NetlinkError``); what
``IPRoute`` costs on top - its import (about 0.13 s of each module run that changes something) and, in
pyroute2 0.9, an event loop run for every request - is left out. A keyword outside the subset is a
``TypeError``, never silently dropped."""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from ansible_collections.nslab.net.plugins.module_utils._host.reader import Reader

RTM_NEWLINK, RTM_DELLINK = 16, 17
RTM_NEWADDR, RTM_DELADDR = 20, 21
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
NLM_F_ACK, NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x4, 0x100, 0x200, 0x400
IFF_UP = 1
RT_TABLE_COMPAT = 252       # the header's table when it does not fit its byte: RTA_TABLE says which
RTN_UNICAST = 1
IP6_RT_PRIO_USER = 1024     # the kernel's metric for an IPv6 route given none (pyroute2 sends it)
NUD_PERMANENT = 0x80        # what IPRoute puts in a neighbour delete (the kernel does not match on it)

#: each call's commands: the request type and its flags besides NLM_F_REQUEST and NLM_F_ACK, as IPRoute sends them
LINK_COMMANDS = {"add": (RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL), "set": (RTM_NEWLINK, 0), "del": (RTM_DELLINK, 0)}
ADDR_COMMANDS = {"add": (RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL), "del": (RTM_DELADDR, 0)}
ROUTE_COMMANDS = {"replace": (RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE), "del": (RTM_DELROUTE, 0)}

LINK_ATTRS = {"ifname": "IFLA_IFNAME", "mtu": "IFLA_MTU", "ifalias": "IFLA_IFALIAS", "master": "IFLA_MASTER",
              "net_ns_fd": "IFLA_NET_NS_FD", "group": "IFLA_GROUP"}


def link_attrs(given: dict) -> list[tuple[str, Any]]:
    """IFLA_* attributes of a link's keywords, in the order IPRoute sends them."""
    unknown = set(given) - set(LINK_ATTRS)
    if unknown:
        raise TypeError(f"link keywords not supported: {', '.join(sorted(unknown))}")
    return [(LINK_ATTRS[key], given[key]) for key in LINK_ATTRS if key in given]


def flagged(state: str | None) -> dict:
    """The ifinfmsg fields that set a link up or down (none for no state)."""
    if state is None:
        return {}
    if state not in ("up", "down"):
        raise TypeError(f"link state {state!r}: up or down")
    return {"flags": IFF_UP if state == "up" else 0, "change": IFF_UP}


class Writer:
    """The changes of one namespace, on its :class:`reader.Reader`'s socket."""

    def __init__(self, reader: Reader):
        self.reader = reader

    def send(self, what: str, command: str, commands: dict[str, tuple[int, int]], fields: dict,
             attrs: list[tuple[str, Any]]) -> None:
        """One request of ``commands`` (a call's table above), acknowledged by the kernel."""
        if command not in commands:
            raise TypeError(f"{what} command {command!r}: {' or '.join(commands)}")
        msg_type, flags = commands[command]
        self.reader.request(msg_type, False, fields, attrs, NLM_F_ACK | flags)

    def link(self, command: str, index: int = 0, state: str | None = None, kind: str | None = None,
             peer: dict | None = None, **given: Any) -> None:
        """``add`` (a bridge or a veth pair: ``kind``, ``peer`` with its own ``ifname`` and ``net_ns_fd``),
        ``set`` and ``del`` of the link ``index``."""
        attrs = link_attrs(given) if command != "del" else []
        if kind is not None:
            info: list[tuple[str, Any]] = [("IFLA_INFO_KIND", kind)]
            if peer is not None:
                info.append(("IFLA_INFO_DATA", {"attrs": [("VETH_INFO_PEER", {"attrs": link_attrs(peer)})]}))
            attrs.append(("IFLA_LINKINFO", {"attrs": info}))
        self.send("link", command, LINK_COMMANDS, dict(index=index, **flagged(state)), attrs)

    def delete_group(self, group: int) -> None:
        """Delete every link of the namespace in link group ``group`` with one request (``ip link delete group``):
        the kernel removes them together, where each delete alone waits for its own RCU grace period."""
        self.send("link", "del", LINK_COMMANDS, {"index": 0}, [("IFLA_GROUP", group)])

    def brport(self, command: str, index: int, mode: int) -> None:
        """``set`` a bridge port's hairpin mode (IFLA_BRPORT_MODE)."""
        info = [("IFLA_INFO_KIND", "bridge_slave"), ("IFLA_INFO_SLAVE_DATA", {"attrs": [("IFLA_BRPORT_MODE", mode)]})]
        self.send("brport", command, {"set": LINK_COMMANDS["set"]}, {"index": index}, [("IFLA_LINKINFO", {"attrs": info})])

    def addr(self, command: str, index: int, address: str, prefixlen: int, broadcast: str | None = None) -> None:
        """``add`` or ``del`` an address of the link ``index`` (IPv4: also its local address and broadcast)."""
        version = ipaddress.ip_address(address).version
        fields = dict(family=socket.AF_INET if version == 4 else socket.AF_INET6, prefixlen=prefixlen, index=index)
        attrs: list[tuple[str, Any]] = [("IFA_ADDRESS", address)]
        if broadcast is not None:
            attrs.append(("IFA_BROADCAST", broadcast))
        if version == 4:
            attrs.append(("IFA_LOCAL", address))
        self.send("addr", command, ADDR_COMMANDS, fields, attrs)

    def route(self, command: str, family: int, dst_len: int, table: int, priority: int, dst: str | None = None,
              type: int | None = None, proto: int = 0, gateway: str | None = None,   # noqa: A002 - IPRoute's name
              oif: int | None = None) -> None:
        """``replace`` (add or change) or ``del`` a route of ``table``; its match is the kernel's."""
        if family == socket.AF_INET6 and priority == 0:
            priority = IP6_RT_PRIO_USER
        fields = dict(family=family, dst_len=dst_len, table=table if table < 256 else RT_TABLE_COMPAT, proto=proto,
                      type=type if type is not None else (RTN_UNICAST if command == "replace" else 0))
        attrs: list[tuple[str, Any]] = [("RTA_DST", dst)] if dst is not None else []
        attrs += [("RTA_TABLE", table), ("RTA_PRIORITY", priority)]
        if gateway is not None:
            attrs.append(("RTA_GATEWAY", gateway))
        if oif is not None:
            attrs.append(("RTA_OIF", oif))
        self.send("route", command, ROUTE_COMMANDS, fields, attrs)

    def neigh(self, command: str, family: int = 0, dst: str | None = None, ifindex: int = 0) -> list:
        """``dump`` every neighbour entry (of ``family``: 0 for all), or ``del`` the entry of ``dst`` on ``ifindex``."""
        from pyroute2.netlink.rtnl.ndmsg import ndmsg

        self.reader.learn(RTM_NEWNEIGH, ndmsg)
        if command == "dump":
            return self.reader.request(RTM_GETNEIGH, True, {"family": family})
        if command != "del" or dst is None:
            raise TypeError(f"neigh command {command!r}: dump, or del with dst")
        self.send("neigh", command, {"del": (RTM_DELNEIGH, 0)}, dict(family=family, ifindex=ifindex, state=NUD_PERMANENT),
                  [("NDA_DST", dst)])
        return []
