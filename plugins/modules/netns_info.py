#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: netns_info
short_description: Read namespaces, links, addresses, routes and the collection's NAT rules
version_added: 1.0.0
description:
  - Reports the host namespace and every named namespace (or only O(netns)), with their links
    (kind, state, MTU, bridge master, addresses, veth peer, lab label), routes and the NAT rules this
    collection made. It never changes anything and never creates a namespace while looking.
options:
  netns:
    description: Report only this namespace; omitted reports the host namespace and all named ones.
    type: str
  nat:
    description: Also read NAT rules (runs C(iptables-save) / C(nft)).
    type: bool
    default: true
  namespaces:
    description:
      - With O(netns) omitted, also report every named namespace. V(false) reports the host namespace
        only, which is all it takes to find the uplink (one read, whatever the number of namespaces).
    type: bool
    default: true
  links:
    description:
      - V(false) leaves out each reported namespace's links, addresses and routes (its C(info) entry
        holds its name, its lab and, with O(nat), its NAT rules). The uplink is still found, from the
        default routes and the device they use, without reading every link (the roles look it up so).
    type: bool
    default: true
    version_added: 1.1.0
extends_documentation_fragment:
  - nslab.net.common.info_attributes
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
- name: Read the lab
  nslab.net.netns_info:
  register: lab

- name: Show netns1's routes
  ansible.builtin.debug:
    var: lab.info[0].routes
"""

RETURN = r"""
namespaces:
  description: Names of the namespaces under C(/run/netns).
  returned: success
  type: list
  elements: str
  sample: [netns1, netns2]
uplink:
  description:
    - The host's uplink, found from its IPv4 default route (lowest metric) - C(interface), C(address), C(gateway).
    - Returned when O(netns) is omitted; all null when the host has no default route.
  returned: when O(netns) is omitted
  type: dict
  sample: {"interface": "eth0", "address": "203.0.113.10", "gateway": "203.0.113.1"}
info:
  description: One entry per namespace reported (C(name) null for the host namespace).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Namespace name; null for the host namespace.
      type: str
    lab:
      description: Lab label marked on the namespace, if this collection made it.
      type: str
    links:
      description: Links with C(name), C(kind), C(up), C(mtu), C(master), C(addresses), C(lab), and C(peer) / C(peer_netns) for veths.
      type: list
      elements: dict
    routes:
      description: Unicast routes with C(dst), C(gateway), C(dev), C(metric), C(table), C(proto).
      type: list
      elements: dict
    nat_backend:
      description: The backend holding (or that would hold) the collection's rules.
      type: str
    nat_rules:
      description: This collection's rules, grouped by rule key, with C(lab), C(type), C(to), C(comment) and the raw rules.
      type: list
      elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._report.info import SPEC
from ansible_collections.nslab.net.plugins.module_utils._report.info import main as info_main


def main() -> None:
    module = AnsibleModule(argument_spec=SPEC, supports_check_mode=True)
    info_main(module)


if __name__ == "__main__":
    main()
