#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ns_service
short_description: Supervised processes inside namespaces (demo services)
version_added: 1.0.0
description:
  - Runs O(command) inside O(netns) under a small supervisor that restarts it a second after it exits,
    like seed 002's C(python3 -m http.server --bind 192.168.0.2 5000) run inside netns1, kept alive.
  - A re-run restarts a service whose supervisor died, and restarts it when its definition changed.
    V(absent) stops it. M(nslab.net.netns) stops the services of a namespace before deleting it.
  - State lives in C(/run/nslab/services/LAB/NAME.json); the output goes to C(NAME.log) beside it.
options:
  name:
    description: Service name, unique within the lab.
    type: str
  command:
    description: The argv to run (run through C(ip netns exec), so the namespace's C(/etc/netns) resolver applies).
    type: list
    elements: str
  directory:
    description: Working directory (default C(/)).
    type: str
extends_documentation_fragment:
  - nslab.net.common
  - nslab.net.common.attributes
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
- name: Seed 002's web server inside netns1, supervised
  nslab.net.ns_service:
    name: web-netns1
    netns: netns1
    command: [python3, -m, http.server, --bind, 192.168.0.2, "5000"]
    directory: /run/nslab/www/netns1
"""

RETURN = r"""
actions:
  description: The operations planned (check mode) or done, in words.
  returned: always
  type: list
  elements: str
  sample: ["start service web-netns1 in netns netns1: python3 -m http.server --bind 192.168.0.2 5000"]
services:
  description: Each requested service after the run.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "web-netns1", "netns": "netns1", "command": ["python3", "-m", "http.server"],
            "directory": "/", "running": true}]
"""

from ansible_collections.nslab.net.plugins.module_utils.engine import run
from ansible_collections.nslab.net.plugins.module_utils.services import ServiceResource


def main() -> None:
    run(ServiceResource)


if __name__ == "__main__":
    main()
