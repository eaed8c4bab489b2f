# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A namespace's NAT as nat_rule plans on it: both backends read (iptables-save per family and variant, nft), the
backend chosen (``read_nat``, the one place that chooses), conflicts between them refused; what a reset matches."""

from __future__ import annotations

import ipaddress
import shlex
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._host.errors import Conflict, where
from ansible_collections.nslab.net.plugins.module_utils._host.tools import Tools
from ansible_collections.nslab.net.plugins.module_utils._nat.nat_iptables import IptablesBackend, IptablesNat
from ansible_collections.nslab.net.plugins.module_utils._nat.nat_nftables import NftBackend, NftNat
from ansible_collections.nslab.net.plugins.module_utils._nat.natbackend import NatBackend
from ansible_collections.nslab.net.plugins.module_utils._nat.natstate import NFT_TABLE, NftState

if TYPE_CHECKING:
    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Context
    from ansible_collections.nslab.net.plugins.module_utils._nat.natstate import IptablesState


#: the backends nat_rule writes with, by the name its ``backend`` option takes (``auto`` follows the host's tools):
#: a new backend is one file with a ``natbackend.NatBackend`` and its line here
IMPLEMENTATIONS: dict[str, type[NatBackend]] = {"iptables": IptablesNat, "nftables": NftNat}
BACKENDS = ("auto", *IMPLEMENTATIONS)


# ----------------------------------------------------------------- reading
def read_nat(ctx: Context, ns: str | None, requested: str = "auto") -> dict:
    """A namespace's NAT as nat_rule plans on it: both backends read once (iptables-save per family and
    variant; nftables' chains, then the tables whose rules it reads), the backend chosen, conflicts refused;
    cached for the module run."""
    key = ("nat", ns)
    if key in ctx.cache:
        return ctx.cache[key]
    tools = Tools(ctx, ns)
    ipt, ipt_state = {}, {}
    for family, names in ((4, "/proc/net/ip_tables_names"), (6, "/proc/net/ip6_tables_names")):
        found = pick_variant(ns, family, tools, bool(tools.read_proc(names).strip()))
        if found:
            ipt[family], ipt_state[family] = found
    nft = NftBackend(tools)
    nft_state = nft.read() if nft.available() else NftState(None)
    ipt_ours = any(s.ours or s.chains for s in ipt_state.values())
    if ipt_ours and nft_state.table:
        raise Conflict(f"nslab rules found both in iptables ({'/'.join(sorted({s.variant for s in ipt_state.values()}))}"
                       f" chains NSLAB-*) and in nftables (table inet {NFT_TABLE}) in {where(ns)}: a lab's rules "
                       "must live in one backend; remove one set (state: absent with that backend)")
    if requested == "iptables" and nft_state.table:
        raise Conflict(f"backend iptables requested, but this collection's rules are in nftables table inet "
                       f"{NFT_TABLE} in {where(ns)}: remove them with backend nftables first")
    if requested == "nftables" and ipt_ours:
        raise Conflict(f"backend nftables requested, but this collection's rules are in iptables chains NSLAB-* "
                       f"in {where(ns)}: remove them with backend iptables first")
    foreign_ipt = any(s.foreign for s in ipt_state.values())
    if requested != "auto":
        chosen = requested
    elif ipt_ours:
        chosen = "iptables"
    elif nft_state.table:
        chosen = "nftables"
    elif foreign_ipt or not nft.available() or not (nft_state.native or nft.native_table()):
        chosen = "iptables" if ipt_state else "nftables"
    else:
        chosen = "nftables"
    read = dict(ipt=ipt, ipt_state=ipt_state, nft=nft, nft_state=nft_state)
    scope = dict(read, ns=ns, backend=chosen, impl=IMPLEMENTATIONS[chosen].open(ns, read))
    ctx.cache[key] = scope
    return scope


def pick_variant(ns: str | None, family: int, tools: Tools, legacy_tables: bool) -> tuple[IptablesBackend, IptablesState] | None:
    """iptables-nft or iptables-legacy: the one holding our chains, else the
    one the host uses. Legacy is read only when its tables already exist
    (reading it would create them)."""
    candidates = []
    for legacy in ((False, True) if legacy_tables else (False,)):
        backend = IptablesBackend(tools, family, legacy)
        if backend.available():
            candidates.append((backend, backend.read()))
    if not candidates:
        return None
    ours = [c for c in candidates if c[1].ours or c[1].chains]
    if len(ours) > 1:
        raise Conflict(f"nslab chains found in both iptables-nft and iptables-legacy (IPv{family}) in {where(ns)}: "
                       "rules must live in one backend; remove one set by hand")
    if ours:
        return ours[0]
    legacy_foreign = [c for c in candidates if c[0].variant == "legacy" and c[1].foreign]
    nft_foreign = [c for c in candidates if c[0].variant == "nft" and c[1].foreign]
    return legacy_foreign[0] if legacy_foreign and not nft_foreign else candidates[0]


def touches(line: str, nets: list, ifaces: set) -> str | None:
    """What of the lab an iptables-save rule line matches (``subnet 192.168.0.0/16``, ``interface br0``), or None: an
    address (-s, -d, --to-destination, --to-source) overlapping one of ``nets``, an interface (-i, -o) in ``ifaces``;
    a match negated with ``!`` (a rule for everything but the lab) does not count."""
    try:
        words = shlex.split(line)
    except ValueError:
        return None
    for index, (flag, value) in enumerate(zip(words, words[1:])):
        if index and words[index - 1] == "!":
            continue
        if flag in ("-i", "-o") and value in ifaces:
            return f"interface {value}"
        if flag in ("-s", "-d", "--to-destination", "--to-source"):
            address = value.split("-", 1)[0]                  # a range: its first address
            if flag.startswith("--to"):                      # 192.168.0.2:5000, [fd00::2]:80
                address = address[1:].split("]", 1)[0] if address.startswith("[") else (
                    address.split(":", 1)[0] if address.count(":") == 1 else address)
            try:
                net = ipaddress.ip_network(address, strict=False)
            except ValueError:
                continue
            hit = next((n for n in nets if n.version == net.version and n.overlaps(net)), None)
            if hit is not None:
                return f"subnet {hit}" if hit.num_addresses > 1 else f"address {hit.network_address}"
    return None


def reset_match(option: str, values: list[str] | None) -> tuple[list, set]:
    """nat_rule's ``reset``: (networks, interface names), each entry a CIDR or an address, or an interface name."""
    nets, ifaces = [], set()
    for index, value in enumerate(values or []):
        value = str(value).strip()
        try:
            nets.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            ifaces.add(v.ifname(f"{option}[{index}]", value))
    return nets, ifaces


def lab_rules(scope: dict) -> dict:
    """This collection's rules in a namespace read by :func:`read_nat`: key -> entry (lab, type, lines...)."""
    return scope["impl"].ours()
