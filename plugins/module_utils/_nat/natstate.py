# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A namespace's NAT and filter rules as read: ``iptables-save`` text and ``nft -j list ruleset`` parsed into what
this collection owns (its rules, by their tags) and what others hold (policies, ufw, accepts, base chains, rules made
by hand). The reader layer of NAT: nothing here runs a tool or knows a resource; ``nat.py`` (the nat_rule resource
and its backends) and ``firewalls.py`` (what drops the lab's traffic) both read through it."""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Callable

# iptables: (table, our chain, built-in chain it hangs off)
IPT_CHAINS = {"pre": ("nat", "NSLAB-PRE", "PREROUTING"),
              "post": ("nat", "NSLAB-POST", "POSTROUTING"),
              "fwd": ("filter", "NSLAB-FWD", "FORWARD")}
NFT_TABLE = "nslab"
# nftables: chain key -> (chain name in table inet nslab, its base chain spec)
NFT_CHAINS = {"pre": ("prerouting_nat", "type nat hook prerouting priority dstnat; policy accept;"),
              "post": ("postrouting_nat", "type nat hook postrouting priority srcnat; policy accept;"),
              "fwd": ("forward_filter", "type filter hook forward priority filter; policy accept;")}
XTABLES_NAMES = {"filter", "nat", "mangle", "raw", "security"}
#: the chain holding a rule type's own match (its other kernel rules are the forward accepts it needs)
MAIN_CHAIN = {"masquerade": "post", "snat": "post", "dnat": "pre", "forward": "fwd", "drop": "fwd"}
#: nat_rule's match options, as a rule's view shows them
MATCH_FIELDS = ("source", "destination", "in_interface", "out_interface", "protocol", "port")
_IPT_MATCH = {"-s": "source", "-d": "destination", "-i": "in_interface", "-o": "out_interface", "-p": "protocol",
              "--dport": "port"}
#: a rule that accepts whatever comes in (-i) or goes out (-o) of one interface (ufw route allow ..., iptables -I ...)
_ACCEPT_IF = re.compile(r'^-A \S+ -([io]) (\S+) (?:-m comment --comment (?:"[^"]*"|\S+) )?-j ACCEPT$')
_TAG_RE = re.compile(r'--comment (?:"((?:[^"\\]|\\.)*)"|(\S+))')
#: reset: the built-in chains where a rule made by hand does NAT or forwarding for the lab's traffic
RESET_CHAINS = {"nat": ("PREROUTING", "POSTROUTING", "OUTPUT"), "filter": ("FORWARD",)}


def line_tag(line: str) -> dict | None:
    """The tag of an ``iptables-save`` rule line (its comment), parsed; None if it is not this collection's."""
    found = _TAG_RE.search(line)
    return parse_tag((found.group(1) or found.group(2)) if found else None)


def parse_tag(comment: str | None) -> dict | None:
    """'nslab:LAB:TYPE:KEY:DIGEST user words' -> dict; None if not ours."""
    if not comment or not comment.startswith("nslab:"):
        return None
    head, _sep, user = comment.partition(" ")
    parts = head.split(":")
    if len(parts) != 5:
        return None
    return dict(lab=parts[1], type=parts[2], key=parts[3], digest=parts[4], comment=user or None)


class IptablesState:
    """What iptables-save shows for one family in one namespace."""

    def __init__(self, text: str, variant: str, family: int):
        self.variant, self.family = variant, family
        self.ours: dict = {}             # key -> dict(tag, lines, lab...)
        self.chain_lines: dict = {c: [] for c in IPT_CHAINS}   # chain key -> our rule lines, in order
        self.chains: set = set()         # our chains that exist
        self.jumps: dict = {}            # chain key -> the jump spec found in the built-in chain
        self.foreign = False             # foreign rules or non-ACCEPT policies
        self.forward_drop = False
        self.ufw = False                 # ufw's chains (ufw-*, ufw6-*)
        self.accepted: set = set()       # (iifname|oifname, name) a filter rule of another tool accepts outright
        self.by_hand: list = []          # (table, line) another's rule in a built-in chain lab traffic passes (reset)
        by_name = {spec[1]: key for key, spec in IPT_CHAINS.items()}
        builtin = {spec[2]: key for key, spec in IPT_CHAINS.items()}
        table = None
        for line in text.splitlines():
            if line.startswith("*"):
                table = line[1:].strip()
            elif line.startswith(":"):
                name, policy = line[1:].split()[:2]
                self.ufw = self.ufw or name.startswith(("ufw-", "ufw6-"))
                if name in by_name:
                    self.chains.add(by_name[name])
                elif policy not in ("ACCEPT", "-"):
                    self.foreign = True
                    if table == "filter" and name == "FORWARD":
                        self.forward_drop = True
                elif policy == "-":
                    self.foreign = True
            elif line.startswith("-A "):
                chain = line.split()[1]
                target = line.rsplit("-j ", 1)[-1].split()[0] if "-j " in line else ""
                if chain in by_name:
                    key = by_name[chain]
                    self.chain_lines[key].append(line)
                    tag = line_tag(line)
                    if tag:
                        entry = self.ours.setdefault(tag["key"], dict(tag, lines=[], family=family))
                        entry["lines"].append(line)
                        if key == MAIN_CHAIN.get(tag["type"]):
                            entry.setdefault("main", ("iptables", line))     # its match, read when shown
                        to = re.search(r"--to-(?:destination|source) (\S+)", line)
                        if to:
                            entry["to"] = to.group(1)
                elif target in by_name and builtin.get(chain) == by_name[target] \
                        and table == IPT_CHAINS[by_name[target]][0]:
                    self.jumps[by_name[target]] = line[len("-A "):]
                else:
                    self.foreign = True
                    if chain in RESET_CHAINS.get(table or "", ()):
                        self.by_hand.append((table, line))
                    accept = _ACCEPT_IF.match(line) if table == "filter" else None
                    if accept:
                        self.accepted.add(("iifname" if accept.group(1) == "i" else "oifname", accept.group(2)))


def rules_read(family: str, table: str, hook: str | None) -> bool:
    """Whether :class:`NftState` reads the rules of a chain: ours, and the base chains of every other table but
    iptables-nft's own (``ip filter``, ``ip6 nat``...: iptables-save reads those)."""
    if family == "inet" and table == NFT_TABLE:
        return True
    return bool(hook) and not (family in ("ip", "ip6") and table in XTABLES_NAMES)


def list_ruleset(nft: Callable[[list[str]], str | None], whole: Callable[[], str]) -> dict:
    """What ``nft -j list ruleset`` answers, as far as :class:`NftState` reads it: every table and chain, and the
    rules :func:`rules_read` names. ``nft(args)``: the output of ``nft -j ARGS``, None when nft failed;
    ``whole()``: the output of ``nft -j list ruleset``, read as before (its caller's errors).

    nft fetches every rule of every table to answer ``list ruleset`` (and ``list tables``), iptables-nft's
    included: about 0.3 s at 1000 DNAT rules, in every run of nat_rule. ``list chains`` fetches no rule; then
    ``list table`` reads each table with rules to read. When one of these fails - a table gone meanwhile (a
    firewall reloading), a name nft's command parser does not take - the whole ruleset is read instead. A table
    without any chain is not seen (``NftBackend.native_table`` looks for one where it matters)."""
    import json

    text = nft(["list", "chains"])
    if text is None:
        return json.loads(whole() or "{}")
    listed = json.loads(text or "{}").get("nftables", [])
    tables: dict[tuple[str, str], list] = {}
    for obj in listed:
        chain = obj.get("chain")
        if chain:
            tables.setdefault((chain["family"], chain["table"]), []).append(obj)
    out: list = []
    for (family, name), chains in tables.items():
        if any(rules_read(family, name, obj["chain"].get("hook")) for obj in chains):
            text = nft(["list", "table", family, name])
            if text is None:
                return json.loads(whole() or "{}")
            out += json.loads(text or "{}").get("nftables", [])
        else:
            out += [{"table": {"family": family, "name": name}}] + chains
    return {"nftables": out}


class NftState:
    def __init__(self, data: dict | None, family_filter: object = None):
        self.ours: dict = {}            # key -> entry with handles
        self.table = False
        self.chains: set = set()
        self.native = False             # native nftables tables other than ours / iptables-nft's
        self.drop_forward = []          # foreign base chains on the forward hook with policy drop
        self.base_chains: dict = {}     # (family, table, chain) -> hook, policy, rules: foreign tables' base chains
        self.xtables = False
        for obj in (data or {}).get("nftables", []):
            if "table" in obj:
                t = obj["table"]
                if t["family"] == "inet" and t["name"] == NFT_TABLE:
                    self.table = True
                elif t["family"] in ("ip", "ip6", "arp", "bridge") and t["name"] in XTABLES_NAMES:
                    self.xtables = True
                else:
                    self.native = True
            elif "chain" in obj:
                c = obj["chain"]
                if c["family"] == "inet" and c["table"] == NFT_TABLE:
                    self.chains.add(c["name"])
                else:
                    if c.get("hook") == "forward" and c.get("policy") == "drop":
                        self.drop_forward.append(f"{c['family']} {c['table']} {c['name']}")
                    if rules_read(c["family"], c["table"], c.get("hook")):
                        self.base_chains[(c["family"], c["table"], c["name"])] = dict(
                            hook=c["hook"], policy=c.get("policy"), rules=[])
            elif "rule" in obj:
                r = obj["rule"]
                chain = self.base_chains.get((r["family"], r["table"], r["chain"]))
                if chain is not None:
                    chain["rules"].append(r.get("expr", []))
                if r["family"] != "inet" or r["table"] != NFT_TABLE:
                    continue
                tag = parse_tag(r.get("comment"))
                if tag is None:
                    continue
                entry = self.ours.setdefault(tag["key"], dict(tag, lines=[], handles=[]))
                entry["handles"].append((r["chain"], r["handle"]))
                entry["lines"].append(f"{r['chain']}: {r.get('comment')}")
                if r["chain"] == NFT_CHAINS.get(MAIN_CHAIN.get(tag["type"], ""), ("", ""))[0]:
                    entry.setdefault("main", ("nftables", r.get("expr", [])))
                for expr in r.get("expr", []):
                    for kind in ("dnat", "snat"):
                        if kind in expr:
                            entry["to"] = _nft_to(expr[kind])


def entry_match(entry: dict) -> dict:
    """nat_rule's match options of a rule as read (its rule in the chain of its type), None each when not found."""
    backend, rule = entry.get("main", (None, None))
    if backend == "iptables":
        return ipt_match(rule)
    return nft_match(rule) if backend == "nftables" else dict.fromkeys(MATCH_FIELDS)


def ipt_match(line: str) -> dict:
    """nat_rule's match options of one iptables-save rule line (``! -i eth0`` is ``!eth0``)."""
    words = shlex.split(line)
    out = dict.fromkeys(MATCH_FIELDS)
    for pos, word in enumerate(words[:-1]):
        name = _IPT_MATCH.get(word)
        if name is None:
            continue
        value = words[pos + 1].replace(":", "-") if name == "port" else words[pos + 1]
        out[name] = f"!{value}" if name.endswith("interface") and pos and words[pos - 1] == "!" else value
    return out


def nft_match(exprs: list) -> dict:
    """nat_rule's match options of one rule of ``nft -j`` (its expressions)."""
    out = dict.fromkeys(MATCH_FIELDS)
    for expr in exprs:
        match = expr.get("match") if isinstance(expr, dict) else None
        if not match:
            continue
        left, right = match.get("left") or {}, match.get("right")
        if "payload" in left and left["payload"].get("field") in ("saddr", "daddr"):
            wide = 32 if left["payload"].get("protocol") == "ip" else 128
            net = f"{right['prefix']['addr']}/{right['prefix']['len']}" if isinstance(right, dict) else f"{right}/{wide}"
            out["source" if left["payload"]["field"] == "saddr" else "destination"] = net
        elif "payload" in left and left["payload"].get("field") == "dport":
            ports = right.get("range") if isinstance(right, dict) else None
            out["protocol"], out["port"] = left["payload"].get("protocol"), "-".join(map(str, ports)) if ports else str(right)
        elif "meta" in left and left["meta"].get("key") in ("iifname", "oifname"):
            name = ("!" if match.get("op") == "!=" else "") + str(right)
            out["in_interface" if left["meta"]["key"] == "iifname" else "out_interface"] = name
        elif "meta" in left and left["meta"].get("key") == "l4proto":
            out["protocol"] = str(right)
    return out


def _nft_to(spec: dict) -> str:
    addr, port = spec.get("addr"), spec.get("port")
    if isinstance(port, dict) and "range" in port:
        port = f"{port['range'][0]}-{port['range'][1]}"
    host = f"[{addr}]" if addr and ":" in str(addr) and port else addr
    return f"{host}:{port}" if port is not None else str(addr)
