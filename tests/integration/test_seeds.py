"""Every configuration command of the two seeds, as module calls, with the seeds'
outcomes checked by real traffic (the README maps each command to its call)."""

from __future__ import annotations

import pytest

from traffic import capture_sources, http, neighbours, ping, serve

UPLINK = "203.0.113.10"
PUBLIC = "198.51.100.10"


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_seed_002_egress_and_ingress(lab, backend):
    box, internet = lab.sandbox, lab.internet
    # sudo ip netns add netns1
    lab.four("netns", name="netns1", dns=["127.0.0.1"])
    # sudo ip link add br0 type bridge; ip link set br0 up; ip addr add 192.168.0.1/16 dev br0
    lab.four("bridge_port", bridge="br0", address=["192.168.0.1/16"])
    assert ping(box, "192.168.0.1")                                     # ping 192.168.0.1
    # ip link add veth0 type veth peer name ceth0; ip link set ceth0 netns netns1;
    # ip -n netns1 link set lo/ceth0 up; ip -n netns1 addr add 192.168.0.2/16 dev ceth0; ip link set veth0 up
    lab.four("veth", name="veth0", peer="ceth0", peer_netns="netns1", peer_address=["192.168.0.2/16"])
    # ip link set veth0 master br0
    lab.four("bridge_port", bridge="br0", port="veth0")
    assert ping(box, "192.168.0.1", netns="netns1")                     # NS1 -> bridge
    assert "192.168.0.1" in neighbours(box, "netns1")                   # arp -a
    assert not ping(box, UPLINK, netns="netns1")                        # Network is unreachable
    # ip route add default via 192.168.0.1
    lab.four("ns_route", netns="netns1", dst="default", gateway="192.168.0.1")
    assert ping(box, UPLINK, netns="netns1")                            # NS1 -> RootNS eth0
    # ping 8.8.8.8 (here: the simulated internet) hangs: forwarding is off
    assert not ping(box, PUBLIC, netns="netns1")
    # echo 1 > /proc/sys/net/ipv4/ip_forward
    lab.four("ns_sysctl", name="net.ipv4.ip_forward", value=1)
    # tcpdump -i eth0 icmp: packets leave with the private source 192.168.0.2 and get no answer
    seen = capture_sources(box, "eth0", f"ip netns exec netns1 ping -c 2 -W 1 {PUBLIC}")
    assert "192.168.0.2 >" in seen, seen
    assert not ping(box, PUBLIC, netns="netns1")
    # iptables -t nat -A POSTROUTING -s 192.168.0.0/16 ! -o br0 -j MASQUERADE
    lab.four("nat_rule", type="masquerade", source="192.168.0.0/16", out_interface="!br0", backend=backend)
    assert ping(box, PUBLIC, netns="netns1")                            # Eureka
    assert http(box, f"http://{PUBLIC}/", netns="netns1") == f"seen-from {UPLINK}\n"
    # python3 -m http.server --bind 192.168.0.2 5000 in netns1; curl 192.168.0.2:5000 from RootNS
    serve(box, "netns1", "192.168.0.2", 5000)
    assert "Directory listing" in http(box, "http://192.168.0.2:5000/")
    # from outside, before DNAT: nothing answers
    assert http(internet, f"http://{UPLINK}:5000/", timeout=2) is None
    # iptables -t nat -A PREROUTING -d <eth0 ip> -p tcp -m tcp --dport 5000 -j DNAT --to-destination 192.168.0.2:5000
    lab.four("nat_rule", type="dnat", destination=UPLINK, protocol="tcp", port=5000, to="192.168.0.2:5000",
             backend=backend)
    assert "Directory listing" in http(internet, f"http://{UPLINK}:5000/")
    if backend == "iptables":
        rules = box.run("iptables-save").stdout
        assert "-A POSTROUTING -j NSLAB-POST" in rules and "-A PREROUTING -j NSLAB-PRE" in rules
        assert "-j MASQUERADE" in rules and "--to-destination 192.168.0.2:5000" in rules
    else:
        rules = box.run("nft list table inet nslab").stdout
        assert "masquerade" in rules and "dnat ip to 192.168.0.2:5000" in rules


def test_seed_000_two_namespaces_on_a_bridge(lab):
    box = lab.sandbox
    # ip netns add netns1 / netns2
    lab.four("netns", items=[{"name": "netns1"}, {"name": "netns2"}], dns=[])
    # ip link add veth1 type veth peer name ceth1 netns netns1 (and veth2/ceth2), addresses, up, lo up;
    # ip addr add 172.20.0.1/16 dev veth1; ip addr add 172.20.0.2/16 dev veth2
    pairs = [
        {"name": "veth1", "peer": "ceth1", "peer_netns": "netns1", "peer_address": ["172.20.0.11/16"],
         "address": ["172.20.0.1/16"]},
        {"name": "veth2", "peer": "ceth2", "peer_netns": "netns2", "peer_address": ["172.20.0.12/16"],
         "address": ["172.20.0.2/16"]},
    ]
    refused = lab("veth", items=pairs, expect_fail=True)                 # the seed's conflict, refused unless asked
    assert refused["msg"].startswith("items[1].address[0]: 172.20.0.2/16 overlaps 172.20.0.1/16 on veth1"), refused
    lab.four("veth", items=pairs, allow_overlap=True)
    assert ping(box, "172.20.0.11", netns=None)                         # ping 172.20.0.11 (via veth1)
    # the seed's puzzle: netns2 cannot reach veth2's address, the host answers through veth1
    assert not ping(box, "172.20.0.2", netns="netns2")
    # ip addr del 172.20.0.1/16 dev veth1; ip addr del 172.20.0.2/16 dev veth2
    for pair in pairs:
        pair["address"] = []
    result = lab.four("veth", items=pairs, allow_overlap=True)
    assert "delete address 172.20.0.1/16 from veth1 in the host namespace" in result["actions"]
    # ip link add br0 type bridge; ip link set br0 up; ip link set veth1/veth2 master br0;
    # ip addr add 172.20.0.10/16 brd + dev br0
    lab.four("bridge_port", bridge="br0", address=["172.20.0.10/16"], items=[{"port": "veth1"}, {"port": "veth2"}])
    assert "brd 172.20.255.255" in box.run("ip addr show br0").stdout
    assert ping(box, "172.20.0.11") and ping(box, "172.20.0.12")       # host -> namespaces
    assert ping(box, "172.20.0.10", netns="netns1") and ping(box, "172.20.0.10", netns="netns2")
    assert ping(box, "172.20.0.12", netns="netns1") and ping(box, "172.20.0.11", netns="netns2")
    assert not ping(box, "203.0.113.10", netns="netns1")                # Network is unreachable
    # ip netns exec netnsN ip route add default via 172.20.0.10
    lab.four("ns_route", dst="default", gateway="172.20.0.10", items=[{"netns": "netns1"}, {"netns": "netns2"}])
    assert ping(box, "203.0.113.10", netns="netns1")                    # namespace -> host
    # iptables -t nat -A POSTROUTING -s 172.20.0.0/16 -j MASQUERADE; sysctl -w net.ipv4.ip_forward=1
    lab.four("nat_rule", type="masquerade", source="172.20.0.0/16")
    lab.four("ns_sysctl", name="net.ipv4.ip_forward", value="1")
    assert ping(box, PUBLIC, netns="netns2")                            # ping 8.8.8.8 (simulated)
    assert http(box, f"http://{PUBLIC}/", netns="netns1") == f"seen-from {UPLINK}\n"
    # resolver in the namespaces fails at once instead of hanging
    out = box.run("time -p ip netns exec netns1 getent hosts example.invalid", check=False)
    assert out.returncode != 0
    assert float(out.stderr.split("real")[1].split()[0]) < 3, out.stderr
