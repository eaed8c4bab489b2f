#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: veth
short_description: veth pairs across namespaces, with their addresses and MTU
version_added: 1.0.0
description:
  - Creates a veth pair with one end O(name) in O(netns) and the other end O(peer) created
    directly in O(peer_netns), sets both ends up (see O(up)), and converges their addresses and MTU
    (C(ip link add ... type veth peer name ... netns ...), C(ip addr add/del), C(ip link set up)).
  - Both ends carry the O(lab) label in their interface alias. A pair this lab made with another
    peer is replaced; a link it did not make is never deleted or replaced - the error says what is there.
  - Deleting either end deletes the pair.
  - A pair created or replaced (for example when drift repair re-creates one) has new MAC addresses, so in the
    same run the module deletes the neighbour entries (ARP, NDP) of the O(address) and O(peer_address)
    addresses in the host namespace, in the namespaces of the pair and in those of the O(lab), so traffic
    to them flows at once instead of after the old entries time out. Entries set by hand (permanent) stay.
  - An address sharing a subnet with an address on a link of the same namespace that this lab does not
    own (the uplink, another lab's bridge) is refused before any change.
options:
  name:
    description: Name of the end in O(netns) (at most 15 characters).
    type: str
  peer:
    description: Name of the other end, in O(peer_netns). Required with O(state=present).
    type: str
  peer_netns:
    description: Namespace of the peer end; omitted means the host namespace.
    type: str
  address:
    description:
      - The complete set of global addresses (CIDR) of the O(name) end; others are removed.
      - Omitted leaves the addresses untouched; V([]) removes them all.
    type: list
    elements: str
  peer_address:
    description: The complete set of global addresses of the O(peer) end, same semantics as O(address).
    type: list
    elements: str
  mtu:
    description: MTU of both ends (68-65535).
    type: int
  up:
    description:
      - Whether the O(name) end is up. V(false) sets it administratively down (C(ip link set NAME down)), so its peer
        has no carrier - a broken cable, as the lab exercises' fault C(link-down) makes it. The O(peer) end is always up.
    type: bool
    default: true
extends_documentation_fragment:
  - nslab.net.common
  - nslab.net.common.overlap
  - nslab.net.common.attributes
seealso:
  - module: nslab.net.bridge_port
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
- name: Seed 002 - veth0 on the host, ceth0 in netns1 with 192.168.0.2/16
  nslab.net.veth:
    name: veth0
    peer: ceth0
    peer_netns: netns1
    peer_address: [192.168.0.2/16]

- name: Seed 000 - both pairs in one call; purge pairs dropped from the list
  nslab.net.veth:
    items:
      - {name: veth1, peer: ceth1, peer_netns: netns1, peer_address: [172.20.0.11/16]}
      - {name: veth2, peer: ceth2, peer_netns: netns2, peer_address: [172.20.0.12/16]}
    purge: true

- name: Remove a pair
  nslab.net.veth:
    name: veth2
    state: absent
"""

RETURN = r"""
actions:
  description: The operations planned (check mode) or done, in words.
  returned: always
  type: list
  elements: str
  sample: ["add veth veth0 <-> ceth0@netns1", "add address 192.168.0.2/16 to ceth0 in netns netns1"]
veths:
  description: Each requested pair as it is after the run (as it would be, in check mode).
  returned: success
  type: list
  elements: dict
  sample: [{"name": "veth0", "netns": null, "peer": "ceth0", "peer_netns": "netns1", "mtu": 1500,
            "address": [], "peer_address": ["192.168.0.2/16"], "up": true}]
"""

from ansible_collections.nslab.net.plugins.module_utils._engine.engine import run
from ansible_collections.nslab.net.plugins.module_utils._resources.veth import VethResource


def main() -> None:
    run(VethResource)


if __name__ == "__main__":
    main()
