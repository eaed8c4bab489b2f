#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ns_probe
short_description: Measure connectivity from inside namespaces with real traffic
version_added: 1.0.0
description:
  - Runs each probe from inside its namespace at that moment - a ping, a TCP connect or an HTTP GET -
    and reports whether it got through. It never changes anything and never fails because a probe did;
    the lab playbook builds its connectivity report from these results.
  - Each probe tries again within its O(probes[].timeout) rather than judging on one packet - ping sends an
    echo request every 0.2 s until one is answered, a refused or unreachable TCP connect or HTTP request is
    retried every 0.1 s - and reports the round-trip time of the attempt that got through.
  - Only probes with O(probes[].netns) need root and pyroute2 (to enter the namespace). Probes without it,
    such as a check of a published port from an outside client or from the controller (C(delegate_to)),
    need neither.
options:
  probes:
    description: The probes to run, at the same time (up to 16 at once, each in a thread of its own); the results are in this order.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: A label for the report.
        type: str
      fact:
        description: The connectivity fact this probe measures (grouping for the report).
        type: str
      netns:
        description: Namespace to send from; omitted means the host namespace.
        type: str
      kind:
        description:
          - What to send.
          - V(forwarded) pings O(probes[].target) from the namespace and succeeds when the managed host forwards its
            packets (its count of forwarded packets, C(Ip ForwDatagrams) in C(/proc/net/snmp), grows within half a
            second), whether or not an answer comes back - the seed's forwarding step, seen before masquerade. These
            probes run after the others, one at a time.
        type: str
        choices: [ping, tcp, http, forwarded]
        default: ping
      target:
        description: Address to reach.
        type: str
        required: true
      port:
        description: TCP port (for V(tcp) and V(http)).
        type: int
      path:
        description: HTTP path.
        type: str
        default: /
      expect:
        description: Text the HTTP answer must contain.
        type: str
      timeout:
        description: Seconds to keep trying (0.1-60) before the probe counts as failed.
        type: float
        default: 2
      expected:
        description:
          - Whether the probe is expected to get through. V(false) for a fact the lab does not have yet at its
            stage (C(nslab_stage)); the result's C(as_expected) tells whether it came out so.
        type: bool
        default: true
      graded:
        description:
          - V(false) for a fact that is measured and shown but not graded (one the student's goal, C(nslab_goal),
            does not need) - its C(as_expected) is always true, whatever the probe finds.
        type: bool
        default: true
      when_refused:
        description:
          - Words added to the result's C(detail) when a probe expected to get through has its connection refused
            (nothing listens on that address and port) - what that means for the lab. C(playbooks/lab.yml) says so of a published port that no demo
            service serves, naming C(nslab_demo_services).
        type: str
        version_added: 1.1.0
  uplink_address:
    description:
      - The address that C({uplink}) stands for in a probe's O(probes[].name), O(probes[].target) and
        O(probes[].expect).
      - Omitted, a probe that uses C({uplink}) gets the IPv4 address of the lab host's uplink (the device of
        its IPv4 default route), read at the time; the result's RV(uplink) tells it, so probes made elsewhere
        (the report's outside probes) can be given the same address.
    type: str
extends_documentation_fragment:
  - nslab.net.common.info_attributes
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
- name: Can netns1 reach the public server, and is the host's address what it sees?
  nslab.net.ns_probe:
    probes:
      - {name: egress, netns: netns1, kind: http, target: 198.51.100.10, port: 80, expect: "seen-from 203.0.113.10"}
      - {name: host to netns1, target: 192.168.0.2}
  register: probe

- name: The source the public server sees must be the uplink address, whatever it is today
  nslab.net.ns_probe:
    probes:
      - {name: "netns1 -> internet via {uplink}", netns: netns1, kind: http, target: 198.51.100.10, port: 80,
         expect: "seen-from {uplink}"}
  register: egress

- name: From the controller, the port published on that address (no pyroute2, no root needed here)
  nslab.net.ns_probe:
    uplink_address: "{{ egress.uplink.address }}"
    probes:
      - {name: "outside -> {uplink}:5000", kind: http, target: "{uplink}", port: 5000}
  delegate_to: localhost
"""

RETURN = r"""
ok:
  description: Whether every probe got through.
  returned: success
  type: bool
as_expected:
  description: Whether every probe came out as its O(probes[].expected) says.
  returned: success
  type: bool
uplink:
  description: The uplink that C({uplink}) stood for (C(address); C(interface) and C(gateway) when it was read).
  returned: success
  type: dict
  sample: {"interface": "eth0", "address": "203.0.113.10", "gateway": "203.0.113.1"}
results:
  description:
    - Each probe with C(ok), C(as_expected), C(detail) (the answer or the error), C(ms) and C(attempts).
    - C(ms) is the round-trip time of the attempt that got through (ping - the rtt ping reports; tcp - the
      connect; http - the request and its answer), not the time the probe took; null when the probe failed.
    - C(attempts) is how many tries the probe made (ping - echo requests sent).
    - A failed probe of the lab host (one that enters a namespace or reads the uplink) also has C(firewalls), the
      firewalls on the host that can drop its traffic (a running firewalld, an active ufw, Docker's rules, an
      iptables FORWARD policy DROP, nftables base chains on the forward or input hook that end in a drop), and
      C(detail) names them.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "egress", "netns": "netns1", "kind": "http", "target": "198.51.100.10", "port": 80,
            "ok": true, "detail": "seen-from 203.0.113.10", "ms": 3.2, "attempts": 1}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._report.probe import SPEC
from ansible_collections.nslab.net.plugins.module_utils._report.probe import main as probe_main


def main() -> None:
    module = AnsibleModule(argument_spec=SPEC, supports_check_mode=True)
    probe_main(module)


if __name__ == "__main__":
    main()
