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
  - With O(index), the service's page C(DIRECTORY/index.html) is part of its wanted state. It is written before
    the service starts, and rewritten when its text differs (or it is missing) without restarting a service whose
    definition is otherwise unchanged. V(absent) stops the service and leaves its page.
  - State lives in C(/run/nslab/services/LAB/NAME.json); the output goes to C(NAME.log) beside it.
  - For a C(python3 -m http.server ... PORT) command (the labs' demo services), a service to start whose PORT
    another program already listens on in O(netns) is refused before any change, naming that program's PID and
    command line. A copy of the same command started by hand (the lab check's hint for a stopped demo service) is
    stopped instead, and the plan names its PID.
  - Such a demo service, once started, is waited for until it listens on PORT (up to 10 seconds), so the play's
    next task (a probe of the port, a check) finds it serving. One still not listening after that is left running
    with a warning.
options:
  name:
    description: Service name, unique within the lab.
    type: str
  command:
    description: The argv to run (run through C(ip netns exec), so the namespace's C(/etc/netns) resolver applies).
    type: list
    elements: str
  directory:
    description:
      - Working directory (default C(/)). Without O(index) it must exist when the service starts.
    type: str
  index:
    description:
      - The text of C(index.html) in O(directory), the page a C(http.server) service serves. The module creates
        O(directory) (mode C(0755)) and the file (mode C(0644)) when they are missing, and replaces the file
        when its text differs, before the service starts.
      - Requires O(directory), other than C(/).
      - Omitted, the module leaves the directory's files alone.
    type: str
    version_added: 1.1.0
  user:
    description:
      - The account O(command) runs as (inside O(netns), through C(setpriv) from util-linux, with that account's
        groups and the one capability to bind ports below 1024). The supervisor itself runs as root.
      - V(root) runs the command as root; only when you ask for it.
      - A changed user restarts the service.
    type: str
    default: nobody
    version_added: 1.1.0
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
    index: "hello from netns1\n"

- name: Several services in one call, each with its page (what the ingress role does)
  nslab.net.ns_service:
    lab: nslab
    purge: true               # stop this lab's services that the list no longer names
    items:
      - name: demo-netns1-5000
        netns: netns1
        command: [python3, -m, http.server, --bind, 192.168.0.2, "5000"]
        directory: /run/nslab/www/netns1-5000
        index: "nslab demo service in netns1 (192.168.0.2:5000)\n"
"""

RETURN = r"""
actions:
  description: The operations planned (check mode) or done, in words.
  returned: always
  type: list
  elements: str
  sample: ["write /run/nslab/www/netns1/index.html for service web-netns1",
           "start service web-netns1 in netns netns1: python3 -m http.server --bind 192.168.0.2 5000"]
services:
  description:
    - Each requested service after the run; C(index) (the page's text) when the item gives O(index) and the page
      exists. The same dictionaries are the diff's C(before) / C(after), keyed by service name.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "web-netns1", "netns": "netns1", "command": ["python3", "-m", "http.server"],
            "directory": "/run/nslab/www/netns1", "running": true, "index": "hello from netns1\n"}]
"""

from ansible_collections.nslab.net.plugins.module_utils._engine.engine import run
from ansible_collections.nslab.net.plugins.module_utils._resources.services import ServiceResource


def main() -> None:
    run(ServiceResource)


if __name__ == "__main__":
    main()
