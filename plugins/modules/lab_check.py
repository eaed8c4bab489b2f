#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lab_check
short_description: Check a lab host's facts with real traffic and explain each one that is not as expected
version_added: 1.2.0
description:
  - Measures the lab's connectivity facts on the lab host (the probes of the lab report, each marked with what the
    student's goal, C(nslab_goal), needs - a fact the goal needs and the lab does not have yet is not as expected, a
    fact the goal does not need is measured but not graded, so going past the goal is never a failure; with a goal
    equal to the stage handed out, C(nslab_stage), the teacher's dry check - every fact as that stage makes it, later
    ones NOT reachable), and for each fact that is not as expected finds the cause by
    inspecting the host the way the seeds do - the namespaces on the packet's path (the veth pair, its link state,
    the bridge port, the host's route to it), C(ip route get) in the sending namespace, forwarding, the FORWARD
    chain and its policy, the NAT rules, the listening sockets - and, when the state alone does not tell, sends the
    probe again while C(tcpdump -p) watches the bridge and the uplink.
  - Each such fact gets a C(cause) and a C(hint), the seed's command that fixes it by hand, and the C(evidence) read.
  - It never changes anything (C(tcpdump) runs without promiscuous mode); C(playbooks/check.yml) and the testinfra
    checks (C(molecule/exercises/tests/test_lab.py)) both run it.
  - The lab host's hand-out record (C(/etc/nslab/labs/LAB.json), written by C(playbooks/lab.yml)) fills the
    C(nslab_) variables the topology leaves unset, so a check with no variables checks the lab the host was handed; a
    variable given that disagrees with the record fails the check, saying what the host was handed.
  - Needs root and pyroute2 on the lab host.
options:
  topology:
    description:
      - The lab, as its C(nslab_) variables describe it (the keys of P(nslab.net.lab_topology#filter),
        with C(seed), C(stage) and C(faults)). C(nslab.net.lab_variables) makes it from a host's variables.
    type: dict
    required: true
  internet:
    description: The internet target of the report (C(nslab_report_internet)); omitted, no internet facts.
    type: dict
  results:
    description:
      - Results measured elsewhere (the outside client's probes of published ports, from M(nslab.net.ns_probe)) to
        explain, instead of measuring the lab host's facts.
    type: list
    elements: dict
  record:
    description:
      - V(use) reads the host's hand-out record (above); V(ignore) checks O(topology) alone (the teacher's grade, which
        trusts the inventory, not the student's host).
    type: str
    choices: [use, ignore]
    default: use
  hints:
    description: V(false) leaves out each fact's C(hint), the command that fixes it (C(nslab_hints)).
    type: bool
    default: true
  host:
    description: The lab host's inventory name, for the hints that name it (C(--limit HOST)).
    type: str
  picture:
    description:
      - V(true) also returns RV(picture), the lab as it is on the host (the host's lab links, bridges, uplink and
        this collection's rules; the lab's namespaces and their links), for the class page of C(playbooks/grade.yml).
    type: bool
    default: false
    version_added: 1.1.0
extends_documentation_fragment:
  - nslab.net.common.info_attributes
seealso:
  - module: nslab.net.ns_probe
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
- name: The lab's facts, checked and explained
  nslab.net.lab_check:
    topology: "{{ hostvars[inventory_hostname] | nslab.net.lab_variables }}"
    internet: {target: 198.51.100.10, kind: http, port: 80}
  register: checked

- name: The outside client's probes of the published ports
  nslab.net.ns_probe:
    probes: "{{ checked.outside }}"
  delegate_to: localhost
  register: outside

- name: Why an outside probe failed, found on the lab host
  nslab.net.lab_check:
    topology: "{{ hostvars[inventory_hostname] | nslab.net.lab_variables }}"
    results: "{{ outside.results }}"
"""

RETURN = r"""
results:
  description:
    - Each fact's probe as M(nslab.net.ns_probe) returns it (with C(expected) and C(as_expected)); one not as
      expected also has C(cause), C(hint) (a command that fixes it by hand) and C(evidence) (what was read).
  returned: success
  type: list
  elements: dict
  sample: [{"name": "netns1 -> internet", "fact": "namespace -> internet", "ok": false, "expected": true,
            "as_expected": false, "cause": "IP forwarding is off (net.ipv4.ip_forward = 0) ...",
            "hint": "sysctl -w net.ipv4.ip_forward=1", "evidence": ["net.ipv4.ip_forward = 0"]}]
outside:
  description: The probes of the published ports from outside, for the outside client (C({uplink}) filled in).
  returned: success
  type: list
  elements: dict
as_expected:
  description: Whether every fact is as expected.
  returned: success
  type: bool
uplink:
  description: The lab host's uplink (C(interface), C(address), C(gateway)).
  returned: success
  type: dict
stage:
  description: The lab's stage (C(name), C(index), C(stages), C(last)).
  returned: success
  type: dict
goal:
  description: The stage the student must reach, as O(topology) or the record gives it (C(name), C(index), C(stages),
    C(last)).
  returned: success
  type: dict
seed:
  description: The lab's seed.
  returned: success
  type: str
fact_stages:
  description: For each probe (by its C(name)), the first stage of the seed at which it gets through on a healthy lab
    (null for none) - what the stage a student reached is read from.
  returned: success
  type: dict
recorded:
  description: Whether the host's hand-out record was read.
  returned: success
  type: bool
faults:
  description: The faults the topology names (C(fault), C(namespace)).
  returned: success
  type: list
  elements: dict
host_checks:
  description:
    - How many times the student ran C(nslab-check) on the host for this goal, as the host's log of those runs says
      (C(/var/log/nslab-check/LAB.jsonl); on a sandbox host under its private C(/run/nslab/log)). The student is root
      there, so it is informational, never graded.
  returned: success
  type: int
picture:
  description:
    - With O(picture), the lab as it is on the host, ready to draw - C(title), C(boxes) (the namespaces and the
      host, each with its C(members) and default routes), C(nodes) (the links with their addresses), C(edges)
      (veth pairs, bridge ports, the routed path), C(path) (the forward and NAT rules) and C(uplink) - or C(error)
      when it could not be read.
  returned: when O(picture) is true
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._report.check import SPEC
from ansible_collections.nslab.net.plugins.module_utils._report.check import main as check_main


def main() -> None:
    module = AnsibleModule(argument_spec=SPEC, supports_check_mode=True)
    check_main(module)


if __name__ == "__main__":
    main()
