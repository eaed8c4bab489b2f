#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: batch
short_description: Several nslab.net module calls in one pass on the managed host
version_added: 1.1.0
description:
  - Runs a list of steps, each exactly one call of M(nslab.net.netns), M(nslab.net.veth),
    M(nslab.net.bridge_port), M(nslab.net.ns_route), M(nslab.net.ns_sysctl), M(nslab.net.nat_rule),
    M(nslab.net.ns_service) or M(nslab.net.ns_probe) with that module's options, in order, in one module run.
  - An M(nslab.net.ns_probe) step measures with real traffic what the steps before it built (the lab playbook
    builds a lab host and measures it in one module run); it changes nothing. In check mode nothing is built,
    so the lab playbook leaves it out there.
  - Each step behaves as the module it names (same validation, ownership, check mode, diff and
    C(actions)); what the steps share is the cost of a module run - one Python start on the managed
    host, one netlink socket per namespace for all steps, one host lock. An Ansible task costs about
    a third of a second before its module does any work, so the roles use one batch per role
    rather than one task per resource type.
  - All or nothing - every step's options are checked and every step is planned before the first change (the
    steps from the first one that would change something on, in check mode, each against the namespaces the
    steps before it would create or delete); a step that would be refused refuses the whole batch, naming the
    step, with nothing changed. A run with nothing to change plans each step once. A step that fails while
    applying (the kernel refuses) stops the batch; the error names the step, C(actions) lists what was done
    and C(changed) is true when anything was.
options:
  steps:
    description: The module calls, in the order they run.
    type: list
    elements: dict
    required: true
    suboptions:
      module:
        description: The module this step calls (short name).
        type: str
        required: true
        choices: [bridge_port, nat_rule, netns, ns_probe, ns_route, ns_service, ns_sysctl, veth]
      args:
        description: The module's options, as the module itself takes them (C(items), C(lab), C(purge)...).
        type: dict
        default: {}
      enabled:
        description: V(false) skips the step (for steps that apply only to some labs).
        type: bool
        default: true
      about:
        description:
          - What the step's options were made from, in the words of the variables a user set, for error messages - a
            dictionary from an option path of O(steps[].args) (V(items[0].address), an entry V(items[2]), V(bridge);
            V("") for the whole step) to the words (V(nslab_gateway 192.168.0.1/16)).
          - A refusal that names one of these options, or a part of one (the longest path that fits), is said in those
            words, with the step and its option as detail in parentheses (V(steps[2] bridge_port items[0].address[0])),
            instead of after the step. The roles and C(playbooks/lab.yml) set it for the C(nslab_) variables.
        type: dict
        default: {}
        version_added: 1.1.0
  persist:
    description:
      - Saves these steps on the managed host so that the host rebuilds the lab at boot with no controller, or
        removes what was saved (the roles' and the lab playbook's C(nslab_persist)). Unset, nothing saved is touched.
      - Saving leaves the steps as data in C(/var/lib/nslab/labs/LAB/PART.json) (M(nslab.net.ns_probe) steps
        left out), the engine in C(/usr/local/lib/nslab/VERSION-HASH/nslab-engine.pyz) (this module run's own
        code, the collection's modules and module_utils and the parts of Ansible's they import - no second
        implementation) and C(/etc/systemd/system/nslab-LAB.service), enabled for C(multi-user.target). At boot the
        unit runs after C(network-online.target) and the host's firewall and Docker units, waits up to
        C(NSLAB_BOOT_WAIT) seconds (60) for the uplink when a NAT rule takes it from the default route, then runs
        each saved part through this module, logging what it does to the journal (C(journalctl -u nslab-LAB)).
      - Planned with the steps, before any change (a refusal changes nothing); saved after the last step.
        Check mode and diff mode show the files. An engine that no unit runs any more is removed.
    type: dict
    suboptions:
      state:
        description:
          - V(present) saves (or updates) the part; V(absent) removes it - the last part of a lab takes its unit and
            intent directory with it, the last lab the engines.
          - V(present) needs systemd on the host and an Ansible module payload (a run from C(ansible-playbook)); it is
            refused on the sandbox hosts of C(playbooks/lab.yml), which a reboot of the machine ends.
        type: str
        choices: [present, absent]
        default: present
      lab:
        description: The lab's name (the unit is C(nslab-LAB.service)); default the first step's O(steps[].args) C(lab).
        type: str
      part:
        description:
          - Which part of the lab these steps are; at boot the parts run in the order of their names.
          - The roles save V(egress) and V(ingress), the lab playbook V(lab), the whole lab, which replaces the other
            parts when saved and removes all of them when removed.
        type: str
        default: lab
  record:
    description:
      - The hand-out record (C(playbooks/lab.yml) sets it) - what the lab host was handed, written to
        C(/etc/nslab/labs/LAB.json) after the last step, so that the student's check (M(nslab.net.lab_check),
        C(playbooks/check.yml) with no C(-e)) checks the lab the host has. It holds the seed, the stage, the goal and
        the lab's variables, never the faults (O(record.variables) C(faults) is left out). V(absent) removes it.
      - With it comes the student's check command, C(nslab-check) (C(/usr/local/sbin/nslab-check); on a sandbox host
        C(/run/nslab/sbin/nslab-check)) - the same checks as C(playbooks/check.yml) for this host, run on the host with
        no Ansible (this module run's own code as its engine, in C(/usr/local/lib/nslab-check/), run by this Python).
        It is removed with the last record.
      - Unset, no record is touched. Check mode and diff mode show the file.
    type: dict
    suboptions:
      lab:
        description: The lab's name.
        type: str
        required: true
      state:
        description: V(present) writes the record, V(absent) removes it.
        type: str
        choices: [present, absent]
        default: present
      seed:
        description: The seed (C(nslab_seed)); required when O(record.state=present).
        type: str
      stage:
        description: The stage handed out (C(nslab_stage)); required when O(record.state=present).
        type: str
      goal:
        description: The stage the student must reach (C(nslab_goal)); required when O(record.state=present).
        type: str
      variables:
        description: The lab's C(nslab_) variables without the prefix, as C(nslab.net.lab_variables) gives them; unset
          ones (null) and C(faults), C(state) and C(requirements) are left out.
        type: dict
        default: {}
      internet:
        description: The internet target the check probes (C(nslab_report_internet)), for C(nslab-check).
        type: dict
      hints:
        description: V(false) (C(nslab_hints)) - C(nslab-check) leaves out the hints too.
        type: bool
        default: true
attributes:
  check_mode:
    support: full
    description: Every step runs in check mode; a namespace or link an earlier step would create is treated as empty.
  diff_mode:
    support: full
    description: One C(diff) entry per step that ran, headed with the step's index and module.
  idempotent:
    support: full
    description:
      - A second identical run reports C(changed=false).
      - A changing run holds the managed host's lock (C(/run/nslab/lock)) for all its steps, as one module run does.
  platform:
    platforms: [linux]
    support: full
    description: Linux only; needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) on the managed host.
notes:
  - Every other module of the collection that runs on a managed host sends this module's payload (the collection's
    action plugin C(nslab.net.batch)) and runs there as itself, with its own options, results and messages, so that
    Ansible builds one module payload per run; C(ansible-playbook -vvv) says C(Using module file .../batch.py) for
    their tasks.
seealso:
  - module: nslab.net.netns
  - module: nslab.net.veth
  - module: nslab.net.bridge_port
  - module: nslab.net.nat_rule
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
- name: Seed 000 in one pass - namespace, veth pair, bridge, route, forwarding, MASQUERADE
  nslab.net.batch:
    steps:
      - module: netns
        args: {name: netns0}
      - module: veth
        args: {name: veth0, peer: ceth0, peer_netns: netns0, peer_address: [172.18.0.2/16]}
      - module: bridge_port
        args: {bridge: br0, address: [172.18.0.1/16], items: [{port: veth0}]}
      - module: ns_route
        args: {netns: netns0, dst: default, gateway: 172.18.0.1}
      - module: ns_sysctl
        args: {name: net.ipv4.ip_forward, value: 1}
      - module: nat_rule
        args: {type: masquerade, source: 172.18.0.0/16, out_interface: eth0}
"""

RETURN = r"""
actions:
  description: The operations of all steps, planned (check mode) or done, in order, in words.
  returned: always
  type: list
  elements: str
  sample: ["create namespace netns0", "add veth veth0 <-> ceth0@netns0"]
results:
  description:
    - One entry per step that ran - the result that step's module returns (C(changed), C(actions),
      and its resources under the module's key) plus C(module) and C(step) (its index in O(steps)).
    - On failure, the steps that completed before the failing one.
  returned: always
  type: list
  elements: dict
  sample: [{"module": "netns", "step": 0, "changed": true, "actions": ["create namespace netns0"],
            "namespaces": [{"name": "netns0", "state": "present"}]}]
persist:
  description: What O(persist) saved or removed - C(lab), C(part), C(state), C(changed), and the C(unit), C(intent) and
    C(engine) paths (null when removed).
  returned: when O(persist) is set
  type: dict
  sample: {"lab": "nslab", "part": "lab", "state": "present", "changed": true,
           "unit": "/etc/systemd/system/nslab-nslab.service", "intent": "/var/lib/nslab/labs/nslab/lab.json",
           "engine": "/usr/local/lib/nslab/1.0.0-3f2a9c1b7d4e/nslab-engine.pyz"}
record:
  description: What O(record) wrote or removed - C(path), C(state), C(changed) and C(command) (the student's check
    command, null when none was installed).
  returned: when O(record) is set
  type: dict
  sample: {"path": "/etc/nslab/labs/nslab.json", "state": "present", "changed": true,
           "command": "/usr/local/sbin/nslab-check"}
failed_step:
  description: The index in O(steps) of the step that failed.
  returned: failure
  type: int
"""

from ansible_collections.nslab.net.plugins.module_utils._entry import dispatch


def main() -> None:
    dispatch.main()


if __name__ == "__main__":
    main()
