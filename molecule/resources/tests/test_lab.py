"""The lab's six connectivity facts with real traffic, and its kernel state read
with independent tools (ip -j, iptables-save, nft -j), not with netns_info."""

from __future__ import annotations

import ipaddress
import json

PUBLIC = "198.51.100.10"


def _ns(lab):
    return lab[1]["namespaces"]


def _ping(host, target, netns=None):
    prefix = f"ip netns exec {netns} " if netns else ""
    return host.run(f"{prefix}ping -c 1 -W 2 {target}").rc == 0


def test_host_reaches_every_namespace(lab):
    host, want = lab
    for ns in _ns(lab):
        assert _ping(host, ns["address"]), f"{want['name']}: host -> {ns['name']}"


def test_every_namespace_reaches_the_host(lab):
    host, want = lab
    for ns in _ns(lab):
        assert _ping(host, want["uplink_address"], ns["name"]), f"{ns['name']} -> host"


def test_namespaces_reach_each_other(lab):
    host = lab[0]
    spaces = _ns(lab)
    for a in spaces:
        for b in spaces:
            if a is not b:
                assert _ping(host, b["address"], a["name"]), f"{a['name']} -> {b['name']}"


def test_namespaces_reach_the_internet_through_nat(lab):
    host, want = lab
    for ns in _ns(lab):
        out = host.run(f"ip netns exec {ns['name']} curl -sS --max-time 3 http://{PUBLIC}/")
        assert out.rc == 0, out.stderr
        assert out.stdout.strip() == f"seen-from {want['uplink_address']}", "the public server saw the uplink address"


def test_outside_reaches_published_ports(lab, internet):
    want = lab[1]
    for pub in want["published_ports"]:
        out = internet.run(f"curl -sS --max-time 3 http://{want['uplink_address']}:{pub['port']}/")
        assert out.rc == 0 and f"nslab demo service in {pub['namespace']}" in out.stdout, out.stderr


def test_namespaces_reach_published_ports_by_the_uplink_address(lab):
    host, want = lab
    for pub in want["published_ports"]:
        for ns in _ns(lab):
            out = host.run(f"ip netns exec {ns['name']} curl -sS --max-time 3 "
                           f"http://{want['uplink_address']}:{pub['port']}/")
            assert out.rc == 0 and f"nslab demo service in {pub['namespace']}" in out.stdout, \
                f"{ns['name']} -> uplink:{pub['port']}: {out.stderr}"


def test_kernel_state_matches_the_topology(lab):
    host, want = lab
    prefix = ipaddress.ip_interface(want["gateway"]).network.prefixlen
    bridge = json.loads(host.check_output(f"ip -j -d addr show dev {want['bridge']}"))[0]
    assert bridge["linkinfo"]["info_kind"] == "bridge" and bridge["operstate"] == "UP"
    assert want["gateway"] in [f"{a['local']}/{a['prefixlen']}" for a in bridge["addr_info"]]
    listed = json.loads(host.check_output("ip -j netns list"))
    assert sorted(n["name"] for n in listed) == sorted(ns["name"] for ns in _ns(lab))
    for ns in _ns(lab):
        links = json.loads(host.check_output(f"ip -n {ns['name']} -j addr show"))
        addresses = [f"{a['local']}/{a['prefixlen']}" for link in links for a in link["addr_info"]]
        assert f"{ns['address']}/{prefix}" in addresses
        routes = json.loads(host.check_output(f"ip -n {ns['name']} -j route show default"))
        assert [r["gateway"] for r in routes] == [want["gateway"].split("/")[0]]
        if ns.get("veth"):
            veth = json.loads(host.check_output(f"ip -j link show dev {ns['veth']}"))[0]
            assert veth.get("master") == want["bridge"]
    assert host.file("/proc/sys/net/ipv4/ip_forward").content_string.strip() == "1"


def test_nat_rules_in_one_backend(lab):
    host, want = lab
    subnet = ipaddress.ip_interface(want["gateway"]).network.with_prefixlen
    ipt = host.check_output("iptables-save")
    nft = json.loads(host.check_output("nft -j list ruleset"))
    ours_nft = [o for o in nft["nftables"] if "table" in o and o["table"]["name"] == "nslab"]
    if want["nat_backend"] == "nftables":
        assert ours_nft and "NSLAB" not in ipt
        rules = host.check_output("nft list table inet nslab")
        assert "masquerade" in rules
        for pub in want["published_ports"]:
            assert f"dport {pub['port']}" in rules
    else:
        assert not ours_nft
        assert f"-A NSLAB-POST -s {subnet} -o eth0" in ipt and "-j MASQUERADE" in ipt
        for pub in want["published_ports"]:
            assert f"-d {want['uplink_address']}/32 -p {pub.get('protocol', 'tcp')} -m {pub.get('protocol', 'tcp')} " \
                   f"--dport {pub['port']}" in ipt
