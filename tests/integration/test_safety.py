"""Check mode, bad input, drift, purge, foreign rules and teardown, inside sandboxes."""

from __future__ import annotations

import os

import pytest

from nslabtest import lab_state, playbook, recap, state_of
from traffic import http, ping, serve

SEED = os.path.join(os.path.dirname(__file__), "playbooks", "seed002.yml")


def test_check_mode_on_a_clean_sandbox_creates_nothing(lab):
    box = lab.sandbox
    before = state_of(box)
    proc = playbook(box, SEED, "--check", "--diff")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert recap(proc)["changed"] >= 6
    assert "add veth veth0 <-> ceth0@netns1" in proc.stdout or "ceth0" in proc.stdout
    assert state_of(box) == before                     # no namespace, link, address, route, rule, sysctl
    assert box.run("ls /run/netns").stdout == ""


def test_playbook_converges_is_idempotent_and_tears_down_to_nothing(lab):
    box, internet = lab.sandbox, lab.internet
    initial = state_of(box)
    first = playbook(box, SEED)
    assert first.returncode == 0 and recap(first)["changed"] > 0, first.stdout
    again = playbook(box, SEED)
    assert recap(again)["changed"] == 0, again.stdout
    serve(box, "netns1", "192.168.0.2", 5000)
    assert ping(box, "198.51.100.10", netns="netns2")
    assert "Directory listing" in http(internet, "http://203.0.113.10:5000/")
    box.run("kill $(pgrep -f nslab-demo-test)", check=False)
    down = playbook(box, SEED, "-e", "lab_state=absent")
    assert down.returncode == 0 and recap(down)["changed"] > 0, down.stdout
    twice = playbook(box, SEED, "-e", "lab_state=absent")
    assert twice.returncode == 0 and recap(twice)["changed"] == 0, twice.stdout
    final = state_of(box)
    # forwarding stays on by design (documented); /run/netns stays a shared mount point, as after `ip netns`
    assert final.pop("net/ipv4/ip_forward") == "1"
    initial.pop("net/ipv4/ip_forward")
    final.pop("mounts"), initial.pop("mounts")
    # iptables-nft leaves its tables with empty built-in chains (no rules, ACCEPT policies)
    for key in ("iptables", "nft"):
        assert "NSLAB" not in final[key] and "nslab" not in final[key]
        assert not [line for line in final.pop(key).splitlines() if line.startswith("-A") or "DROP" in line
                    or line.strip().startswith(("ip ", "meta ", "iifname", "oifname"))]
        initial.pop(key)
    assert final == initial


BAD = [
    ("veth", dict(name="a" * 16, peer="c0"), "name: interface name 'aaaaaaaaaaaaaaaa' is 16 characters"),
    ("veth", dict(items=[{"name": "v0", "peer": "c" * 16}]), "items[0].peer: interface name"),
    ("veth", dict(name="v0", peer="c0", address=["10.0.0.1/33"]), "address[0]: '10.0.0.1/33' is not a valid CIDR"),
    ("veth", dict(name="v0", peer="c0", address=["10.0.0.1"]), "address[0]: '10.0.0.1' is not an address with a prefix"),
    ("veth", dict(name="v0", peer="c0", peer_netns="nope"), "peer_netns: namespace 'nope' does not exist"),
    ("veth", dict(name="v0", peer="c0", mtu=10), "mtu: 10 is outside 68-65535"),
    ("bridge_port", dict(bridge="br0", address=["300.1.1.1/24"]), "address[0]"),
    ("bridge_port", dict(bridge="br0", port="ghost0"), "port: link ghost0 does not exist"),
    ("nat_rule", dict(type="dnat", destination="203.0.113.10", protocol="tcp", port=5000), "to: is required for dnat"),
    ("nat_rule", dict(type="redirect"), "value of type must be one of: masquerade, snat, dnat, forward"),
    ("nat_rule", dict(items=[{"type": "redirect"}]), "items[0].type: value of type must be one of: masquerade, snat, dnat, forward, drop, got: redirect"),
    ("nat_rule", dict(type="dnat", protocol="tcp", port=0, to="10.0.0.1"), "port: port 0 is outside 1-65535"),
    ("nat_rule", dict(type="dnat", protocol="tcp", port=65536, to="10.0.0.1"), "port: port 65536 is outside"),
    ("nat_rule", dict(type="dnat", protocol="tcp", port="90-80", to="10.0.0.1"), "port: range '90-80' is reversed"),
    ("nat_rule", dict(type="masquerade", port=80), "port: needs protocol"),
    ("nat_rule", dict(type="masquerade", source="10.0.0.0/33"), "source:"),
    ("nat_rule", dict(type="masquerade", netns="ghost"), "netns: namespace 'ghost' does not exist"),
    ("nat_rule", dict(type="snat", source="10.0.0.0/8", to="fd00::1"), "mixes IPv4 and IPv6"),
    ("ns_route", dict(netns="ghost", dst="default", gateway="10.0.0.1"), "netns: namespace 'ghost' does not exist"),
    ("ns_route", dict(dst="default", gateway="10.77.0.1"), "gateway: 10.77.0.1 is not inside any subnet connected"),
    ("ns_route", dict(dst="10.0.0.0/8"), "gateway: a route needs a gateway, a dev, or both"),
    ("ns_route", dict(dst="10.0.0.0/8", gateway="fd00::1"), "gateway: fd00::1 is IPv6 but dst 10.0.0.0/8 is IPv4"),
    ("ns_sysctl", dict(name="kernel.hostname", value="x", netns="ghost"), "only net.* sysctls"),
    ("ns_sysctl", dict(name="net.ipv4.ip_forward"), "value: is required"),
    ("netns", dict(name="a/b"), "name: namespace name 'a/b'"),
    ("netns", dict(name="n1", dns=["not-an-ip"]), "dns[0]: 'not-an-ip' is not a valid"),
    ("veth", dict(items=[{"name": "v0", "peer": "c0", "colour": "red"}]), "items[0].colour: unknown option"),
    ("veth", dict(name="v0", peer="c0", purge=True), "purge: needs 'items'"),
    ("netns", dict(name="n1", lab="bad label!"), "lab: lab label 'bad label!'"),
]


@pytest.mark.parametrize("module, args, message", BAD, ids=[f"{case[0]}-{i}" for i, case in enumerate(BAD)])
def test_bad_input_fails_before_any_change(mod, module, args, message):
    before = state_of(mod.sandbox)
    result = mod(module, expect_fail=True, **args)
    assert message in result["msg"], result["msg"]
    assert result.get("changed", False) is False
    assert state_of(mod.sandbox) == before


def test_existing_foreign_link_is_left_intact(mod):
    mod.sh("ip link add v0 type bridge && ip link add x0 type veth peer name x1")
    result = mod("veth", name="v0", peer="c0", expect_fail=True)
    assert "link v0 already exists in the host namespace (kind bridge, not made by nslab.net)" in result["msg"]
    result = mod("veth", name="x0", peer="x1", expect_fail=True)
    assert "kind veth, not made by nslab.net" in result["msg"]
    result = mod("veth", name="x0", state="absent", expect_fail=True)
    assert "left untouched" in result["msg"]
    result = mod("bridge_port", bridge="v0", state="absent", expect_fail=True)
    assert "not made by nslab.net" in result["msg"]
    out = mod.sh("ip -d link show v0; ip link show x0").stdout
    assert "bridge" in out and "x0@x1" in out
    mod.sh("ip netns add byhand")
    result = mod("netns", name="byhand", state="absent", expect_fail=True)
    assert "namespace byhand already exists (not made by nslab.net" in result["msg"]
    assert "byhand" in mod.sh("ip netns list").stdout


def test_drift_is_repaired_without_duplicates(lab):
    box = lab.sandbox
    assert playbook(box, SEED).returncode == 0
    built = lab_state(box)
    box.run("""set -e
ip -n netns1 link del ceth0                         # a deleted peer (takes veth0 with it)
ip netns del netns2                                 # a deleted namespace
ip addr del 192.168.0.1/16 dev br0                  # a lost address
ip -n netns1 route replace default via 192.168.0.254 2>/dev/null || true
""")
    proc = playbook(box, SEED)
    assert proc.returncode == 0 and recap(proc)["changed"] > 0, proc.stdout
    box.run("ip -n netns1 route replace default via 192.168.0.254; ip link set veth1 nomaster")
    proc = playbook(box, SEED)                          # a changed default route, a detached port
    assert proc.returncode == 0 and recap(proc)["changed"] > 0, proc.stdout
    assert lab_state(box) == built
    assert box.run("ip -n netns1 route show default").stdout.count("default") == 1
    box.run("iptables -t nat -F NSLAB-POST; iptables -D FORWARD -j NSLAB-FWD")  # our chain flushed, a jump lost
    proc = playbook(box, SEED)
    assert recap(proc)["changed"] > 0
    assert lab_state(box) == built
    assert recap(playbook(box, SEED))["changed"] == 0
    assert ping(box, "198.51.100.10", netns="netns1")


def test_purge_removes_only_this_labs_unlisted_resources(mod):
    mod("netns", items=[{"name": "n1"}, {"name": "n2"}, {"name": "n3"}], purge=True)
    mod("netns", name="other", lab="otherlab")
    mod.sh("ip link add hand0 type veth peer name hand1 && ip link set hand0 up && ip route add 10.250.0.0/16 dev hand0")
    pairs = [{"name": "v1", "peer": "c1", "peer_netns": "n1", "address": ["10.5.1.1/24"]},
             {"name": "v2", "peer": "c2", "peer_netns": "n2", "address": ["10.5.2.1/24"]}]
    mod("veth", items=pairs, purge=True)
    mod("veth", name="o1", peer="oc1", peer_netns="other", lab="otherlab")
    routes = [{"dst": "10.6.1.0/24", "gateway": "10.5.1.2"}, {"dst": "10.6.2.0/24", "gateway": "10.5.2.2"}]
    mod("ns_route", items=routes, purge=True)
    rules = [{"type": "masquerade", "source": "10.5.1.0/24"}, {"type": "masquerade", "source": "10.5.2.0/24"}]
    mod("nat_rule", items=rules, purge=True)
    mod("nat_rule", type="masquerade", source="10.77.0.0/16", lab="otherlab")
    r = mod.four("ns_route", items=routes[:1], purge=True)
    assert r["actions"] == ["delete route 10.6.2.0/24 (table 254, metric 0) in the host namespace (purge: no longer listed)"]
    r = mod.four("veth", items=pairs[:1], purge=True)
    assert r["actions"] == ["delete veth v2 in the host namespace (purge: no longer listed)"]
    r = mod.four("nat_rule", items=rules[:1], purge=True)
    assert len(r["actions"]) == 1 and "purge" in r["actions"][0]
    r = mod.four("netns", items=[{"name": "n1"}], purge=True)
    assert sorted(r["actions"]) == ["delete netns n2 (purge: no longer listed)",
                                    "delete netns n3 (purge: no longer listed)"]
    out = mod.sh("ip link; ip route; ip netns list; iptables-save").stdout
    assert "hand0" in out and "10.250.0.0/16" in out and "o1@" in out and "other" in out and "10.77.0.0/16" in out
    assert "v2@" not in out and "10.5.2.0/24" not in out


def test_links_deleted_together_leave_a_link_of_the_same_group_made_by_hand(mod):
    """A purge deletes its links in one request (a link group the engine picks, then ``ip link delete group``): a link
    made by hand in the group it would pick first, and one in the next, are left; the plan and the end state are
    those of one delete per link."""
    from ansible_collections.nslab.net.plugins.module_utils._resources.links import GROUP

    mod("netns", items=[{"name": f"n{i}"} for i in range(4)], purge=True)
    pairs = [{"name": f"v{i}", "peer": f"c{i}", "peer_netns": f"n{i}", "address": [f"10.5.{i}.1/24"]} for i in range(4)]
    mod("veth", items=pairs, purge=True)
    mod.sh(f"ip link add hand0 type veth peer name hand1 && ip link set hand0 group {GROUP} && "
           f"ip link add hand2 type veth peer name hand3 && ip link set hand2 group {GROUP + 1}")
    r = mod.four("veth", items=pairs[:1], purge=True)
    assert r["actions"] == [f"delete veth v{i} in the host namespace (purge: no longer listed)" for i in (1, 2, 3)]
    links = mod.sh("ip -o link").stdout
    assert all(name in links for name in ("v0@", "hand0@", "hand1@", "hand2@", "hand3@")), links
    assert not any(f"v{i}@" in links for i in (1, 2, 3)), links
    inside = [mod.sh(f"ip -n n{i} -o link").stdout for i in range(4)]
    assert "c0@" in inside[0] and not any(f"c{i}@" in inside[i] for i in (1, 2, 3)), inside
    assert f"group {GROUP} " in mod.sh("ip -d link show hand0").stdout, "the hand-made link keeps its group"
    assert " group default " in mod.sh("ip -d link show v0").stdout, "a kept link is not left in a group"


def test_native_nftables_host_keeps_its_table(lab):
    box = lab.sandbox
    box.run("nft -f - <<'EOF'\ntable inet user {\n chain user_fwd { type filter hook forward priority 10; policy accept;"
            " iifname \"eth7\" drop; }\n chain user_post { type nat hook postrouting priority 110; "
            "ip saddr 10.99.0.0/16 masquerade; }\n}\nEOF")
    before = box.run("nft list table inet user").stdout
    assert playbook(box, SEED).returncode == 0                 # auto picks nftables: native tables, no iptables
    assert "table inet nslab" in box.run("nft list tables").stdout
    assert "NSLAB" not in box.run("iptables-save").stdout
    assert ping(box, "198.51.100.10", netns="netns1")
    assert box.run("nft list table inet user").stdout == before
    # forcing the other backend is refused, naming both
    proc = playbook(box, SEED, "-e", "nat_backend=iptables")
    assert proc.returncode != 0 and "rules are in nftables table inet nslab" in proc.stdout
    assert playbook(box, SEED, "-e", "lab_state=absent").returncode == 0
    assert box.run("nft list table inet user").stdout == before
    assert "nslab" not in box.run("nft list tables").stdout
