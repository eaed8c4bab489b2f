# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input validation: every check names the option and the rule it broke."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection
    from typing import Any

IFNAMSIZ = 15
_LAB_RE = re.compile(r"^[A-Za-z0-9_.-]{1,24}$")
_COMMENT_RE = re.compile(r"^[A-Za-z0-9 _.,:;=+/@()#-]{0,64}$")


class Invalid(Exception):
    """Bad input, raised before anything touches the kernel."""

    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")
        self.option = option


def ifname(option: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid(option, "an interface name is required")
    if len(value) > IFNAMSIZ:
        raise Invalid(option, f"interface name {value!r} is {len(value)} characters; the kernel allows at most {IFNAMSIZ}")
    if value in (".", "..") or any(c in value for c in "/:% \t\n") or not value.isprintable():
        raise Invalid(option, f"interface name {value!r} may not be '.', '..' or contain '/', ':', '%' or white space")
    return value


def netns_name(option: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or value in (".", "..") or "/" in value \
            or len(value) > 64 or not value.isprintable() or value != value.strip():
        raise Invalid(option, f"namespace name {value!r} must be 1-64 printable characters without '/' (not '.' or '..')")
    return value


def lab(option: str, value: Any) -> str:
    if not isinstance(value, str) or not _LAB_RE.match(value):
        raise Invalid(option, f"lab label {value!r} must be 1-24 characters of letters, digits, '_', '.', '-'")
    return value


def comment(option: str, value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not _COMMENT_RE.match(value):
        raise Invalid(option, f"comment {value!r} must be at most 64 characters of letters, digits, spaces and _.,:;=+/@()#-")
    return value


def interface(option: str, value: Any) -> str:
    """A host address with its prefix length, e.g. 192.168.0.1/16."""
    if not isinstance(value, str) or "/" not in value:
        raise Invalid(option, f"{value!r} is not an address with a prefix length (CIDR, e.g. 192.168.0.1/16)")
    try:
        iface = ipaddress.ip_interface(value.strip())
    except ValueError as exc:
        raise Invalid(option, f"{value!r} is not a valid CIDR address: {exc}") from None
    if iface.ip.is_multicast or iface.ip.is_unspecified or iface.ip.is_loopback:
        raise Invalid(option, f"{value!r} is a multicast, unspecified or loopback address")
    if iface.version == 6 and iface.ip.is_link_local:
        raise Invalid(option, f"{value!r} is link-local; the kernel manages link-local addresses itself")
    return iface.with_prefixlen


def interfaces(option: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise Invalid(option, "must be a list of CIDR addresses")
    out = sorted({interface(f"{option}[{i}]", v) for i, v in enumerate(value)})
    return out


def network(option: str, value: Any) -> str | None:
    """A network or a single address; host bits must be zero."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise Invalid(option, f"{value!r} is not an address or network")
    try:
        return ipaddress.ip_network(value.strip(), strict=True).compressed
    except ValueError as exc:
        raise Invalid(option, f"{value!r} is not a valid address or network (host bits must be zero): {exc}") from None


def address(option: str, value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return ipaddress.ip_address(str(value).strip()).compressed
    except ValueError:
        raise Invalid(option, f"{value!r} is not a valid IPv4 or IPv6 address") from None


def port(option: str, value: Any) -> tuple[int, int] | None:
    """An int or 'first-last' → (first, last), each 1-65535 and first <= last."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    m = re.fullmatch(r"(\d{1,5})(?:[-:](\d{1,5}))?", text)
    if not m:
        raise Invalid(option, f"{value!r} is not a port (1-65535) or a range 'first-last'")
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) else first
    for p in (first, last):
        if not 1 <= p <= 65535:
            raise Invalid(option, f"port {p} is outside 1-65535")
    if first > last:
        raise Invalid(option, f"range {text!r} is reversed: {first} > {last}")
    return first, last


def port_text(ports: tuple[int, int] | None, sep: str = "-") -> str | None:
    if ports is None:
        return None
    return str(ports[0]) if ports[0] == ports[1] else f"{ports[0]}{sep}{ports[1]}"


def integer(option: str, value: Any, low: int, high: int) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
        if isinstance(value, bool) or str(number) != str(value).strip():
            raise ValueError
    except (TypeError, ValueError):
        raise Invalid(option, f"{value!r} is not an integer") from None
    if not low <= number <= high:
        raise Invalid(option, f"{number} is outside {low}-{high}")
    return number


def choice(option: str, value: Any, choices: Collection[str]) -> str:
    if value not in choices:
        raise Invalid(option, f"{value!r} is not one of: {', '.join(choices)}")
    return value


def required(option: str, value: Any, why: str = "") -> Any:
    if value in (None, "", []):
        raise Invalid(option, "is required" + (f" {why}" if why else ""))
    return value


def target_text(to: tuple[str, tuple[int, int] | None] | None) -> str | None:
    """A NAT target (address, ports) as the rules and the results write it: ``192.168.0.2:5000``, ``[fd00::2]:80``."""
    if to is None:
        return None
    addr, ports = to
    host = f"[{addr}]" if ":" in addr else addr
    return f"{host}:{port_text(ports)}" if ports else addr
