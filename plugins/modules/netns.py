#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: netns
short_description: Named network namespaces, their loopback and resolver
version_added: 1.0.0
description:
  - Creates and deletes named network namespaces under C(/run/netns), like C(ip netns add) and
    C(ip netns delete), without forking a process per namespace.
  - Marks each namespace it creates (the alias of its C(lo)) with the O(lab) label; a namespace
    without the mark, or with another lab's, is never changed or deleted.
  - Writes C(/etc/netns/NAME/resolv.conf) when O(dns) is given, with options that make lookups
    answer or fail at once (C(timeout:1 attempts:1)), so nothing hangs on a resolver that never answers.
  - With O(purge), namespaces of this lab that O(items) no longer names are deleted.
options:
  name:
    description: The namespace name (entry under C(/run/netns)).
    type: str
  loopback:
    description: Whether C(lo) is up inside the namespace (defaults to V(true)).
    type: bool
  dns:
    description:
      - Resolver addresses for C(/etc/netns/NAME/resolv.conf), used by C(ip netns exec).
      - An empty list writes a file with no nameserver, so every lookup fails at once.
      - Omitted leaves the file as it is.
    type: list
    elements: str
extends_documentation_fragment:
  - nslab.net.common
  - nslab.net.common.attributes
notes:
  - O(netns) does not apply to this module; a namespace is named by O(name).
  - Stop processes running inside a namespace before deleting it; a namespace that still has
    processes survives deletion, invisible, with its links.
seealso:
  - module: nslab.net.veth
  - module: nslab.net.netns_info
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
- name: Seed 002 - create netns1 (ip netns add netns1; ip link set lo up)
  nslab.net.netns:
    name: netns1

- name: Two namespaces in one call, lookups fail fast inside them
  nslab.net.netns:
    items:
      - name: netns1
      - name: netns2
    dns: [127.0.0.1]
    purge: true

- name: Remove a namespace this lab made
  nslab.net.netns:
    name: netns2
    state: absent
"""

RETURN = r"""
actions:
  description: The operations planned (check mode) or done, in words.
  returned: always
  type: list
  elements: str
  sample: ["add netns netns1", "set lo up in netns netns1"]
namespaces:
  description: Each requested namespace as it is after the run (as it would be, in check mode).
  returned: success
  type: list
  elements: dict
  sample: [{"name": "netns1", "state": "present", "lab": "nslab", "loopback": true, "dns": ["127.0.0.1"]}]
"""

from ansible_collections.nslab.net.plugins.module_utils._engine.engine import run
from ansible_collections.nslab.net.plugins.module_utils._resources.namespaces import NetnsResource


def main() -> None:
    run(NetnsResource)


if __name__ == "__main__":
    main()
