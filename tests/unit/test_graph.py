# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's picture: the seeds' layout (bridge as hub, the routed path out through NAT to the uplink)."""

from __future__ import annotations

from ansible_collections.nslab.net.plugins.module_utils._report.graph import model, to_dot, to_mermaid, to_svg


def link(name, kind, **kw):
    return dict(name=name, kind=kind, addresses=kw.pop("addresses", []), **kw)


INFO = dict(uplink=dict(interface="eth0", address="203.0.113.10", gateway="203.0.113.1"), info=[
    dict(name=None, routes=[dict(dst="default", gateway="203.0.113.1")], nat_backend="iptables", links=[
        link("lo", "loopback"), link("eth0", "veth", addresses=["203.0.113.10/24"]),
        link("docker0", "bridge"), link("enp1s0", "ether"),
        link("veth0", "veth", master="br0", lab="nslab", peer="ceth0", peer_netns="netns1"),
        link("br0", "bridge", lab="nslab", addresses=["192.168.0.1/16"])],
        nat_rules=[dict(type="forward", comment="bridged", to=None),
                   dict(type="masquerade", comment="egress", to=None),
                   dict(type="dnat", comment="publish netns1", to="192.168.0.2:5000")]),
    dict(name="netns1", routes=[dict(dst="default", gateway="192.168.0.1")], links=[
        link("lo", "loopback"), link("ceth0", "veth", addresses=["192.168.0.2/16"])]),
])


def test_the_bridge_is_the_hub_and_nat_lies_on_the_path_to_the_uplink():
    m = model(INFO, "lab1")
    edges = [(e["a"], e["b"], e["label"]) for e in m["edges"]]
    assert edges == [("netns1_ceth0", "host_veth0", "veth pair"), ("host_veth0", "host_br0", "port"),
                     ("host_br0", "forward", "routed"), ("forward", "nat", ""), ("nat", "host_eth0", "")]
    # the forward accept is a filter rule, not NAT
    assert [(s["id"], s["lines"]) for s in m["path"]] == [
        ("forward", ["accept (bridged)"]), ("nat", ["masquerade (egress)", "dnat -> 192.168.0.2:5000 (publish netns1)"])]


def test_the_host_shows_only_the_lab_its_bridges_and_the_uplink():
    host = next(b for b in model(INFO)["boxes"] if b["id"] == "ns_host")
    assert host["members"] == ["host_eth0", "host_docker0", "host_veth0", "host_br0"]
    assert model(INFO)["boxes"][-1]["id"] == "ns_host"          # namespaces first: left of the bridge


def test_dot_and_mermaid_draw_every_edge_once():
    dot, mmd = to_dot(INFO, "lab1"), to_mermaid(INFO, "lab1")
    for a, b in (("netns1_ceth0", "host_veth0"), ("host_br0", "forward"), ("nat", "host_eth0")):
        assert dot.count(f"{a} -> {b}") == 1 and mmd.count(f"{a} ---") >= 1
    assert "host_eth0 -> internet" in dot and "host_eth0 ---|uplink| internet" in mmd
    assert "cluster_ns_netns1" in dot and "nat [shape=note" in dot


def test_a_lab_without_nat_goes_straight_from_the_bridge_to_the_uplink():
    info = dict(INFO, info=[dict(INFO["info"][0], nat_rules=[]), INFO["info"][1]])
    edges = [(e["a"], e["b"]) for e in model(info)["edges"]]
    assert ("host_br0", "host_eth0") in edges and not model(info)["path"]


def test_the_readme_shows_the_committed_picture():
    import os
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(repo, "README.md")) as fh:
        readme = fh.read()
    with open(os.path.join(repo, "docs", "lab1.mmd")) as fh:
        picture = fh.read()
    assert f"```mermaid\n{picture}```\n" in readme


def test_the_class_page_picture_is_one_svg_with_every_link_and_the_path_out():
    import xml.etree.ElementTree as ET

    svg = to_svg(model(INFO, "student<1>"))
    root = ET.fromstring(svg)                                   # well formed, the title escaped
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}tspan")]
    for text in ("student<1>", "netns1", "default via 192.168.0.1", "ceth0 (veth)", "192.168.0.2/16", "veth0 (veth)",
                 "br0 (bridge)", "192.168.0.1/16", "NAT (iptables)", "dnat -> 192.168.0.2:5000 (publish netns1)",
                 "eth0 (veth)", "internet", "veth pair", "port", "routed", "uplink"):
        assert text in texts, text
    lines = list(root.iter("{http://www.w3.org/2000/svg}line"))
    assert len(lines) == len(model(INFO)["edges"]) + 1          # every edge, and the uplink to the internet
    assert "href" not in svg and "url(" not in svg               # nothing from elsewhere
