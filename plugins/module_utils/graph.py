# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A picture of a live lab from netns_info: Graphviz DOT and a Mermaid block."""

from __future__ import annotations

import re


def _id(*parts) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(str(p) for p in parts if p is not None))


def _addresses(link) -> str:
    return "\\n".join(link.get("addresses") or [])


NAT_TYPES = ("masquerade", "snat", "dnat")


def _rule_line(rule: dict) -> str:
    kind = "accept" if rule["type"] == "forward" else rule["type"]
    return (f"{kind}{' -> ' + rule['to'] if rule.get('to') else ''}"
            f"{' (' + rule['comment'] + ')' if rule.get('comment') else ''}")


def _shown(ns: dict, link: dict, uplink: dict) -> bool:
    """The links a picture shows: in the host's namespace only the lab's, bridges, ports and the uplink."""
    if link["name"] == "lo":
        return False
    return ns["name"] is not None or bool(link.get("lab") or link["kind"] == "bridge" or link.get("master")
                                          or link["name"] == uplink.get("interface"))


def _box(ns: dict, uplink: dict, nodes: list, edges: list) -> dict:
    """One namespace: its links as nodes, and the veth-pair and bridge-port edges that start there."""
    space = ns["name"] or "host"
    members = []
    for link in (lk for lk in ns["links"] if _shown(ns, lk, uplink)):
        node = _id(space, link["name"])
        label = f"{link['name']} ({link['kind']})" + ("\\n" + _addresses(link) if link.get("addresses") else "")
        nodes.append(dict(id=node, label=label, kind=link["kind"],
                          uplink=ns["name"] is None and link["name"] == uplink.get("interface")))
        members.append(node)
        if link["kind"] == "veth" and link.get("peer") and ns["name"] is None:     # namespace end -> host end
            edges.append(dict(a=_id(link.get("peer_netns") or "host", link["peer"]), b=node, label="veth pair"))
        if link.get("master"):
            edges.append(dict(a=node, b=_id(space, link["master"]), label="port"))
    routes = [f"default via {r['gateway']}" for r in ns["routes"] if r["dst"] == "default" and r["gateway"]]
    return dict(id=_id("ns", space), label=ns["name"] or "host (root namespace)", members=members, routes=routes)


def model(info: dict, title: str = "lab") -> dict:
    """The seeds' picture of a lab: namespaces around the bridge, which is their gateway; from the
    bridge the routed path out (forward rules, then NAT) to the uplink and the internet."""
    spaces = info["info"]
    host = next(ns for ns in spaces if ns["name"] is None)
    uplink = info.get("uplink") or {}
    nodes, edges = [], []
    boxes = [_box(ns, uplink, nodes, edges) for ns in sorted(spaces, key=lambda ns: ns["name"] is None)]
    boxes = [b for b in boxes if b["members"] or b["id"] == "ns_host"]
    rules = host.get("nat_rules", [])
    path = [dict(id="forward", label="forward (filter)", lines=[_rule_line(r) for r in rules if r["type"] not in NAT_TYPES]),
            dict(id="nat", label=f"NAT ({host.get('nat_backend') or ''})",
                 lines=[_rule_line(r) for r in rules if r["type"] in NAT_TYPES])]
    path = [step for step in path if step["lines"]]
    bridges = [_id("host", lk["name"]) for lk in host["links"] if lk["kind"] == "bridge" and lk.get("lab")]
    hops = [step["id"] for step in path] + ([_id("host", uplink["interface"])] if uplink.get("interface") else [])
    for bridge in bridges if hops else []:
        edges.append(dict(a=bridge, b=hops[0], label="routed"))
    edges += [dict(a=a, b=b, label="") for a, b in zip(hops, hops[1:])]
    return dict(title=title, boxes=boxes, nodes=nodes, edges=edges, path=path, uplink=uplink)


def to_dot(info: dict, title: str = "lab") -> str:
    m = model(info, title)
    out = [f'digraph "{title}" {{', "  rankdir=LR;", "  newrank=true;",
           '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica"];',
           '  edge [dir=none, fontname="Helvetica", fontsize=10];']
    by_id = {n["id"]: n for n in m["nodes"]}
    for box in m["boxes"]:
        out.append(f'  subgraph cluster_{box["id"]} {{')
        label = box["label"] + ("\\n" + "\\n".join(box["routes"]) if box["routes"] else "")
        host = box["id"] == "ns_host"
        out.append(f'    label="{label}"; style=filled; fillcolor="{"#eef3fb" if host else "#f3f9ee"}";')
        for node in box["members"]:
            n = by_id[node]
            colour = "#ffe9b3" if n["kind"] == "bridge" else "#d8ecff" if n["uplink"] else "white"
            out.append(f'    {node} [label="{n["label"]}", fillcolor="{colour}"];')
        for step in m["path"] if host else []:
            out.append(f'    {step["id"]} [shape=note, fillcolor="#fff4f4", label="{step["label"]}\\n'
                       + "\\n".join(step["lines"]) + '"];')
        out.append("  }")
    if m["uplink"].get("interface"):
        out.append('  internet [label="internet\\n(via ' + (m["uplink"].get("gateway") or "?") + ')", shape=ellipse];')
        out.append(f'  {_id("host", m["uplink"]["interface"])} -> internet [label="uplink"];')
    known = set(by_id) | {step["id"] for step in m["path"]}
    for edge in m["edges"]:
        if edge["a"] in known and edge["b"] in known:
            out.append(f'  {edge["a"]} -> {edge["b"]} [label="{edge["label"]}"];')
    out.append("}")
    return "\n".join(out) + "\n"


def to_mermaid(info: dict, title: str = "lab") -> str:
    m = model(info, title)
    by_id = {n["id"]: n for n in m["nodes"]}
    out = ["flowchart LR"]
    for box in m["boxes"]:
        label = box["label"] + ("<br/>" + "<br/>".join(box["routes"]) if box["routes"] else "")
        out.append(f'  subgraph {box["id"]}["{label}"]')
        for node in box["members"]:
            out.append(f'    {node}["{by_id[node]["label"].replace(chr(92) + "n", "<br/>")}"]')
        for step in m["path"] if box["id"] == "ns_host" else []:
            out.append(f'    {step["id"]}["{step["label"]}<br/>' + "<br/>".join(step["lines"]) + '"]')
        out.append("  end")
    if m["uplink"].get("interface"):
        out.append('  internet(("internet"))')
        out.append(f'  {_id("host", m["uplink"]["interface"])} ---|uplink| internet')
    known = set(by_id) | {step["id"] for step in m["path"]}
    for edge in m["edges"]:
        if edge["a"] in known and edge["b"] in known:
            out.append(f'  {edge["a"]} ---' + (f'|{edge["label"]}| ' if edge["label"] else " ") + edge["b"])
    return "\n".join(out) + "\n"
