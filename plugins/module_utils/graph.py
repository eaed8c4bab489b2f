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


def model(info: dict, title: str = "lab") -> dict:
    """Boxes (namespaces), nodes (links) and edges (veth, master, uplink) of a lab."""
    spaces = info["info"]
    host = next(ns for ns in spaces if ns["name"] is None)
    uplink = info.get("uplink") or {}
    nodes, edges, boxes = [], [], []
    for ns in spaces:
        members = []
        for link in ns["links"]:
            if link["name"] == "lo":
                continue
            if ns["name"] is None and not (link.get("lab") or link["kind"] == "bridge" or link.get("master")
                                           or link["name"] == uplink.get("interface")):
                continue
            node = _id(ns["name"] or "host", link["name"])
            label = f"{link['name']} ({link['kind']})"
            if link.get("addresses"):
                label += "\\n" + _addresses(link)
            nodes.append(dict(id=node, label=label, kind=link["kind"],
                              uplink=ns["name"] is None and link["name"] == uplink.get("interface")))
            members.append(node)
            if link.get("master"):
                edges.append(dict(a=node, b=_id(ns["name"] or "host", link["master"]), label="master"))
            if link["kind"] == "veth" and link.get("peer") and ns["name"] is None:
                edges.append(dict(a=node, b=_id(link.get("peer_netns") or "host", link["peer"]), label="veth"))
        if ns["name"] is None or members:
            routes = [f"default via {r['gateway']}" for r in ns["routes"] if r["dst"] == "default" and r["gateway"]]
            boxes.append(dict(id=_id("ns", ns["name"] or "host"), label=ns["name"] or "host (root namespace)",
                              members=members, routes=routes))
    nat = [f"{r['type']}{' -> ' + r['to'] if r.get('to') else ''}{' (' + r['comment'] + ')' if r.get('comment') else ''}"
           for r in host.get("nat_rules", [])]
    return dict(title=title, boxes=boxes, nodes=nodes, edges=edges, nat=nat, uplink=uplink,
                backend=host.get("nat_backend"))


def to_dot(info: dict, title: str = "lab") -> str:
    m = model(info, title)
    out = [f'digraph "{title}" {{', "  rankdir=LR;", '  node [shape=box, style="rounded,filled", fillcolor=white, '
           'fontname="Helvetica"];', '  edge [dir=none, fontname="Helvetica", fontsize=10];']
    by_id = {n["id"]: n for n in m["nodes"]}
    for box in m["boxes"]:
        out.append(f'  subgraph cluster_{box["id"]} {{')
        label = box["label"] + ("\\n" + "\\n".join(box["routes"]) if box["routes"] else "")
        out.append(f'    label="{label}"; style=filled; fillcolor="{"#eef3fb" if box["label"].startswith("host") else "#f3f9ee"}";')
        for node in box["members"]:
            n = by_id[node]
            colour = "#ffe9b3" if n["kind"] == "bridge" else "#d8ecff" if n["uplink"] else "white"
            out.append(f'    {node} [label="{n["label"]}", fillcolor="{colour}"];')
        out.append("  }")
    if m["uplink"].get("interface"):
        out.append('  internet [label="internet\\n(via ' + (m["uplink"].get("gateway") or "?") + ')", shape=ellipse];')
        out.append(f'  {_id("host", m["uplink"]["interface"])} -> internet [label="uplink"];')
    for edge in m["edges"]:
        if edge["a"] in by_id and edge["b"] in by_id:
            out.append(f'  {edge["a"]} -> {edge["b"]} [label="{edge["label"]}"];')
    if m["nat"]:
        out.append('  nat [shape=note, fillcolor="#fff4f4", label="NAT (' + (m["backend"] or "") + ')\\n'
                   + "\\n".join(m["nat"]) + '"];')
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
        out.append("  end")
    if m["uplink"].get("interface"):
        out.append('  internet(("internet"))')
        out.append(f'  {_id("host", m["uplink"]["interface"])} ---|uplink| internet')
    for edge in m["edges"]:
        if edge["a"] in by_id and edge["b"] in by_id:
            out.append(f'  {edge["a"]} ---|{edge["label"]}| {edge["b"]}')
    if m["nat"]:
        out.append('  nat["NAT (' + (m["backend"] or "") + ")<br/>" + "<br/>".join(m["nat"]) + '"]')
    return "\n".join(out) + "\n"
