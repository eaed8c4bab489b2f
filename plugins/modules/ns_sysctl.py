#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ns_sysctl
short_description: Runtime sysctl values, per namespace
version_added: 1.0.0
description:
  - Sets the runtime value of a sysctl inside O(netns), like C(sysctl -w net.ipv4.ip_forward=1)
    or C(echo 1 > /proc/sys/net/ipv4/ip_forward).
  - Inside a namespace only C(net.*) sysctls exist per namespace; others are refused.
  - The value is not persisted across reboots (no C(/etc/sysctl.d) file).
  - A sysctl that holds integers takes integers (as many as it holds). All values of one call are
    written, or none - if the kernel refuses one, those written before it are put back.
options:
  name:
    description: Sysctl name, dotted (V(net.ipv4.ip_forward)) or with slashes (V(net/ipv4/conf/br0.10/forwarding)).
    type: str
  value:
    description: The wanted value; compared with white space folded.
    type: raw
  state:
    description:
      - Only V(present). Teardown leaves forwarding as it is on purpose (Docker and
        other tools on the host need it), so there is no V(absent).
    type: str
    choices: [present]
    default: present
extends_documentation_fragment:
  - nslab.net.common
  - nslab.net.common.attributes
notes:
  - O(purge) is not supported.
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
- name: Seed 000/002 - enable forwarding
  nslab.net.ns_sysctl:
    name: net.ipv4.ip_forward
    value: 1
"""

RETURN = r"""
actions:
  description: The operations planned (check mode) or done, in words.
  returned: always
  type: list
  elements: str
  sample: ["set net.ipv4.ip_forward=1 in the host namespace"]
sysctls:
  description: Each requested sysctl with its value after the run (as it would be, in check mode).
  returned: success
  type: list
  elements: dict
  sample: [{"name": "net.ipv4.ip_forward", "netns": null, "value": "1"}]
"""

from ansible_collections.nslab.net.plugins.module_utils._engine.engine import run
from ansible_collections.nslab.net.plugins.module_utils._resources.sysctl import SysctlResource


def main() -> None:
    run(SysctlResource)


if __name__ == "__main__":
    main()
