# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Conntrack entries a NAT change leaves behind: flows a DNAT sent to the old target, flows made before a new DNAT,
deleted inside the namespace so the next packet meets the rules as they are now."""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._engine.engine import netlink
from ansible_collections.nslab.net.plugins.module_utils._host.errors import where

if TYPE_CHECKING:
    from typing import Any, Callable

    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Context

# ---------------------------------------------------------------- conntrack
IPS_DST_NAT = 1 << 5


def delete_conntrack(ctx: Context, ns: str | None, matches: Callable[[Any], bool]) -> None:
    """Delete, inside ``ns``, the conntrack entries that ``matches(entry)`` selects
    (one dump, then one delete per entry; an entry that expired meanwhile is fine)."""
    from pyroute2.conntrack import Conntrack

    with ctx.session.entered(ns):      # the whole exchange inside the namespace
        ct = Conntrack()
        try:
            for entry in list(ct.dump_entries()):
                if not matches(entry):
                    continue
                try:
                    netlink(f"delete conntrack entry {entry.tuple_orig} in {where(ns)}", ct.delete, entry,
                            gone_ok=True)
                except TypeError:
                    pass    # pyroute2 < 0.8: Conntrack.delete iterates the kernel's empty answer after the delete
        finally:
            ct.close()


def dnated_to(target: tuple, ports: tuple | None) -> Callable[[Any], bool]:
    """Entries of flows a DNAT rule sent to ``target`` (addr, ports), arriving on
    ``ports``: after the rule changes or goes, they would still reach the old target."""
    addr, to_ports = target

    def matches(entry: Any) -> bool:
        orig, reply = entry.tuple_orig, entry.tuple_reply
        return (bool((entry.status or 0) & IPS_DST_NAT) and reply.saddr == addr
                and (not to_ports or to_ports[0] <= (reply.sport or 0) <= to_ports[1])
                and (not ports or ports[0] <= (orig.dport or 0) <= ports[1]))
    return matches


def not_yet_dnated(item: dict) -> Callable[[Any], bool]:
    """Entries that a new DNAT rule would have matched but that were made before it
    (a UDP sender that keeps its flow alive would otherwise never be translated)."""
    proto = socket.getprotobyname(item["protocol"]) if item["protocol"] else None
    dest = ipaddress.ip_network(item["destination"]) if item["destination"] else None
    source = ipaddress.ip_network(item["source"]) if item["source"] else None
    ports = item["port"]

    def matches(entry: Any) -> bool:
        orig = entry.tuple_orig
        if (entry.status or 0) & IPS_DST_NAT or (proto and orig.proto != proto) or not orig.daddr:
            return False
        daddr = ipaddress.ip_address(orig.daddr)
        return (daddr.version == item["family"] and (not dest or daddr in dest)
                and (not ports or ports[0] <= (orig.dport or 0) <= ports[1])
                and (not source or (bool(orig.saddr) and ipaddress.ip_address(orig.saddr) in source)))
    return matches


def any_of(matchers: list[Callable[[Any], bool]]) -> Callable[[Any], bool]:
    """An entry any of ``matchers`` selects."""
    return lambda entry: any(match(entry) for match in matchers)
