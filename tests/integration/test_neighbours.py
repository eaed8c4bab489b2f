"""A veth pair re-created by drift repair has new MAC addresses, and so may the bridge it joins
(a bridge takes the lowest MAC of its ports): the neighbour entries of their addresses (the
host's on the bridge, the other namespaces') are forgotten in the same run, so traffic flows at
once instead of after the old entries time out. In a sandbox."""

from __future__ import annotations

import json

PAIRS = [{"name": "veth0", "peer": "ceth0", "peer_netns": "netns1", "peer_address": ["192.168.0.2/16"]},
         {"name": "veth1", "peer": "ceth1", "peer_netns": "netns2", "peer_address": ["192.168.0.3/16"]}]


def build(mod) -> dict:
    """Seed 002's lab with the modules, as the lab playbook calls them; returns the veth result."""
    mod("netns", items=[{"name": "netns1"}, {"name": "netns2"}], dns=["127.0.0.1"])
    mod("bridge_port", bridge="br0", address=["192.168.0.1/16"])
    veth = mod("veth", items=PAIRS)
    mod("bridge_port", bridge="br0", items=[{"port": "veth0"}, {"port": "veth1"}])
    return veth


def entries(mod, address: str, netns: str | None = None) -> list[dict]:
    prefix = f"ip -n {netns} " if netns else "ip "
    return json.loads(mod.sh(f"{prefix}-j neigh show to {address}").stdout or "[]")


def mac(mod, netns: str | None, link: str) -> str:
    prefix = f"ip -n {netns} " if netns else "ip "
    return json.loads(mod.sh(f"{prefix}-j link show {link}").stdout)[0]["address"]


def test_recreated_peer_gets_traffic_at_once(mod):
    assert build(mod)["changed"]
    # veth1 gets the highest MAC, so the bridge's is veth0's: re-creating veth0 changes it
    mod.sh("ip link set veth1 address fe:ff:ff:ff:ff:fe")
    old_gateway = mac(mod, None, "br0")
    assert old_gateway == mac(mod, None, "veth0")
    # the host and netns2 talk to netns1, netns2 to its gateway: they learn ceth0's and br0's MAC
    assert mod.sh("ping -c 1 -W 2 192.168.0.2", check=False).returncode == 0
    assert mod.sh("ip netns exec netns2 ping -c 1 -W 2 192.168.0.2", check=False).returncode == 0
    assert mod.sh("ip netns exec netns2 ping -c 1 -W 2 192.168.0.1", check=False).returncode == 0
    assert [e["lladdr"] for e in entries(mod, "192.168.0.1", "netns2")] == [old_gateway]
    old = mac(mod, "netns1", "ceth0")
    host = entries(mod, "192.168.0.2")
    assert [(e["dev"], e["lladdr"]) for e in host] == [("br0", old)] and "REACHABLE" in host[0]["state"], host
    assert [e["lladdr"] for e in entries(mod, "192.168.0.2", "netns2")] == [old]
    # a permanent entry someone set by hand is not ours to delete
    mod.sh("ip -n netns2 neigh add 192.168.0.3 lladdr 02:00:00:00:00:33 dev ceth1 nud permanent")

    mod.sh("ip link del veth0")                       # drift: the pair is gone, ceth0 with it
    veth = build(mod)                                 # the same calls repair it
    assert mac(mod, None, "br0") not in (old_gateway, "fe:ff:ff:ff:ff:fe")
    assert veth["changed"] and veth["actions"] == ["add veth veth0 <-> ceth0@netns1",
                                                   "add address 192.168.0.2/16 to ceth0 in netns netns1"], veth
    new = mac(mod, "netns1", "ceth0")
    assert new != old
    assert all(e.get("lladdr") != old for e in entries(mod, "192.168.0.2")), entries(mod, "192.168.0.2")
    assert all(e.get("lladdr") != old for e in entries(mod, "192.168.0.2", "netns2"))
    # one packet, one second: the host resolves the new MAC at once (the bug: up to a minute of silence)
    assert mod.sh("ping -c 1 -W 1 192.168.0.2", check=False).returncode == 0
    assert mod.sh("ip netns exec netns2 ping -c 1 -W 1 192.168.0.2", check=False).returncode == 0
    assert mod.sh("ip netns exec netns2 ping -c 1 -W 1 192.168.0.1", check=False).returncode == 0
    assert [e["lladdr"] for e in entries(mod, "192.168.0.2")] == [new]
    assert [e["lladdr"] for e in entries(mod, "192.168.0.1", "netns2")] == [mac(mod, None, "br0")]
    assert "PERMANENT" in entries(mod, "192.168.0.3", "netns2")[0]["state"]

    # nothing re-created: no change, and the neighbour entries stay as they are
    assert not build(mod)["changed"]
    assert [e["lladdr"] for e in entries(mod, "192.168.0.2")] == [new]
