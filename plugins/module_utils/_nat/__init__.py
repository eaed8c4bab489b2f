# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NAT and the firewalls beside it: NAT as read (natstate), the backends behind NatBackend (iptables, nftables),
the nat_rule resource, the host firewalls judged for the lab's links."""
