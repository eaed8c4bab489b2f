# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small CIDR filters, so the roles need no other collection."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from ansible.errors import AnsibleFilterError

if TYPE_CHECKING:
    from typing import Any, Callable

DOCUMENTATION = r"""
name: cidr_network
short_description: The network of an address with prefix (192.168.0.1/16 -> 192.168.0.0/16)
version_added: 1.0.0
description:
  - Also provides C(nslab.net.cidr_address) (192.168.0.1/16 -> 192.168.0.1) and
    C(nslab.net.cidr_prefix) (192.168.0.1/16 -> 16).
positional: _input
options:
  _input:
    description: An address with prefix length.
    type: str
    required: true
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
subnet: "{{ '192.168.0.1/16' | nslab.net.cidr_network }}"
"""

RETURN = r"""
_value:
  description: The network in CIDR form.
  type: str
"""


def _iface(value: Any) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    try:
        return ipaddress.ip_interface(str(value))
    except ValueError as exc:
        raise AnsibleFilterError(f"{value!r} is not an address with a prefix length: {exc}") from None


def cidr_network(value: Any) -> str:
    return _iface(value).network.with_prefixlen


def cidr_address(value: Any) -> str:
    return str(_iface(value).ip)


def cidr_prefix(value: Any) -> int:
    return _iface(value).network.prefixlen


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return dict(cidr_network=cidr_network, cidr_address=cidr_address, cidr_prefix=cidr_prefix)
