#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: sandbox
short_description: Sandbox lab hosts on the local machine, with a simulated internet
version_added: 1.0.0
description:
  - Creates sandbox hosts on the machine it runs on (run it on the controller with
    connection C(local)). Each is a holder process with its own network, mount, UTS and PID
    namespaces, a private C(/run) (so C(/run/netns)), and a private copy-on-write C(/etc)
    (so C(/etc/netns) and C(/etc/resolv.conf), which answers or fails at once).
  - Each sandbox gets an uplink C(eth0) with O(uplink_address)/24 and a default route to a shared simulated
    internet, another sandbox that routes 203.0.113.0/24, runs a public server on 198.51.100.10
    (ping, and HTTP answering with the source address it saw) and serves as the outside client.
    It has no route to any lab subnet, so lab egress works only through NAT.
  - The machine's own network is never touched. Sandboxes persist between runs until destroyed
    with O(state=absent); use the M(nslab.net.sandbox) connection plugin to run tasks inside.
options:
  name:
    description: Sandbox name (1-12 letters, digits, C(-), C(_)); also its host name.
    type: str
  uplink_address:
    description:
      - Address of the sandbox's C(eth0) in 203.0.113.0/24 (not .1, the internet's gateway).
      - Required to create a sandbox; omitted, an existing sandbox keeps its address (and O(state=absent) needs none).
    type: str
  root:
    description: Directory holding the sandboxes' state (holder PID, private C(/etc) layer).
    type: str
    default: /run/nslab-sandbox
  netns:
    description: Not used by this module.
    type: str
extends_documentation_fragment:
  - nslab.net.common
  - nslab.net.common.attributes
notes:
  - Open a shell in a sandbox with C(nsenter -t $(cat /run/nslab-sandbox/NAME/pid) -n -m -u -p bash)
    (or C(make shell) in the collection's repository).
  - The last sandbox destroyed takes the simulated internet with it.
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
- name: Two sandbox hosts sharing one simulated internet
  nslab.net.sandbox:
    items:
      - {name: lab1, uplink_address: 203.0.113.10}
      - {name: lab2, uplink_address: 203.0.113.11}
  delegate_to: localhost

- name: Destroy them
  nslab.net.sandbox:
    items: [{name: lab1}, {name: lab2}]
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
actions:
  description: The operations planned (check mode) or done, in words.
  returned: always
  type: list
  elements: str
  sample: ["create the simulated internet", "create sandbox lab1 with uplink eth0 203.0.113.10/24"]
sandboxes:
  description: Each requested sandbox after the run.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "lab1", "exists": true, "pid": 4242, "uplink_address": "203.0.113.10", "root": "/run/nslab-sandbox"}]
"""

from ansible_collections.nslab.net.plugins.module_utils._engine.engine import run
from ansible_collections.nslab.net.plugins.module_utils._sandbox.sandbox_resource import SandboxResource


def main() -> None:
    run(SandboxResource)


if __name__ == "__main__":
    main()
