#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: nat_rule
short_description: MASQUERADE, SNAT, DNAT (published ports) and forward accepts
version_added: 1.0.0
description:
  - Converges NAT rules like C(iptables -t nat -A POSTROUTING -s 192.168.0.0/16 ! -o br0 -j MASQUERADE)
    and C(iptables -t nat -A PREROUTING -d 172.31.8.154 -p tcp --dport 5000 -j DNAT --to-destination 192.168.0.2:5000).
  - Rules live in chains owned by the collection (C(NSLAB-PRE), C(NSLAB-POST) in C(nat), C(NSLAB-FWD) in
    C(filter)) or in the nftables table C(inet nslab), joined to the built-in hooks by one jump each.
    Rules of users, Docker or other tools are never flushed, reordered or deleted.
  - V(masquerade) and V(snat) also accept their flows (and the replies) in the FORWARD hook, V(dnat)
    accepts the translated connections, V(forward) accepts what it matches; so lab traffic keeps
    working when the FORWARD policy is DROP, as Docker sets it.
  - V(drop) drops what it matches in the FORWARD hook, ahead of every accept of the collection. To the lab's
    traffic it is what a FORWARD policy DROP without accepts is (the lab exercises' fault C(forward-drop)).
  - Rules are read once per namespace (C(iptables-save); C(nft -j list chains), then the tables whose rules
    matter, the collection's and other tools' with base chains) and written in one batch
    (C(iptables-restore --noflush) / one C(nft -f)).
  - Identity is O(netns) + O(type) + the match fields; O(to) and O(comment) are attributes,
    changing them replaces the rule.
  - NAT is decided on a flow's first packet. When a V(dnat) rule is added, its flows that started
    untranslated are deleted from conntrack; when its O(to) changes or it is removed, the flows sent to
    the old target are deleted (C(conntrack -D)), so a running flow follows the change.
options:
  type:
    description: What the rule does.
    type: str
    choices: [masquerade, snat, dnat, forward, drop]
  source:
    description: Match source address or network (CIDR, host bits zero).
    type: str
  destination:
    description: Match destination address or network (for V(dnat), usually the uplink address).
    type: str
  in_interface:
    description: Match input interface; a leading C(!) negates. Not for V(masquerade) / V(snat).
    type: str
  out_interface:
    description: Match output interface; a leading C(!) negates (V(!br0)). Not for V(dnat).
    type: str
  uplink:
    description:
      - Take the uplink from the default route of O(netns) at each run, as C(ip route show default) would show it -
        its device for V(masquerade) and V(snat) (as O(out_interface)), its first IPv4 address for V(dnat)
        (as O(destination)). If the default route moves, the next run replaces the rule.
      - Not together with the option it fills. Fails, naming the option, when there is no IPv4 default route.
    type: bool
    default: false
    version_added: 1.1.0
  protocol:
    description: Match protocol.
    type: str
    choices: [tcp, udp, sctp, icmp, icmpv6]
  port:
    description: Destination port, an integer or a range C(first-last) (1-65535); needs O(protocol) tcp, udp or sctp.
    type: str
  to:
    description:
      - V(dnat) new destination C(address), C(address:port) or C(address:first-last) (C([v6]:port) for IPv6).
      - V(snat) new source address.
    type: str
  comment:
    description: A note of yours added to the rule comment (64 characters at most).
    type: str
  backend:
    description:
      - V(iptables) (iptables-nft or iptables-legacy, whichever the host uses), V(nftables), or V(auto).
      - V(auto) keeps the backend that already holds this collection's rules; otherwise it uses iptables
        when the host has iptables rules or policies or nothing at all, and nftables when it has native
        nftables tables and no iptables rules.
      - The collection's rules are never split across backends; finding them in the other one is an error.
    type: str
    choices: [auto, iptables, nftables]
    default: auto
  firewall:
    description:
      - What to do, before any change, about a firewall beside the lab that would drop the traffic of its bridges
        - a native nftables base chain on the C(forward) or C(input) hook in a table of another tool, firewalld's among
        them, that ends in a drop or reject and accepts no such bridge.
      - The lab's bridges are found from the rules themselves, whatever the call names - the interfaces of
        V(forward) rules and of the hairpin V(masquerade) of a published port, and the links the kernel routes the
        rules' subnets over (the O(source) of a V(masquerade) or V(snat), the address in O(to) of a
        V(dnat), the addresses of a V(forward) rule) and those that earlier steps of a batch would address. Only links
        this collection made count (this lab's, when it has any there), never the uplink (the device of a default
        route) or loopback - a host's own cards are never bound to a firewall zone for a lab. So
        C(source=192.168.0.0/16) with C(out_interface="!br0") is judged for C(br0) once C(br0) holds an address in it;
        a rule whose subnet no such link carries yet (separate tasks in check mode, before the bridge exists) is judged
        when it runs for real, and a link made by hand is only warned about.
      - V(integrate) lets the traffic pass through the firewall's own interface where it has one. For a running
        firewalld (in the host namespace), a lab bridge bound to no zone is bound at runtime to the zone
        C(trusted) (C(firewall-cmd --zone=trusted --add-interface=BRIDGE)), recorded in C(/run/nslab/firewalld.json)
        with the labs relying on it, shown in check and diff mode (C(firewalld/BRIDGE)), and unbound when the last of
        those labs removes or purges its rules. It is never made permanent; a persisted lab binds it again at boot.
        A bridge someone bound to another zone stays where it is. Other tables have no such interface - nslab.net
        never edits a table it does not own - so they fail as with V(fail).
      - V(fail) fails, before any change, naming the firewall, the table and chain (or zone) that drops, and the
        command that opens it.
      - The bindings this collection recorded are released by O(state=absent) and O(purge) whatever this option says.
    type: str
    choices: [integrate, fail]
    default: integrate
    version_added: 1.1.0
  reset:
    description:
      - With O(purge), also remove the iptables rules made by hand (by no nslab lab) that do NAT or forwarding for
        the lab's traffic - in the C(nat) table's C(PREROUTING), C(POSTROUTING) and C(OUTPUT) and the C(filter)
        table's C(FORWARD) - and match one of these entries, each a subnet or address (a rule's C(-s), C(-d),
        C(--to-destination) or C(--to-source) overlapping it) or an interface name (its C(-i) or C(-o)); a match
        negated with C(!) does not count. Each one is listed in the actions and the diff, and removed with
        C(iptables-restore --noflush).
      - Re-staging an exercise with C(nslab_reset=true) gives the lab's subnet and bridge, so that a rule a student
        typed (an C(iptables -t nat -A POSTROUTING -s 192.168.0.0/16 -j MASQUERADE), an
        C(iptables -I FORWARD -i br0 -j ACCEPT)) does not survive a reset to a checkpoint, whatever its stage. The
        lab's own rules accept its traffic. Rules in nftables tables of other tools are never edited.
    type: list
    elements: str
    default: []
    version_added: 1.1.0
extends_documentation_fragment:
  - nslab.net.common
  - nslab.net.common.attributes
notes:
  - Teardown with O(state=absent) removes exactly the rules this lab made, and the chains and jumps
    (or the table) once no lab has rules left.
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
- name: Seed 002 - egress, MASQUERADE the lab subnet out of anything but the bridge
  nslab.net.nat_rule:
    type: masquerade
    source: 192.168.0.0/16
    out_interface: "!br0"

- name: Seed 002 - ingress, publish port 5000 of netns1 on the uplink address
  nslab.net.nat_rule:
    type: dnat
    destination: 203.0.113.10
    protocol: tcp
    port: 5000
    to: 192.168.0.2:5000

- name: Several rules in one batch, purging this lab's rules no longer listed
  nslab.net.nat_rule:
    items:
      - {type: masquerade, source: 192.168.0.0/16, out_interface: "!br0"}
      - {type: dnat, destination: 203.0.113.10, protocol: tcp, port: 8000-8010, to: 192.168.0.3}
    purge: true
"""

RETURN = r"""
actions:
  description: The operations planned (check mode) or done, in words.
  returned: always
  type: list
  elements: str
  sample: ["add masquerade from 192.168.0.0/16 out !br0 in the host namespace (iptables)"]
rules:
  description: Each requested rule as it is after the run (as it would be, in check mode).
  returned: success
  type: list
  elements: dict
  sample: [{"netns": null, "type": "masquerade", "source": "192.168.0.0/16", "destination": null,
            "in_interface": null, "out_interface": "!br0", "protocol": null, "port": null, "to": null,
            "comment": null, "key": "3f2a9c1b0d", "backend": "iptables", "rules": 3}]
"""

from ansible_collections.nslab.net.plugins.module_utils._engine.engine import run
from ansible_collections.nslab.net.plugins.module_utils._nat.nat import NatResource


def main() -> None:
    run(NatResource)


if __name__ == "__main__":
    main()
