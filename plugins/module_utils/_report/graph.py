# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A picture of a live lab from netns_info: Graphviz DOT, a Mermaid block, an inline SVG (the class page)."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any


def _id(*parts: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(str(p) for p in parts if p is not None))


def _addresses(link: dict) -> str:
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
    nodes: list[dict] = []
    edges: list[dict] = []
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


# ------------------------------------------------------------------ SVG (the class page)
_W, _H, _GAP = 170, 38, 10                  # a link's box
_COLUMNS = dict(ns=10, ends=250, bridge=440, path=630, uplink=890, internet=1090)
_NOTE = 230                                  # a note of the routed path (forward, NAT)


def _svg_text(x: float, y: float, lines: list, size: int = 11, weight: str = "normal") -> str:
    spans = "".join(f'<tspan x="{x}" dy="{0 if i == 0 else size + 2}">{html.escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    return f'<text x="{x}" y="{y}" font-size="{size}" font-weight="{weight}">{spans}</text>'


def to_svg(m: dict) -> str:
    """A model (:func:`model`) drawn as one inline SVG, with no fonts or files from elsewhere: the namespaces on the
    left, in the host the veth ends, the bridges, the routed path (forward rules, NAT) and the uplink, then the
    internet."""
    out, at = [], {}                 # node id -> (x, y) of its box's top left corner
    by_id = {n["id"]: n for n in m["nodes"]}
    y = 40
    for box in (b for b in m["boxes"] if b["id"] != "ns_host"):
        top, y = y, y + 32 + 13 * len(box["routes"])
        for node in box["members"]:
            at[node] = (_COLUMNS["ns"] + 10, y)
            y += _H + _GAP
        out.append(f'<rect x="{_COLUMNS["ns"]}" y="{top}" width="{_W + 20}" height="{y - top}" rx="8" '
                   'fill="#f3f9ee" stroke="#8a8"/>')
        out.append(_svg_text(_COLUMNS["ns"] + 8, top + 16, [box["label"], *box["routes"]], weight="bold"))
        y += 20
    host: dict = next((b for b in m["boxes"] if b["id"] == "ns_host"), dict(members=[], routes=[]))
    rows = dict(ends=70, bridge=70, path=70, uplink=70)
    for node in host["members"]:
        n = by_id[node]
        col = "uplink" if n["uplink"] else "bridge" if n["kind"] == "bridge" else "ends"
        at[node] = (_COLUMNS[col], rows[col])
        rows[col] += _H + _GAP
    notes = {}
    for step in m["path"]:
        height = 22 + 13 * len(step["lines"])
        notes[step["id"]] = (_COLUMNS["path"], rows["path"], height)
        rows["path"] += height + _GAP
    bottom = max([y, *rows.values()]) + 10
    out.insert(0, f'<rect x="{_COLUMNS["ends"] - 10}" y="40" width="{_COLUMNS["uplink"] + _W + 20 - _COLUMNS["ends"]}" '
                  f'height="{bottom - 40}" rx="8" fill="#eef3fb" stroke="#88a"/>'
                  + _svg_text(_COLUMNS["ends"], 58, [host.get("label", "host")], weight="bold"))

    def middle(node: str, right: bool) -> tuple:
        if node in notes:
            x, top, height = notes[node]
            return (x + _NOTE if right else x, top + height / 2)
        x, top = at[node]
        return (x + _W if right else x, top + _H / 2)
    edges = [(e["a"], e["b"], e["label"]) for e in m["edges"] if {e["a"], e["b"]} <= set(at) | set(notes)]
    if m["uplink"].get("interface") and _id("host", m["uplink"]["interface"]) in at:
        edges.append((_id("host", m["uplink"]["interface"]), "internet", "uplink"))
        ux, uy = at[_id("host", m["uplink"]["interface"])]
        at["internet"] = (_COLUMNS["internet"], uy)
        out.append(f'<ellipse cx="{_COLUMNS["internet"] + 60}" cy="{uy + _H / 2}" rx="60" ry="22" fill="white" stroke="#555"/>')
        out.append(_svg_text(_COLUMNS["internet"] + 30, uy + _H / 2 + 4, ["internet"]))
    for a, b, label in edges:
        if a in notes and b in notes:           # one note under the other
            x1 = x2 = notes[a][0] + _NOTE / 2
            y1, y2 = notes[a][1] + notes[a][2], notes[b][1]
        else:
            (x1, y1), (x2, y2) = middle(a, True), middle(b, False) if b != "internet" else (_COLUMNS["internet"], at[b][1] + _H / 2)
            if x2 < x1:                   # drawn left to right
                (x1, y1), (x2, y2) = middle(b, True), middle(a, False)
        out.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#555"/>')
        if label:
            out.append(_svg_text((x1 + x2) / 2 - 14, (y1 + y2) / 2 - 5, [label], size=9))
    for node, (x, top) in at.items():
        if node == "internet":
            continue
        n = by_id[node]
        fill = "#ffe9b3" if n["kind"] == "bridge" else "#d8ecff" if n["uplink"] else "white"
        out.append(f'<rect x="{x}" y="{top}" width="{_W}" height="{_H}" rx="5" fill="{fill}" stroke="#555"/>')
        out.append(_svg_text(x + 6, top + 15, n["label"].split("\\n")[:2]))
    for step in m["path"]:
        x, top, height = notes[step["id"]]
        out.append(f'<rect x="{x}" y="{top}" width="{_NOTE}" height="{height}" fill="#fff4f4" stroke="#a88"/>')
        out.append(_svg_text(x + 6, top + 15, [step["label"], *step["lines"]], size=10))
    width = _COLUMNS["internet"] + 130
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {bottom + 10}" width="{width}" '
            f'height="{bottom + 10}" font-family="sans-serif" role="img" aria-label="{html.escape(m["title"])}">'
            + _svg_text(10, 20, [m["title"]], size=13, weight="bold") + "".join(out) + "</svg>")
