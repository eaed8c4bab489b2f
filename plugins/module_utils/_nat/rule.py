# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A nat_rule item as a rule: its identity (key, from its type and match), its tag (what the kernel's rule carries)
and its view; each backend renders it."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

if TYPE_CHECKING:
    from typing import Any

TYPES = ("masquerade", "snat", "dnat", "forward", "drop")
PROTOCOLS = ("tcp", "udp", "sctp", "icmp", "icmpv6")
RENDER_VERSION = "1"


# ----------------------------------------------------------------- the rule
def _digest(*parts: object) -> str:
    return hashlib.sha1("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def parse_to(option: str, value: Any, rtype: str) -> tuple[str, tuple[int, int] | None] | None:
    """'addr', 'addr:port', 'addr:first-last', '[v6]:port' -> (addr, ports); a port without an address is refused."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(.+))?", text)
    if m:
        addr, port = m.group(1), m.group(2)
    elif text.count(":") == 1:
        addr, port = text.split(":")
    else:
        addr, port = text, None
    address = v.address(option, addr)
    if address is None:
        raise Invalid(option, f"{value!r} has no address: give ADDRESS, ADDRESS:PORT or [IPv6]:PORT")
    if port is not None and rtype != "dnat":
        raise Invalid(option, f"{rtype} takes an address only, not a port ({value!r})")
    return address, v.port(option, port) if port is not None else None


class Rule:
    """A normalised nat_rule item: what names it (``key``, from its type and match), its tag and its view; each
    backend renders it (``nat_iptables.rules_of``, ``nat_nftables.rules_of``)."""

    def __init__(self, item: dict, lab: str):
        self.item = item
        self.lab = lab
        self.type = item["type"]
        self.family = item["family"]
        ident = (self.type, self.family, item["source"], item["destination"], item["in_interface"],
                 item["out_interface"], item["protocol"], v.port_text(item["port"]))
        self.key = _digest(*ident)[:10]
        self.digest = _digest(RENDER_VERSION, self.key, v.target_text(item["to"]), item["comment"])[:8]
        self.tag = f"nslab:{lab}:{self.type}:{self.key}:{self.digest}"
        self.comment = self.tag + (f" {item['comment']}" if item["comment"] else "")

    def view(self, backend: str | None = None) -> dict:
        item = self.item
        out = dict(netns=item["netns"], type=self.type, source=item["source"], destination=item["destination"],
                   in_interface=item["in_interface"], out_interface=item["out_interface"],
                   protocol=item["protocol"], port=v.port_text(item["port"]), to=v.target_text(item["to"]),
                   comment=item["comment"], key=self.key)
        if backend:
            out["backend"] = backend
        return out


def read_target(text: str | None) -> tuple[str, tuple[int, int] | None] | None:
    """A DNAT target read back from a rule of ours (its ``--to-destination``), or None when it names no address (a
    rule edited by hand): what its old flows were sent to, for the conntrack flush."""
    try:
        return parse_to("to", text, "dnat") if text else None
    except Invalid:
        return None
