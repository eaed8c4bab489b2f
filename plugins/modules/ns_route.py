#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ns_route
short_description: Routes inside a namespace (IPv4 and IPv6)
version_added: 1.0.0
description:
  - Converges routes like C(ip netns exec netns1 ip route add default via 192.168.0.1).
  - A route's identity is O(netns) + O(table) + O(dst) + O(metric); O(gateway) and O(dev) are its attributes.
  - Routes the collection makes carry a route protocol number derived from O(lab) (110-169);
    O(purge) and O(state=absent) touch only those. A route of the same identity made otherwise
    is replaced only inside a namespace this lab created (repairing a route changed by hand);
    elsewhere it is an error.
  - Outside check mode the gateway must lie in a subnet connected in the namespace.
options:
  dst:
    description: V(default) (0.0.0.0/0 or ::/0 by the gateway's family) or a CIDR.
    type: str
  gateway:
    description: Next hop address.
    type: str
  dev:
    description: Output link; needed for a device route or a link-local IPv6 gateway.
    type: str
  metric:
    description: Route priority (default 0; for IPv6 the kernel stores 0 as 1024, and so does this module).
    type: int
  table:
    description: Routing table, a number or V(main) / V(default) (default V(main)).
    type: str
  reset:
    description:
      - With O(purge), also remove the routes made by hand (neither by nslab nor by the kernel for an address's
        own subnet; unicast, C(blackhole), C(unreachable) or C(prohibit)) in every namespace this O(lab) made,
        unless an item names them; each is listed in the actions and the diff.
      - Re-staging an exercise with C(nslab_reset=true) uses it, so that a student's own routes do not survive
        a reset to a checkpoint.
    type: bool
    default: false
    version_added: 1.1.0
extends_documentation_fragment:
  - nslab.net.common
  - nslab.net.common.attributes
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
- name: Seed 000/002 - default route of each namespace via the bridge
  nslab.net.ns_route:
    dst: default
    gateway: 192.168.0.1
    items:
      - netns: netns1
      - netns: netns2

- name: An IPv6 default route
  nslab.net.ns_route:
    netns: netns1
    dst: default
    gateway: fd00:1::1
"""

RETURN = r"""
actions:
  description: The operations planned (check mode) or done, in words.
  returned: always
  type: list
  elements: str
  sample: ["add route default via 192.168.0.1 (table 254, metric 0) in netns netns1"]
routes:
  description: Each requested route as it is after the run (as it would be, in check mode).
  returned: success
  type: list
  elements: dict
  sample: [{"netns": "netns1", "dst": "default", "gateway": "192.168.0.1", "dev": "ceth0", "metric": 0, "table": 254}]
"""

from ansible_collections.nslab.net.plugins.module_utils._engine.engine import run
from ansible_collections.nslab.net.plugins.module_utils._resources.routes import RouteResource


def main() -> None:
    run(RouteResource)


if __name__ == "__main__":
    main()
