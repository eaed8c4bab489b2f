# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options every resource module of nslab.net takes.
    DOCUMENTATION = r"""
options:
  netns:
    description:
      - The network namespace the resource lives in (a name under C(/run/netns)).
      - Omitted means the host's own namespace. It may differ per entry of O(items).
      - Outside check mode a missing namespace is an error; nothing is created implicitly.
        In check mode a namespace an earlier task would create is treated as empty.
    type: str
  state:
    description:
      - V(present) creates or repairs the resource, V(absent) removes it.
      - V(absent) on a resource that is not there is a no-op.
      - Only what this collection created under the same O(lab) label is ever changed or
        removed; anything else in the way is an error that says what is there.
    type: str
    choices: [present, absent]
    default: present
  items:
    description:
      - A list of resources to converge in one module call, each a dictionary of the
        per-resource options of this module (and O(netns)).
      - An option given at module level is the default for every entry.
      - Without O(items), the module-level options describe a single resource.
    type: list
    elements: dict
  lab:
    description:
      - Ownership label. Everything the collection creates carries it (interface alias,
        route protocol, rule comment, a mark on the C(lo) of each namespace it made).
      - 1-24 letters, digits, C(_), C(.) or C(-).
    type: str
    default: nslab
  purge:
    description:
      - With O(items), also remove the resources of this type and this O(lab), in the
        namespaces involved, that the list no longer names.
      - Resources of another lab, or made by hand, are never purged.
    type: bool
    default: false
"""

    # veth and bridge_port: addresses of two links of one lab in one subnet
    OVERLAP = r"""
options:
  allow_overlap:
    description:
      - A new address must not share a subnet with an address on another link of the namespace - of another lab, not
        made by nslab.net (the uplink), or of this same O(lab) - and such an address is refused before any change,
        naming both. Two subnets of one lab that overlap (C(br1) with C(172.20.5.1/24) inside C(br0)'s
        C(172.20.0.0/16)) give the kernel two routes for the same addresses, and it sends the traffic of both over one.
      - V(true) allows it between links of this same O(lab) only, on purpose - seed 000's veth stage (the host end of
        each veth in the lab subnet, the routing conflict the seed shows) and the C(bridge-route-conflict) fault,
        which C(playbooks/lab.yml) sets it for - and warns when such an address is added.
    type: bool
    default: false
    version_added: 1.1.0
"""

    ATTRIBUTES = r"""
attributes:
  check_mode:
    support: full
    description: Reads only; never creates a namespace while looking. Reports what it would do.
  diff_mode:
    support: full
    description: Returns C(diff.before) and C(diff.after) as dictionaries of the changed resources.
  idempotent:
    support: full
    description:
      - A second identical run reports C(changed=false).
      - A run that changes something holds the managed host's lock (C(flock) on C(/run/nslab/lock))
        from its first read to its last write, so two runs at once take turns; a run waits
        E(NSLAB_LOCK_TIMEOUT) seconds (default 300) and then fails naming the holder. Check mode takes no lock.
  platform:
    platforms: [linux]
    support: full
    description: Linux only; needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) on the managed host.
"""

    INFO_ATTRIBUTES = r"""
attributes:
  check_mode:
    support: full
    description: An info module; it never changes anything.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  platform:
    platforms: [linux]
    support: full
    description: Linux only.
"""
