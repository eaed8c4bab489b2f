# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Firewalls beside the lab that would drop its traffic, found before any change.

nftables runs every base chain registered on a hook, in every table: an accept in this collection's
own table (``inet nslab``) or in iptables does not override a drop in another table. A host's own
nftables table (a hardened ``/etc/nftables.conf``, firewalld's ``inet firewalld``, a chain beside
Docker's nftables tables) whose base chain on the ``forward`` or ``input`` hook ends in a drop - its
policy, or a last rule that drops or rejects whatever comes - drops the lab's egress, its published
ports (forward) and the namespaces' traffic to the host (input), unless it accepts the lab's bridge.

This collection never edits a table it does not own: :func:`blockers` names each such chain and
:func:`refusal` says exactly what to run to open it (firewalld's own ``firewall-cmd`` for its table).
firewalld has an interface for other tools: :func:`integrate` asks it, through ``firewall-cmd``, which zone
holds the bridge, and (nat_rule's ``firewall: integrate``, the default) binds an unbound lab bridge to its
zone trusted at runtime, recorded with the labs that rely on it, unbound when the last of them goes.
The chains are read with the rest of the ruleset (``natstate.NftState``); iptables' own tables
(iptables-nft) are left to the iptables backend, which opens its FORWARD chain itself.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, Callable

#: the hooks the lab's traffic passes, and which of the bridge's directions each must accept
HOOKS = {"forward": ("iifname", "oifname"), "input": ("iifname",)}
VERDICTS = ("accept", "drop", "reject", "jump", "goto", "return", "queue")
FIREWALLD_TABLE = ("inet", "firewalld")
#: the zone firewalld ships for interfaces it accepts everything from (target ACCEPT)
TRUSTED = "trusted"
#: what to do about a firewall that would drop the lab's traffic (nat_rule's option firewall)
MODES = ("integrate", "fail")
#: the lab bridges this collection bound to a firewalld zone, and the labs relying on each binding
RECORD = "/run/nslab/firewalld.json"


def verdict(rule: list) -> str | None:
    """The rule's verdict statement (accept, drop, reject, jump...), None when it has none."""
    for statement in rule:
        for name in VERDICTS:
            if name in statement:
                return name
    return None


def interfaces(rule: list) -> set:
    """(iifname|oifname, name) pairs the rule matches with == or a set."""
    found: set[tuple[str, str]] = set()
    for statement in rule:
        match = statement.get("match") if isinstance(statement, dict) else None
        if not match or match.get("op") not in ("==", "in"):
            continue
        key: Any = (match.get("left") or {}).get("meta", {}).get("key") if isinstance(match.get("left"), dict) else None
        key = {"iif": "iifname", "oif": "oifname"}.get(key, key)       # iif br0: by index, the same link
        if key not in ("iifname", "oifname"):
            continue
        right = match.get("right")
        names = right.get("set", []) if isinstance(right, dict) else [right]
        found.update((key, name) for name in names if isinstance(name, str))
    return found


def unconditional(rule: list) -> bool:
    """A rule that applies to every packet (no match, only counters and its verdict)."""
    return not any("match" in statement for statement in rule if isinstance(statement, dict))


def drops(chain: dict) -> str | None:
    """Why a base chain drops what it does not accept: its policy, or its last rule; None when it does not."""
    if chain.get("policy") == "drop":
        return "policy drop"
    rules = chain.get("rules") or []
    if rules and verdict(rules[-1]) in ("drop", "reject") and unconditional(rules[-1]):
        return f"its last rule {verdict(rules[-1])}s every packet"
    return None


def blockers(chains: dict, bridges: set) -> list[dict]:
    """Each foreign base chain on a hook the lab uses that would drop traffic of ``bridges``, with the
    accepts it lacks. ``chains``: (family, table, name) -> {hook, policy, rules: [statements...]}."""
    out = []
    for (family, table, name), chain in sorted(chains.items()):
        hook = chain.get("hook")
        why = drops(chain) if hook in HOOKS else None
        if not why:
            continue
        accepted = set()
        for rule in chain.get("rules") or []:
            if verdict(rule) == "accept":
                accepted |= interfaces(rule)
        missing = [(key, bridge) for bridge in sorted(bridges) for key in HOOKS[hook] if (key, bridge) not in accepted]
        if missing:
            out.append(dict(family=family, table=table, chain=name, hook=hook, why=why, missing=missing))
    return out


class Firewalld:
    """A running firewalld, asked and changed through its own ``firewall-cmd`` (its D-Bus API's client), in
    its runtime configuration only: a reload or a restart of firewalld, or a reboot, forgets what this
    collection bound (a persisted lab binds it again at boot). ``run(args) -> (rc, out)`` runs firewall-cmd."""

    def __init__(self, run: Callable[[list[str]], tuple[int, str]], zones: dict | None = None):
        self.run = run
        self.zones: dict = zones if zones is not None else {}     # interface -> zone (None: none), as learnt
        self.targets: dict = {}

    def zone_of(self, interface: str) -> str | None:
        """The zone ``interface`` is bound to, None when it is bound to none (firewalld's default zone then
        applies to it)."""
        if interface not in self.zones:
            rc, out = self.run([f"--get-zone-of-interface={interface}"])
            self.zones[interface] = out.strip() if rc == 0 and out.strip() else None
        return self.zones[interface]

    def target(self, zone: str) -> str | None:
        if zone not in self.targets:
            rc, out = self.run(["--permanent", f"--zone={zone}", "--get-target"])
            self.targets[zone] = out.strip() if rc == 0 else None
        return self.targets[zone]

    def accepts(self, interface: str) -> bool:
        zone = self.zone_of(interface)
        return zone is not None and self.target(zone) == "ACCEPT"

    @staticmethod
    def command(change: dict) -> list:
        return [f"--zone={change['zone']}", f"--{change['action']}-interface={change['interface']}"]


def _owned(record: dict, lab: str) -> dict:
    return {bridge: entry for bridge, entry in record.items() if lab in entry["labs"]}


def integrate(found: list[dict], firewalld: Firewalld, mode: str, lab: str, record: dict,
              needed: set, release: bool) -> tuple[list, list, dict]:
    """What firewalld's own interface does about ``found`` (see :func:`blockers`) for the lab ``lab``:
    the blockers left, the changes to make and the record afterwards.

    - A bridge in a zone whose target is ACCEPT passes already.
    - ``mode`` integrate: a bridge bound to no zone is bound, at runtime, to the zone trusted (target ACCEPT)
      and written in ``record`` (bridge -> {zone, labs}: the labs relying on the binding). A bridge a user
      bound to another zone stays there: its blocker is left, and the refusal names the zone.
    - Each lab that needs a bridge the record holds joins its labs; ``release`` (a purge or a removal):
      the lab leaves the bridges it no longer needs, and the last lab to leave unbinds it.
    Changes: dicts of action (add, remove), interface and zone."""
    record = {bridge: dict(entry, labs=list(entry["labs"])) for bridge, entry in record.items()}
    left: list[dict] = []
    changes: list[dict] = []
    for blocker in found:
        if (blocker["family"], blocker["table"]) != FIREWALLD_TABLE:
            left.append(blocker)
            continue
        missing = []
        for key, bridge in blocker["missing"]:
            if firewalld.accepts(bridge):
                continue
            if mode == "integrate" and firewalld.zone_of(bridge) is None and firewalld.target(TRUSTED) == "ACCEPT":
                if not any(change["interface"] == bridge for change in changes):   # forward and input: one binding
                    changes.append(dict(action="add", interface=bridge, zone=TRUSTED))
                record.setdefault(bridge, dict(zone=TRUSTED, labs=[]))      # again after firewalld forgot it
                continue
            missing.append((key, bridge))
        if missing:
            zones = {bridge: firewalld.zone_of(bridge) for _key, bridge in missing}
            left.append(dict(blocker, missing=missing, zones=zones, mode=mode,
                             trusted=firewalld.target(TRUSTED)))
    for bridge in sorted(needed & set(record)):
        if lab not in record[bridge]["labs"]:
            record[bridge]["labs"] = sorted(record[bridge]["labs"] + [lab])
    for bridge, entry in sorted(_owned(record, lab).items()):
        if release and bridge not in needed:
            entry["labs"].remove(lab)
            if not entry["labs"]:
                del record[bridge]
                if firewalld.zone_of(bridge) == entry["zone"]:      # a restart of firewalld forgot it already
                    changes.append(dict(action="remove", interface=bridge, zone=entry["zone"]))
    return left, changes, record


def _firewalld_fix(bridge: str, blocker: dict) -> str:
    zone, trusted = blocker.get("zones", {}).get(bridge), blocker.get("trusted", "ACCEPT")
    if zone is not None:
        return (f"firewall-cmd --zone={TRUSTED} --change-interface={bridge} ({bridge} is in firewalld zone {zone}, "
                "which does not accept everything, and nslab.net does not move an interface someone bound)")
    if blocker.get("mode") == "integrate" and trusted != "ACCEPT":
        return (f"firewall-cmd --zone=ZONE --add-interface={bridge} with a zone of yours that accepts the lab's "
                f"traffic (firewalld's zone {TRUSTED} has target {trusted}, not ACCEPT, so nslab.net cannot use it)")
    opt_in = ", or firewall: integrate (the roles: nslab_firewall: integrate) to let nslab.net bind it at runtime " \
             "and unbind it at teardown" if blocker.get("mode") == "fail" else ""
    return f"firewall-cmd --zone={TRUSTED} --add-interface={bridge} (add --permanent to keep it across reboots){opt_in}"


def _fix(blocker: dict) -> str:
    if (blocker["family"], blocker["table"]) == FIREWALLD_TABLE:
        return "; ".join(_firewalld_fix(bridge, blocker) for bridge in sorted({b for _key, b in blocker["missing"]}))
    rules = [f"nft insert rule {blocker['family']} {blocker['table']} {blocker['chain']} {key} {bridge} accept"
             for key, bridge in blocker["missing"]]
    return "; ".join(rules) + " (and the same rules in /etc/nftables.conf to keep them across reboots)"


def refusal(found: list[dict], where: str) -> str:
    """The message: each firewall, its table and chain, why it drops, and what opens it."""
    parts, said = [], set()
    for blocker in found:
        table = f"{blocker['family']} {blocker['table']}"
        who = "firewalld" if (blocker["family"], blocker["table"]) == FIREWALLD_TABLE else f"the nftables table {table}"
        lacks = " and ".join(f"{key} {bridge}" for key, bridge in blocker["missing"])
        traffic = "egress and published ports" if blocker["hook"] == "forward" else "traffic from the namespaces to the host"
        fix = _fix(blocker)
        parts.append(f"{who} in {where} would drop the lab's {traffic}: base chain {table} {blocker['chain']} "
                     f"(hook {blocker['hook']}, {blocker['why']}) accepts no {lacks}"
                     + (". The same command opens it" if fix in said else f". Open it, then re-run: {fix}"))
        said.add(fix)
    return ("; ".join(parts) + ". nftables runs every base chain, so an accept in this collection's own rules does "
            "not override it, and nslab.net never edits a table it does not own")


def present(run: Callable[[list[str]], tuple[int, str]]) -> list[str]:
    """The firewalls on this host that can drop the lab's traffic, named for the connectivity report when a fact
    fails: a running firewalld, an active ufw, Docker's rules, an iptables FORWARD policy DROP and each foreign
    nftables base chain on the forward or input hook that ends in a drop (as :func:`drops` judges it).
    ``run(argv) -> (rc, out)`` runs a tool in the host namespace; a tool that is missing finds nothing."""
    from ansible_collections.nslab.net.plugins.module_utils._nat.natstate import IptablesState, NftState, list_ruleset
    from ansible_collections.nslab.net.plugins.module_utils._host.errors import known
    from ansible_collections.nslab.net.plugins.module_utils._host.tools import which

    found = []
    nft, ipt, firewall_cmd = which("nft"), which("iptables-save"), which("firewall-cmd")
    firewalld = firewall_cmd is not None and run([firewall_cmd, "--state"]) == (0, "running\n")
    if firewalld:
        found.append("firewalld (running; firewall-cmd --get-active-zones shows its zones)")
    rc, out = run([ipt]) if ipt else (1, "")
    if rc == 0:
        state = IptablesState(out, "nft", 4)         # read as the iptables backend reads it
        if state.ufw:
            found.append("ufw (active; ufw status verbose shows its rules)")
        if re.search(r"^:DOCKER", out, re.M):
            found.append("Docker's iptables rules")
        if state.forward_drop:
            found.append("the iptables FORWARD policy DROP")

    def attempt(args: list[str]) -> str | None:
        rc, out = run([known(nft), "-j", *args])
        return out if rc == 0 else None

    def whole() -> str:
        out = attempt(["list", "ruleset"])
        if out is None:
            raise ValueError("nft -j list ruleset failed")
        return out

    try:
        chains = NftState(list_ruleset(attempt, whole)).base_chains if nft else {}
    except ValueError:
        chains = {}
    for (family, table, chain), spec in sorted(chains.items()):
        why = drops(spec) if spec.get("hook") in HOOKS else None
        if why and not (firewalld and (family, table) == FIREWALLD_TABLE):      # named above
            found.append(f"the nftables chain {family} {table} {chain} (hook {spec['hook']}, {why})")
    return found


def iptables_blockers(states: dict, bridges: set) -> list[dict]:
    """The iptables firewalls that drop routed traffic - ufw (its chains; routed traffic denied by default) or a
    FORWARD policy DROP (Docker's) - per family, with the accepts of the lab bridges they lack. The lab opens
    them itself in its own NSLAB-FWD chain; this is what ``firewall: fail`` refuses instead. ``states``: family
    -> natstate.IptablesState."""
    out = []
    for family, state in sorted(states.items()):
        if not (state.ufw or state.forward_drop):
            continue
        missing = [(key, bridge) for bridge in sorted(bridges) for key in ("iifname", "oifname")
                   if (key, bridge) not in state.accepted]
        if missing:
            out.append(dict(ufw=state.ufw, family=family, variant=state.variant, missing=missing))
    return out


def iptables_refusal(found: list[dict], where: str) -> str:
    """The message for :func:`iptables_blockers`: the firewall, why, and the commands that open it."""
    parts, said = [], set()
    flag = {"iifname": "in", "oifname": "out"}
    for blocker in found:
        if blocker["ufw"]:
            who = "ufw (routed traffic denied by default)"
            fix = "; ".join(f"ufw route allow {flag[key]} on {bridge}" for key, bridge in blocker["missing"])
        else:
            tool = "ip6tables" if blocker["family"] == 6 else "iptables"
            who = f"the {tool} FORWARD policy DROP ({tool}-{blocker['variant']})"
            fix = "; ".join(f"{tool} -I FORWARD -{flag[key][0]} {bridge} -j ACCEPT" for key, bridge in blocker["missing"])
        if fix in said:
            continue
        said.add(fix)
        parts.append(f"{who} in {where} would drop the lab's egress and published ports, and firewall: fail leaves "
                     f"it to you instead of accepting the lab's flows in this collection's own NSLAB-FWD chain. "
                     f"Open it, then re-run: {fix}; or set firewall: integrate (the roles: nslab_firewall: integrate)")
    return "; ".join(parts)
