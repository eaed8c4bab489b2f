#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bridge_port
short_description: Linux bridges, their addresses and their ports
version_added: 1.0.0
description:
  - Creates bridge O(bridge) if missing and sets it up (C(ip link add br0 type bridge; ip link set br0 up)),
    converges its addresses (C(ip addr add 192.168.0.1/16 dev br0)), attaches O(port) to it
    (C(ip link set veth0 master br0)) and sets the port's hairpin flag.
  - With O(state=absent), O(port) is detached; with O(port) omitted the bridge is deleted.
  - A bridge this lab did not create may receive ports, but its addresses are never changed and it is never deleted.
  - An address sharing a subnet with an address on a link of the same namespace that this lab does not
    own (the uplink, another lab's bridge) is refused before any change; so are C(lo) and bridges as ports.
  - With O(purge), ports of this lab's bridges that O(items) no longer names are detached, and
    this lab's bridges no longer named at all are deleted.
options:
  bridge:
    description: Bridge name (at most 15 characters).
    type: str
  port:
    description: A link in the same namespace to attach to (or detach from) the bridge.
    type: str
  address:
    description:
      - The complete set of global addresses (CIDR) of the bridge, usually the lab's gateway.
      - Omitted leaves the addresses untouched. All entries naming a bridge must agree.
    type: list
    elements: str
  hairpin:
    description:
      - Hairpin mode of O(port), so a frame may leave by the port it came in
        (needed for a namespace to reach its own published port through NAT).
    type: bool
extends_documentation_fragment:
  - nslab.net.common
  - nslab.net.common.overlap
  - nslab.net.common.attributes
seealso:
  - module: nslab.net.veth
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
- name: Seed 002 - br0 with the gateway address, veth0 attached
  nslab.net.bridge_port:
    bridge: br0
    address: [192.168.0.1/16]
    port: veth0

- name: Seed 000 - two ports on br0 in one call
  nslab.net.bridge_port:
    bridge: br0
    address: [172.20.0.10/16]
    items:
      - port: veth1
      - port: veth2
    purge: true

- name: Delete the bridge
  nslab.net.bridge_port:
    bridge: br0
    state: absent
"""

RETURN = r"""
actions:
  description: The operations planned (check mode) or done, in words.
  returned: always
  type: list
  elements: str
  sample: ["add bridge br0 in the host namespace", "attach veth0 to bridge br0 in the host namespace"]
bridges:
  description: Each bridge named by the request, as it is after the run (as it would be, in check mode).
  returned: success
  type: list
  elements: dict
  sample: [{"bridge": "br0", "netns": null, "address": ["192.168.0.1/16"], "up": true, "ports": ["veth0"],
            "hairpin": []}]
"""

from ansible_collections.nslab.net.plugins.module_utils._engine.engine import run
from ansible_collections.nslab.net.plugins.module_utils._resources.bridge_port import BridgePortResource


def main() -> None:
    run(BridgePortResource)


if __name__ == "__main__":
    main()
