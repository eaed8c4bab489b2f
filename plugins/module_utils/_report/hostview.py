# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the diagnosis reads of a lab host, changing nothing: links, addresses, routes (``ip route get``), the rules
saved by iptables-save and nft, neighbours."""

from __future__ import annotations

import errno
import ipaddress
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._host import readers
from ansible_collections.nslab.net.plugins.module_utils._host.tools import command, which
from ansible_collections.nslab.net.plugins.module_utils._host.files import read_text

if TYPE_CHECKING:
    from ansible_collections.nslab.net.plugins.module_utils._host.session import Session


class HostView:
    """One lab host as the diagnosis reads it (``lab``: lab_topology's result; ``uplink``: read by the probes): its links,
    addresses and routes through the session, files, the rules as saved, neighbours; the evidence noted."""

    def __init__(self, session: Session, lab: dict, uplink: dict | None):
        self.session, self.lab, self.uplink = session, lab, uplink or {}
        self.evidence: list = []
        self.by_address: dict[str, dict] = {ns["address"]: ns for ns in lab["namespaces"]}
        self.by_name: dict[str, dict] = {ns["name"]: ns for ns in lab["namespaces"]}
        self.prefix = ipaddress.ip_network(lab["subnet"]).prefixlen
        self._saved: dict = {}

    # ------------------------------------------------------------------ reading
    def run(self, argv: list) -> str:
        rc, out, _err = command(argv)
        return out if rc == 0 else ""

    def read(self, path: str) -> str | None:
        text = read_text(path, missing=(OSError,))
        return text.strip() if text is not None else None

    def links(self, ns: str | None) -> dict:
        return readers.links_in(self.session, ns)

    def addresses(self, ns: str | None, link: dict) -> list:
        return readers.addresses_in(self.session, ns).get(link["index"], [])

    def route_get(self, ns: str | None, target: str) -> dict | None:
        """``ip route get TARGET`` in ``ns``: {dev, gateway}, or None when there is no route."""
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            msg = self.session.ipr(ns).route("get", dst=target)[0]
        except NetlinkError as exc:
            if exc.code in (errno.ENETUNREACH, errno.EHOSTUNREACH):
                return None
            raise
        names = {link["index"]: name for name, link in self.links(ns).items()}
        return dict(dev=names.get(msg.get_attr("RTA_OIF")), gateway=msg.get_attr("RTA_GATEWAY"))

    def saved(self, tool: str) -> str:
        """``iptables-save`` or ``nft list ruleset`` of the host, read once."""
        if tool not in self._saved:
            path = which(tool)
            self._saved[tool] = self.run([path] + (["list", "ruleset"] if tool == "nft" else [])) if path else ""
        return self._saved[tool]

    def neighbour(self, ns: str | None, address: str) -> str:
        states = {0x01: "INCOMPLETE", 0x02: "REACHABLE", 0x04: "STALE", 0x08: "DELAY", 0x10: "PROBE", 0x20: "FAILED",
                  0x40: "NOARP", 0x80: "PERMANENT"}
        for msg in self.session.ipr(ns).get_neighbours():
            if msg.get_attr("NDA_DST") == address:
                return states.get(msg["state"], str(msg["state"]))
        return "none"

    def note(self, text: str) -> None:
        self.evidence.append(text)
