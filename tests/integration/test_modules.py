"""Each module against the real kernel in a throwaway sandbox: every change runs
four times (check, apply, check, apply), and the diff shows what changed."""

from __future__ import annotations

import json
import os

import pytest


def links(mod, netns=None):
    out = mod.sh(f"ip {'-n ' + netns if netns else ''} -j -d addr show").stdout
    return {link["ifname"]: link for link in json.loads(out)}


def test_netns_lifecycle_dns_and_marks(mod):
    r = mod.four("netns", name="red", dns=["192.0.2.53"])
    assert r["diff"]["after"]["red"] == {"name": "red", "loopback": True, "dns": ["192.0.2.53"]}
    assert mod.sh("ip netns list").stdout.split()[0] == "red"
    assert "options timeout:1 attempts:1" in mod.sh("cat /etc/netns/red/resolv.conf").stdout
    assert links(mod, "red")["lo"]["operstate"] == "UNKNOWN"          # lo up
    assert "nslab:nslab" in mod.sh("ip -n red -d link show lo").stdout   # the lab's mark
    r = mod.four("netns", name="red", dns=["192.0.2.54"], loopback=False)
    assert r["diff"]["before"]["red"]["dns"] == ["192.0.2.53"] and r["diff"]["after"]["red"]["dns"] == ["192.0.2.54"]
    assert r["diff"]["before"]["red"]["loopback"] is True and r["diff"]["after"]["red"]["loopback"] is False
    r = mod.four("netns", name="red", state="absent")
    assert r["diff"]["after"]["red"] == {"state": "absent"}
    assert mod.sh("ip netns list").stdout == "" and mod.sh("ls /etc/netns/red", check=False).returncode != 0


def test_veth_mtu_addresses_ipv6_and_peer_change(mod):
    mod("netns", items=[{"name": "a"}, {"name": "b"}])
    mod.four("veth", name="v0", peer="c0", peer_netns="a", address=["10.1.0.1/24", "fd00:1::1/64"],
             peer_address=["10.1.0.2/24", "fd00:1::2/64"])
    r = mod.four("veth", name="v0", peer="c0", peer_netns="a", mtu=1400, address=["10.1.0.1/24"],
                 peer_address=["10.1.0.2/24", "fd00:1::2/64"])
    before, after = r["diff"]["before"]["-/v0"], r["diff"]["after"]["-/v0"]
    assert (before["mtu"], after["mtu"]) == (1500, 1400)
    assert before["address"] == ["10.1.0.1/24", "fd00:1::1/64"] and after["address"] == ["10.1.0.1/24"]
    assert links(mod, "a")["c0"]["mtu"] == 1400
    assert mod.sh("ip netns exec a ping -c1 -W2 10.1.0.1").returncode == 0
    # the same host end, now paired with a peer in another namespace: replaced
    r = mod.four("veth", name="v0", peer="c1", peer_netns="b", peer_address=["10.1.0.3/24"])
    assert any(a.startswith("delete veth v0") for a in r["actions"])
    assert "c0" not in links(mod, "a") and "c1" in links(mod, "b")
    mod.four("veth", name="v0", state="absent")
    assert "v0" not in links(mod) and "c1" not in links(mod, "b")


def test_veth_host_end_down_and_up_again(mod):
    mod("netns", name="a")
    mod("veth", name="v0", peer="c0", peer_netns="a", peer_address=["10.1.0.2/24"])
    r = mod.four("veth", name="v0", peer="c0", peer_netns="a", up=False)
    assert (r["diff"]["before"]["-/v0"]["up"], r["diff"]["after"]["-/v0"]["up"]) == (True, False)
    assert r["actions"] == ["set v0 down in the host namespace"]
    assert mod.sh("ip -br link show v0").stdout.split()[1] == "DOWN"
    assert "NO-CARRIER" in mod.sh("ip -n a link show c0").stdout       # the peer stays up, without a carrier
    r = mod.four("veth", name="v0", peer="c0", peer_netns="a")       # up: true, the default
    assert r["actions"] == ["set v0 up in the host namespace"]
    mod.four("veth", name="v1", peer="c1", peer_netns="a", up=False)   # created down
    assert mod.sh("ip -br link show v1").stdout.split()[1] == "DOWN"


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_nat_rule_drop_goes_ahead_of_the_accepts(mod, backend):
    forward = dict(type="forward", in_interface="br0", comment="accepted", backend=backend)
    mod("nat_rule", **forward)
    r = mod.four("nat_rule", type="drop", in_interface="br0", comment="fault", backend=backend)
    assert r["actions"][0].startswith("add drop in br0")
    dump = mod.sh("iptables-save" if backend == "iptables" else "nft list ruleset").stdout
    ours = [line for line in dump.splitlines() if "nslab:" in line and ("DROP" in line or "ACCEPT" in line
                                                                        or " drop " in line or " accept " in line)]
    assert "fault" in ours[0] and "accepted" in ours[1], ours     # the drop first, whatever the order they came in
    mod.four("nat_rule", type="drop", in_interface="br0", comment="fault", backend=backend, state="absent")
    mod("nat_rule", state="absent", **forward)


def test_bridge_port_hairpin_and_detach(mod):
    mod("netns", name="a")
    mod("veth", name="v0", peer="c0", peer_netns="a")
    r = mod.four("bridge_port", bridge="br0", address=["192.168.0.1/16"], port="v0")
    assert r["diff"]["after"]["-/br0"]["ports"] == ["v0"]
    r = mod.four("bridge_port", bridge="br0", port="v0", hairpin=True)
    assert r["diff"]["before"]["-/br0"]["hairpin"] == [] and r["diff"]["after"]["-/br0"]["hairpin"] == ["v0"]
    assert "hairpin on" in mod.sh("ip -d link show v0").stdout
    r = mod.four("bridge_port", bridge="br0", port="v0", state="absent")
    assert r["diff"]["after"]["-/br0"]["ports"] == []
    assert "master" not in mod.sh("ip link show v0").stdout
    mod.four("bridge_port", bridge="br0", state="absent")
    assert "br0" not in links(mod)


def test_ns_route_v4_v6_gateway_change(mod):
    mod("netns", name="a")
    mod("veth", name="v0", peer="c0", peer_netns="a", address=["10.9.0.1/24", "fd00:9::1/64"],
        peer_address=["10.9.0.2/24", "fd00:9::2/64"])
    mod.four("ns_route", netns="a", items=[{"dst": "default", "gateway": "10.9.0.1"},
                                           {"dst": "default", "gateway": "fd00:9::1"},
                                           {"dst": "198.51.100.0/24", "dev": "c0", "metric": 50}])
    routes = mod.sh("ip -n a route; ip -n a -6 route").stdout
    assert "default via 10.9.0.1 dev c0 proto" in routes and "default via fd00:9::1 dev c0" in routes
    assert "198.51.100.0/24 dev c0 proto" in routes and "metric 50" in routes
    mod("veth", name="v0", peer="c0", peer_netns="a", address=["10.9.0.1/24", "10.9.0.254/24", "fd00:9::1/64"])
    r = mod.four("ns_route", netns="a", dst="default", gateway="10.9.0.254")
    key = "a table 254 0.0.0.0/0 metric 0"
    assert r["diff"]["before"][key]["gateway"] == "10.9.0.1" and r["diff"]["after"][key]["gateway"] == "10.9.0.254"
    mod.four("ns_route", netns="a", dst="default", gateway="10.9.0.254", state="absent")
    assert "default via 10.9.0.254" not in mod.sh("ip -n a route").stdout


def test_ns_sysctl_host_and_namespace(mod):
    mod("netns", name="a")
    r = mod.four("ns_sysctl", items=[{"name": "net.ipv4.ip_forward", "value": 1},
                                     {"name": "net.ipv4.conf.all.forwarding", "value": "1", "netns": "a"}])
    assert r["diff"]["before"]["-/net.ipv4.ip_forward"]["value"] == "0"
    assert r["diff"]["after"]["-/net.ipv4.ip_forward"]["value"] == "1"
    assert mod.sh("cat /proc/sys/net/ipv4/ip_forward").stdout.strip() == "1"
    assert mod.sh("ip netns exec a cat /proc/sys/net/ipv4/ip_forward").stdout.strip() == "1"


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_nat_rule_change_of_to_replaces(mod, backend):
    args = dict(type="dnat", destination="203.0.113.10", protocol="tcp", port="8000-8010", backend=backend)
    r = mod.four("nat_rule", to="192.168.0.2", **args)
    key = next(iter(r["diff"]["after"]))
    assert key == "-/dnat to 203.0.113.10 tcp/8000-8010", "keyed by its readable match in --diff, not a hash"
    assert r["diff"]["after"][key]["to"] == "192.168.0.2" and r["diff"]["before"][key] == {"state": "absent"}
    r = mod.four("nat_rule", to="192.168.0.3", comment="moved", **args)
    assert r["diff"]["before"][key]["to"] == "192.168.0.2" and r["diff"]["after"][key]["to"] == "192.168.0.3"
    assert r["diff"]["after"][key]["comment"] == "moved"
    assert r["actions"][0].startswith("replace dnat")
    dump = mod.sh("iptables-save" if backend == "iptables" else "nft list ruleset").stdout
    assert "192.168.0.3" in dump and "192.168.0.2" not in dump
    # snat and forward, in a namespace, in one batch
    mod("netns", name="a")
    mod.four("nat_rule", netns="a", backend=backend, items=[
        {"type": "snat", "source": "10.0.0.0/8", "out_interface": "eth9", "to": "198.51.100.7"},
        {"type": "forward", "in_interface": "br0", "out_interface": "!br0", "protocol": "udp", "port": 53}])
    dump = mod.sh("ip netns exec a " + ("iptables-save" if backend == "iptables" else "nft list ruleset")).stdout
    assert "198.51.100.7" in dump
    r = mod.four("nat_rule", state="absent", to="192.168.0.3", **args)
    assert r["diff"]["after"][key] == {"state": "absent"}
    if backend == "iptables":
        assert "NSLAB" not in mod.sh("iptables-save").stdout
    else:
        assert "nslab" not in mod.sh("nft list ruleset").stdout


def test_netns_info_reads_without_creating(mod):
    mod("netns", name="a")
    mod("veth", name="v0", peer="c0", peer_netns="a", peer_address=["10.3.0.2/24"])
    mod("nat_rule", type="masquerade", source="10.3.0.0/24")
    r = mod("netns_info")
    assert not r["changed"] and r["namespaces"] == ["a"]
    host, ns_a = r["info"]
    assert any(link["name"] == "v0" and link["peer"] == "c0" and link["peer_netns"] == "a" for link in host["links"])
    assert host["nat_backend"] == "iptables" and host["nat_rules"][0]["type"] == "masquerade"
    assert [link for link in ns_a["links"] if link["name"] == "c0"][0]["addresses"] == ["10.3.0.2/24"]
    r = mod("netns_info", namespaces=False, nat=False)           # the host only: what the roles read for the uplink
    assert r["namespaces"] == ["a"] and [entry["name"] for entry in r["info"]] == [None]
    assert "nat_rules" not in r["info"][0] and "uplink" in r
    r = mod("netns_info", netns="missing", expect_fail=True)
    assert "netns: namespace 'missing' does not exist" in r["msg"]
    assert [line.split()[0] for line in mod.sh("ip netns list").stdout.splitlines()] == ["a"]


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_a_removed_or_purged_nat_rule_has_the_diff_shape_of_a_kept_one(mod, backend):
    """What --diff shows of a NAT rule is the same whether the run keeps it, removes it (state absent) or
    purges it (no longer listed): its match options are read back from the kernel's rule."""
    rules = [dict(type="masquerade", source="10.77.0.0/24", out_interface="lo", comment="egress"),
             dict(type="dnat", destination="203.0.113.10", protocol="tcp", port="8000-8010", to="10.77.0.2:80"),
             dict(type="forward", in_interface="!lo", out_interface="lo", protocol="udp")]
    mod("nat_rule", backend=backend, items=rules)
    kept = {}
    for rule in rules:
        before = mod("nat_rule", check=True, backend=backend, **rule)["diff"]["before"]
        removed = mod("nat_rule", check=True, backend=backend, state="absent", **rule)["diff"]["before"]
        assert before == removed, (before, removed)
        kept.update(before)
    purged = mod("nat_rule", check=True, backend=backend, items=[], purge=True)["diff"]["before"]
    assert purged == kept, (purged, kept)
    assert sorted(purged) == ["-/dnat to 203.0.113.10 tcp/8000-8010", "-/forward in !lo out lo udp",
                              "-/masquerade from 10.77.0.0/24 out lo"], "keyed by their readable match"
    moved = mod("nat_rule", check=True, backend=backend, purge=True, items=[rules[0], rules[2], dict(rules[1], port=9000)])
    assert [key for key in sorted(moved["diff"]["before"]) if "dnat" in key] == \
        ["-/dnat to 203.0.113.10 tcp/8000-8010", "-/dnat to 203.0.113.10 tcp/9000"], "old and new side by side"
    masquerade = next(view for view in purged.values() if view["type"] == "masquerade")
    assert (masquerade["source"], masquerade["out_interface"], masquerade["comment"]) == ("10.77.0.0/24", "lo", "egress")


def test_a_removed_veth_or_bridge_has_the_diff_shape_of_a_kept_one(mod):
    """One diff shape per resource: what --diff shows of a veth or a bridge is the same whether the run keeps
    it, removes it (state absent) or purges it (no longer listed)."""
    mod("netns", name="shp1")
    veth = dict(name="shv0", peer="shc0", peer_netns="shp1", address=["10.78.0.1/24"], peer_address=["10.78.0.2/24"])
    mod("veth", **veth)
    mod("bridge_port", bridge="shbr0", address=["10.79.0.1/24"])
    kept = mod("veth", check=True, **veth)["diff"]["before"]["-/shv0"]
    removed = mod("veth", check=True, state="absent", name="shv0")["diff"]["before"]["-/shv0"]
    purged = mod("veth", check=True, items=[], purge=True)["diff"]["before"]["-/shv0"]
    assert kept == removed == purged, (kept, removed, purged)
    assert kept["peer"] == "shc0" and kept["peer_address"] == ["10.78.0.2/24"], kept
    bridge = mod("bridge_port", check=True, bridge="shbr0", address=["10.79.0.1/24"])["diff"]["before"]["-/shbr0"]
    gone = mod("bridge_port", check=True, items=[], purge=True)["diff"]["before"]["-/shbr0"]
    assert bridge == gone and gone["address"] == ["10.79.0.1/24"], (bridge, gone)


def test_reset_removes_the_routes_and_rules_made_by_hand_that_touch_the_lab(mod):
    """nslab_reset (ns_route and nat_rule with purge and reset): what a student typed that touches the lab goes,
    each one in the actions and the diff; what touches nothing of it, or lives outside the lab's namespaces and the
    chains its traffic passes, stays."""
    mod("netns", name="a")
    mod("veth", name="v0", peer="c0", peer_netns="a", address=["10.9.0.1/24"], peer_address=["10.9.0.2/24"])
    mod.sh("ip -n a route add default via 10.9.0.1; ip -n a route add 198.51.100.0/24 via 10.9.0.1; "
           "ip -n a route add blackhole 203.0.113.128/25; "
           "ip netns add b; ip -n b link set lo up; ip -n b route add 198.51.100.0/24 dev lo; "
           "iptables -t nat -A POSTROUTING -s 10.9.0.0/24 -o eth9 -j MASQUERADE; "
           "iptables -t nat -A PREROUTING -d 203.0.113.10/32 -p tcp --dport 80 -j DNAT --to-destination 10.9.0.2:80; "
           "iptables -A FORWARD -i br9 -j ACCEPT; "
           "iptables -t nat -A POSTROUTING -s 172.30.0.0/16 -j MASQUERADE; iptables -A INPUT -s 10.9.0.0/24 -j ACCEPT; "
           "iptables -t nat -A POSTROUTING ! -s 10.9.0.0/24 -o eth9 -j MASQUERADE")
    routes = [{"dst": "default", "gateway": "10.9.0.1"}]
    failed = mod("ns_route", netns="a", items=routes, reset=True, expect_fail=True)
    assert failed["msg"].startswith("reset: needs purge: true")

    r = mod.four("ns_route", netns="a", items=routes, purge=True, reset=True)
    assert "delete route 198.51.100.0/24 via 10.9.0.1 dev c0 (table 254, metric 0) in netns a (reset: made by hand, " \
           "proto 3)" in r["actions"]
    assert "delete route blackhole 203.0.113.128/25 (table 254, metric 0) in netns a (reset: made by hand, proto 3)" \
        in r["actions"]
    assert r["diff"]["before"]["a table 254 198.51.100.0/24 metric 0"]["gateway"] == "10.9.0.1"
    assert r["diff"]["after"]["a table 254 198.51.100.0/24 metric 0"] == {"state": "absent"}
    assert "198.51.100.0" not in mod.sh("ip -n a route").stdout and "blackhole" not in mod.sh("ip -n a route").stdout
    assert "default via 10.9.0.1 dev c0 proto 1" in mod.sh("ip -n a route").stdout     # now the lab's own
    assert "198.51.100.0/24 dev lo" in mod.sh("ip -n b route").stdout                   # not the lab's namespace

    rules = [{"type": "masquerade", "source": "10.9.0.0/24", "out_interface": "eth9"},
             {"type": "forward", "in_interface": "br9", "out_interface": "br9"}]
    failed = mod("nat_rule", backend="iptables", items=rules, reset=["10.9.0.0/24"], expect_fail=True)
    assert failed["msg"].startswith("reset: needs purge: true")
    r = mod.four("nat_rule", backend="iptables", items=rules, purge=True, reset=["10.9.0.0/24", "br9"])
    by_hand = [a for a in r["actions"] if "reset: made by hand" in a]
    assert by_hand == [     # in iptables-save's order
        "delete iptables rule -t filter -A FORWARD -i br9 -j ACCEPT in the host namespace (reset: made by hand, it "
        "matches the lab's interface br9)",
        "delete iptables rule -t nat -A PREROUTING -d 203.0.113.10/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination "
        "10.9.0.2:80 in the host namespace (reset: made by hand, it matches the lab's subnet 10.9.0.0/24)",
        "delete iptables rule -t nat -A POSTROUTING -s 10.9.0.0/24 -o eth9 -j MASQUERADE in the host namespace (reset: "
        "made by hand, it matches the lab's subnet 10.9.0.0/24)"], r["actions"]
    assert r["diff"]["before"]["-/by hand: -t filter -A FORWARD -i br9 -j ACCEPT"]["made"] == "by hand"
    saved = mod.sh("iptables-save").stdout
    assert "-A FORWARD -i br9 -j ACCEPT" not in saved and "--to-destination 10.9.0.2:80" not in saved
    assert "-A POSTROUTING -s 10.9.0.0/24 -o eth9 -j MASQUERADE" not in saved
    assert "-A POSTROUTING -s 172.30.0.0/16 -j MASQUERADE" in saved and "-A INPUT -s 10.9.0.0/24 -j ACCEPT" in saved
    assert "-A POSTROUTING ! -s 10.9.0.0/24 -o eth9 -j MASQUERADE" in saved          # everything but the lab
    assert "NSLAB-POST" in saved


SHAPES = [("netns", "namespaces", dict(name="shp1", dns=["127.0.0.1"])),
          ("veth", "veths", dict(name="shv0", peer="shc0", peer_netns="shp1", address=["10.78.0.1/24"],
                                 peer_address=["10.78.0.2/24"])),
          ("bridge_port", "bridges", dict(bridge="shbr0", address=["10.79.0.1/24"])),
          ("ns_route", "routes", dict(netns="shp1", dst="default", gateway="10.78.0.1")),
          ("ns_sysctl", "sysctls", dict(name="net.ipv4.conf.all.log_martians", value=1)),
          ("nat_rule", "rules", dict(type="masquerade", source="10.78.0.0/24", out_interface="lo")),
          ("ns_service", "services", dict(name="shsvc", netns="shp1", command=["sleep", "100"]))]


def test_every_module_returns_the_same_keys_in_check_mode_and_in_a_real_run(mod):
    """The engine owns the result's shape: each resource's entry has the same keys whether check mode says what it
    would be or a real run read it back, and a resource that is not there is said one way, ``state: absent`` with
    what names it."""
    def keys(module, result_key, **args):
        checked, real = mod(module, check=True, **args)[result_key], mod(module, **args)[result_key]
        assert [sorted(entry) for entry in checked] == [sorted(entry) for entry in real], (module, checked, real)
        return real
    for module, result_key, args in SHAPES:
        present = keys(module, result_key, **args)
        assert all(entry.get("state", "present") == "present" for entry in present), (module, present)
    for module, result_key, args in reversed(SHAPES):
        if module != "ns_sysctl":
            gone = keys(module, result_key, state="absent", **args)
            assert all(entry["state"] == "absent" for entry in gone), (module, gone)
    mod("ns_sysctl", name="net.ipv4.conf.all.log_martians", value=0)


def test_a_task_runs_the_batch_payload_and_returns_what_the_module_itself_returns(mod, tmp_path):
    """Every module task sends the batch module's payload (plugins/action/batch.py: one payload build per
    ansible-playbook run), and the module the task named runs: the same result, check mode, diff and refusals
    in its own words as the module's own entry point gives for the same call."""
    from nslabtest import playbook

    calls = [*((module, args) for module, _key, args in SHAPES), ("netns_info", dict(netns=None, nat=False))]
    refused = dict(name="shv1", peer="shc1", peer_address=["10.78.0.300/24"])      # our validation's words
    # the last one by its short name, as a play with the collections keyword writes it
    tasks = [dict(name=f"call {i}", register=f"r{i}", check_mode=True, diff=True,
                  **{module if i == len(calls) - 1 else f"nslab.net.{module}": args}) for i, (module, args) in enumerate(calls)]
    registered = ", ".join(f"r{i}" for i in range(len(calls)))
    tasks += [dict(name="refused", register="refused", ignore_errors=True, **{"nslab.net.veth": refused}),
              dict(name="unknown option", register="unknown", ignore_errors=True, **{"nslab.net.ns_sysctl": dict(bogus=1)}),
              dict(name="unknown option, short name", register="unknown_short", ignore_errors=True,
                   **{"ns_sysctl": dict(bogus=1)}),
              dict(name="results", **{"ansible.builtin.copy": dict(
                  dest=str(tmp_path / "results.json"),
                  content="{{ [" + registered + ", refused, unknown, unknown_short] | to_json }}")})]
    book = tmp_path / "calls.yml"
    book.write_text(json.dumps([dict(hosts="all", gather_facts=False, collections=["nslab.net"], tasks=tasks)]))
    proc = playbook(mod.sandbox, str(book), "-vvv")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    used = [line.split()[-1] for line in proc.stdout.splitlines() if line.startswith("Using module file")]
    ours = [path for path in used if "/nslab/net/" in path]
    assert len(ours) == len(calls) + 3 and {os.path.basename(path) for path in ours} == {"batch.py"}, used
    *through_ansible, refused_result, unknown, unknown_short = json.loads((tmp_path / "results.json").read_text())
    for (module, args), result in zip(calls, through_ansible):
        own = mod(module, check=True, **args)
        for key, value in own.items():
            if key not in ("invocation", "warnings"):
                assert result[key] == value, (module, key, result[key], value)
        assert set(result) - set(own) <= {"failed"}, (module, set(result) - set(own))
    assert refused_result["failed"] and refused_result["msg"] == mod("veth", expect_fail=True, **refused)["msg"]
    # the module's name as the task wrote it, as Ansible gives a module's own payload
    assert unknown["failed"] and unknown["msg"].startswith("Unsupported parameters for (nslab.net.ns_sysctl) module: bogus")
    assert unknown_short["failed"] and unknown_short["msg"].startswith("Unsupported parameters for (ns_sysctl) module: bogus")
