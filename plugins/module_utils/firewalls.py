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
:func:`refusal` says exactly what to run to open it (firewalld's own ``firewall-cmd`` for its table);
:func:`firewalld_opened` asks a running firewalld, through ``firewall-cmd``, which zone holds the bridge.
The chains are read with the rest of the ruleset (``nat.NftState``); iptables' own tables
(iptables-nft) are left to the iptables backend, which opens its FORWARD chain itself.
"""

from __future__ import annotations

#: the hooks the lab's traffic passes, and which of the bridge's directions each must accept
HOOKS = {"forward": ("iifname", "oifname"), "input": ("iifname",)}
VERDICTS = ("accept", "drop", "reject", "jump", "goto", "return", "queue")
FIREWALLD_TABLE = ("inet", "firewalld")


def verdict(rule: list) -> str | None:
    """The rule's verdict statement (accept, drop, reject, jump...), None when it has none."""
    for statement in rule:
        for name in VERDICTS:
            if name in statement:
                return name
    return None


def interfaces(rule: list) -> set:
    """(iifname|oifname, name) pairs the rule matches with == or a set."""
    found = set()
    for statement in rule:
        match = statement.get("match") if isinstance(statement, dict) else None
        if not match or match.get("op") not in ("==", "in"):
            continue
        key = (match.get("left") or {}).get("meta", {}).get("key") if isinstance(match.get("left"), dict) else None
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


def firewalld_opened(found: list[dict], run) -> list[dict]:
    """Drop from ``found`` what firewalld itself says it accepts: a bridge bound to a zone whose target is
    ACCEPT (``firewall-cmd --get-zone-of-interface``, ``--permanent --zone=Z --get-target``), read through
    its own tool. ``run(argv) -> (rc, out)``; without firewall-cmd nothing is dropped."""
    verdicts: dict = {}

    def accepts(bridge: str) -> bool:
        if bridge not in verdicts:
            rc, zone = run(["firewall-cmd", f"--get-zone-of-interface={bridge}"])
            target = run(["firewall-cmd", "--permanent", f"--zone={zone.strip()}", "--get-target"]) if rc == 0 else (1, "")
            verdicts[bridge] = rc == 0 and target[0] == 0 and target[1].strip() == "ACCEPT"
        return verdicts[bridge]

    out = []
    for blocker in found:
        if (blocker["family"], blocker["table"]) == FIREWALLD_TABLE:
            blocker = dict(blocker, missing=[(key, b) for key, b in blocker["missing"] if not accepts(b)])
        if blocker["missing"]:
            out.append(blocker)
    return out


def _fix(blocker: dict) -> str:
    if (blocker["family"], blocker["table"]) == FIREWALLD_TABLE:
        bridges = sorted({bridge for _key, bridge in blocker["missing"]})
        return "; ".join(f"firewall-cmd --zone=trusted --add-interface={b}" for b in bridges) + \
            " (add --permanent to keep it across reboots)"
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
