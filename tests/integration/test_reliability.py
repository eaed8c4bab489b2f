"""Reliability: runs killed midway, drift, a reboot, foreign firewalls, two runs at once,
teardown in every state, and the reach of a published port. All inside sandboxes."""

from __future__ import annotations

import json
import os
import time

import pytest

from nslabtest import Internet, Sandbox, lab_state, playbook, recap
from reliability import Background, pause_env, resume, wait_paused
from traffic import http, ping, serve

SEED = os.path.join(os.path.dirname(__file__), "playbooks", "seed002.yml")
OTHER = os.path.join(os.path.dirname(__file__), "playbooks", "other_lab.yml")


# ------------------------------------------------------------------ 1. faults
KILLED_INSIDE = [("netns", 1), ("veth", 1), ("bridge_port", 1), ("ns_route", 1), ("nat_rule", 0)]


def test_run_killed_inside_a_module_converges_on_rerun(lab, tmp_path):
    """For each module in turn, a run from nothing (a fresh lab host) is killed (SIGKILL, the whole run) while that
    module has applied some of its operations; the next run converges to the same lab, with no leftovers or
    duplicates. (Teardown from any state is test_teardown_twice_half_built_and_with_the_namespace_gone.)"""
    box = lab.sandbox
    assert playbook(box, SEED).returncode == 0
    built = lab_state(box)
    for module, after in KILLED_INSIDE:
        box.destroy()                                   # nothing: a new host on the same uplink
        box.create()
        lab.internet.attach(box, "203.0.113.10")
        hook = tmp_path / f"hook-{module}"
        hook.mkdir()
        run = Background(box, SEED, env=pause_env(module, after, hook), workdir=tmp_path, name=module)
        pid, done = wait_paused(hook)
        assert len(done) == after, (module, done)       # some of the module's operations are applied
        run.kill(pid)                                   # the module and the whole run, SIGKILL
        assert "PLAY RECAP" not in run.output()
        again = playbook(box, SEED)                     # the lock died with the module: no wait
        assert again.returncode == 0 and recap(again)["changed"] > 0, (module, again.stdout)
        assert lab_state(box) == built, module          # no leftovers, no duplicates
    assert recap(playbook(box, SEED))["changed"] == 0


def test_drift_bridge_deleted_and_forwarding_reset(lab):
    box = lab.sandbox
    assert playbook(box, SEED).returncode == 0
    built = lab_state(box)
    box.run("ip link del br0 && sysctl -qw net.ipv4.ip_forward=0")
    assert not ping(box, "198.51.100.10", netns="netns1")
    proc = playbook(box, SEED)
    assert proc.returncode == 0 and recap(proc)["changed"] >= 3, proc.stdout
    assert lab_state(box) == built
    assert ping(box, "198.51.100.10", netns="netns1") and ping(box, "192.168.0.3", netns="netns1")


def _roles_playbook(root, *args):
    from test_lab_playbook import ansible_playbook
    return ansible_playbook(root, *args)


def test_simulated_reboot_of_a_lab_host_then_rerun_restores_everything(tmp_path):
    """The lab host's sandbox is replaced by a fresh one (new kernel namespaces, empty
    /run: no namespace, link, rule, sysctl or service of the lab survives); the uplink
    comes back as a VM's network configuration would; the roles rebuild the lab."""
    from test_lab_playbook import recap as roles_recap

    root = str(tmp_path / "sb")
    try:
        first = _roles_playbook(root, "playbooks/lab.yml")
        assert first.returncode == 0 and "NOT reachable" not in first.stdout, first.stdout[-3000:]
        box, internet = Sandbox("lab1", root), Internet(root)
        box.destroy()
        box.create()
        internet.attach(box, "203.0.113.10")
        assert box.run("ls /run/netns 2>/dev/null; ip -br link; iptables-save; ls /run/nslab 2>/dev/null",
                       check=False).stdout.count("NSLAB") == 0
        assert box.run("sysctl -n net.ipv4.ip_forward").stdout.strip() == "0"
        after = _roles_playbook(root, "playbooks/lab.yml")
        assert after.returncode == 0, after.stdout[-3000:]
        assert roles_recap(after.stdout, "lab1")["changed"] > 0
        report = after.stdout[after.stdout.index("FACT"):]
        assert "NOT reachable" not in report and report.count("reachable") >= 10, report
        again = _roles_playbook(root, "playbooks/lab.yml")
        assert roles_recap(again.stdout, "lab1")["changed"] == 0, again.stdout[-3000:]
    finally:
        _roles_playbook(root, "playbooks/teardown.yml")


# ------------------------------------------------------------- 2. coexistence
DOCKER_LIKE = """set -e
{ipt} -t nat -N DOCKER
{ipt} -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
{ipt} -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
{ipt} -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
{ipt} -t nat -A DOCKER -i docker0 -j RETURN
{ipt} -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
{ipt} -N DOCKER
{ipt} -N DOCKER-USER
{ipt} -N DOCKER-ISOLATION-STAGE-1
{ipt} -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
{ipt} -A DOCKER-USER -s 10.66.0.0/16 -j DROP
{ipt} -A DOCKER-USER -j RETURN
{ipt} -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j RETURN
{ipt} -A DOCKER-ISOLATION-STAGE-1 -j RETURN
{ipt} -A FORWARD -j DOCKER-USER
{ipt} -A FORWARD -j DOCKER-ISOLATION-STAGE-1
{ipt} -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
{ipt} -A FORWARD -o docker0 -j DOCKER
{ipt} -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
{ipt} -P FORWARD DROP
"""

NATIVE = """nft -f - <<'EOF'
table inet user {
  chain user_fwd { type filter hook forward priority 10; policy accept; iifname "eth7" drop; }
  chain user_post { type nat hook postrouting priority 110; ip saddr 10.99.0.0/16 masquerade; }
}
EOF
"""

SAVE = {"iptables-nft": "iptables-nft-save", "iptables-legacy": "iptables-legacy-save",
        "nftables": "nft list ruleset"}
MARK = {"iptables-nft": ("iptables-nft-save", "NSLAB"), "iptables-legacy": ("iptables-legacy-save", "NSLAB"),
        "nftables": ("nft list tables", "inet nslab")}


def foreign(text: str) -> list[str]:
    """Everything in a dump that is not ours: rules, and chains with their policies."""
    if "table " in text:              # nft list ruleset: drop our table, keep the rest verbatim
        out, skip = [], False
        for line in text.splitlines():
            if line.startswith("table inet nslab"):
                skip = True
            elif skip and line.startswith("}"):
                skip = False
                continue
            if not skip:
                out.append(line)
        return out
    lines = [line for line in text.splitlines() if "NSLAB" not in line and not line.startswith("#")]
    return [line.split(" [")[0] for line in lines]      # counters off


@pytest.mark.parametrize("host", ["iptables-nft", "iptables-legacy", "nftables"])
def test_coexistence_with_a_foreign_firewall(lab, host):
    """Built beside a host's own firewall (Docker's chains and DROP policy, or a native nftables table), with
    br_netfilter passing bridged traffic through FORWARD (Docker's setting), then without it: the lab's
    traffic flows both ways, every foreign rule stays as it was, and teardown leaves exactly the foreign ones."""
    box, internet = lab.sandbox, lab.internet
    box.run("sysctl -qw net.bridge.bridge-nf-call-iptables=1")
    box.run(NATIVE if host == "nftables" else DOCKER_LIKE.format(ipt=host))
    before = foreign(box.run(SAVE[host]).stdout)

    proc = playbook(box, SEED)                          # backend auto: follows the host
    assert proc.returncode == 0, proc.stdout
    ours = box.run(SAVE[host]).stdout
    assert ("table inet nslab" if host == "nftables" else "NSLAB-FWD") in ours
    assert foreign(ours) == before                      # every foreign rule and policy as it was
    for name, (cmd, mark) in MARK.items():             # in the host's backend, never split across two
        assert (mark in box.run(cmd).stdout) == (name == host), name
    if host != "nftables":
        chain = ours.splitlines()
        assert chain.index("-A FORWARD -j NSLAB-FWD") < chain.index("-A FORWARD -j DOCKER-USER")

    serve(box, "netns1", "192.168.0.2", 5000)
    for bridge_nf in ("1", "0"):                               # bridged traffic through FORWARD, then not
        box.run(f"sysctl -qw net.bridge.bridge-nf-call-iptables={bridge_nf}")
        assert ping(box, "198.51.100.10", netns="netns1"), bridge_nf          # egress
        assert ping(box, "192.168.0.3", netns="netns1"), bridge_nf            # namespace <-> namespace, bridged
        assert "Directory listing" in (http(internet, "http://203.0.113.10:5000/") or ""), bridge_nf   # ingress
    assert recap(playbook(box, SEED))["changed"] == 0           # beside the foreign rules: a re-run changes nothing

    down = playbook(box, SEED, "-e", "lab_state=absent")
    assert down.returncode == 0, down.stdout
    after = box.run(SAVE[host]).stdout
    assert foreign(after) == before and "NSLAB" not in after and "inet nslab" not in after


def test_rules_split_across_backends_are_refused(lab):
    box = lab.sandbox
    box.run(DOCKER_LIKE.format(ipt="iptables-legacy"))
    assert playbook(box, SEED).returncode == 0                 # auto: legacy, where the host's rules are
    assert "NSLAB-POST" in box.run("iptables-legacy-save").stdout
    box.run("iptables-nft -t nat -N NSLAB-POST")               # someone made our chain in the other variant
    proc = playbook(box, SEED)
    assert proc.returncode != 0
    assert "nslab chains found in both iptables-nft and iptables-legacy" in proc.stdout, proc.stdout
    box.run("iptables-nft -t nat -X NSLAB-POST")
    proc = playbook(box, SEED, "-e", "nat_backend=nftables")
    assert proc.returncode != 0 and "rules are in iptables chains NSLAB-*" in proc.stdout, proc.stdout
    assert "table inet nslab" not in box.run("nft list ruleset").stdout


# ------------------------------------------------------------- 3. concurrency
def test_two_overlapping_runs_serialise_on_the_host_lock(lab, tmp_path):
    box = lab.sandbox
    hook = tmp_path / "hook"
    hook.mkdir()
    first = Background(box, SEED, env=pause_env("nat_rule", 0, hook), workdir=tmp_path, name="first")
    wait_paused(hook)                       # first holds the lock, its NAT read but not written
    second = Background(box, OTHER, workdir=tmp_path, name="second")
    third = Background(box, SEED, workdir=tmp_path, name="third")
    time.sleep(4)
    assert second.proc.poll() is None and third.proc.poll() is None, second.output() + third.output()
    resume(hook)
    assert first.wait() == 0, first.output()
    assert second.wait() == 0, second.output()
    assert third.wait() == 0, third.output()
    state = lab_state(box)                 # asserts no duplicate rule
    text = box.run("iptables-save").stdout
    for jump in ("-A PREROUTING -j NSLAB-PRE", "-A POSTROUTING -j NSLAB-POST", "-A FORWARD -j NSLAB-FWD"):
        assert text.count(jump) == 1, text
    assert "nslab:other:" in text and "nslab:nslab:" in text      # neither lab lost the other's rules
    assert [r for r in state["netns1"]["routes"] if '"dst": "default"' in r].__len__() == 1
    assert state["host"]["links"].count(("br0", None, "UP", ("192.168.0.1",))) == 1
    assert recap(playbook(box, SEED))["changed"] == 0
    assert recap(playbook(box, OTHER))["changed"] == 0


def test_lock_wait_gives_up_with_the_holder_named(lab, tmp_path):
    box = lab.sandbox
    hook = tmp_path / "hook"
    hook.mkdir()
    first = Background(box, SEED, env=pause_env("netns", 0, hook), workdir=tmp_path, name="first")
    pid, _done = wait_paused(hook)
    proc = playbook(box, OTHER, env={"NSLAB_LOCK_TIMEOUT": "1"})
    assert proc.returncode != 0
    assert f"another nslab.net run holds /run/nslab/lock (holder: pid {pid})" in proc.stdout, proc.stdout
    resume(hook)
    assert first.wait() == 0


# ---------------------------------------------------------- 5. teardown safety
def _foreign_setup(box):
    box.run("ip netns add byhand && ip link add hand0 type veth peer name hand1 && "
            "iptables -A FORWARD -i eth7 -j DROP && iptables -t nat -A POSTROUTING -s 10.99.0.0/16 -j MASQUERADE")


def _foreign_intact(box):
    out = box.run("ip netns list; ip link; iptables-save").stdout
    assert "byhand" in out and "hand0@hand1" in out
    assert "-A FORWARD -i eth7 -j DROP" in out and "-A POSTROUTING -s 10.99.0.0/16 -j MASQUERADE" in out


def test_teardown_twice_half_built_and_with_the_namespace_gone(lab, tmp_path):
    box = lab.sandbox
    _foreign_setup(box)
    assert playbook(box, OTHER).returncode == 0              # another lab on the same host
    other = {k: v for k, v in lab_state(box).items() if k == "o1"}
    down = playbook(box, SEED, "-e", "lab_state=absent")     # nothing built yet
    assert down.returncode == 0 and recap(down)["changed"] == 0, down.stdout

    hook = tmp_path / "hook"
    hook.mkdir()
    run = Background(box, SEED, env=pause_env("veth", 1, hook), workdir=tmp_path)
    pid, _done = wait_paused(hook)
    run.kill(pid)                                            # half built: one veth pair, no ports or NAT
    down = playbook(box, SEED, "-e", "lab_state=absent")
    assert down.returncode == 0 and recap(down)["changed"] > 0, down.stdout
    assert recap(playbook(box, SEED, "-e", "lab_state=absent"))["changed"] == 0

    assert playbook(box, SEED).returncode == 0
    box.run("ip netns del netns1")                           # the namespace is already gone
    down = playbook(box, SEED, "-e", "lab_state=absent")
    assert down.returncode == 0 and recap(down)["changed"] > 0, down.stdout
    assert recap(playbook(box, SEED, "-e", "lab_state=absent"))["changed"] == 0

    state = lab_state(box)
    assert sorted(k for k in state if k not in ("host", "nat", "forwarding")) == ["byhand", "o1"]
    assert {k: v for k, v in state.items() if k == "o1"} == other
    assert not [line for line in state["nat"] if "nslab:nslab:" in line]
    assert [line for line in state["nat"] if "nslab:other:" in line]
    names = {link["ifname"] for link in json.loads(box.run("ip -j link").stdout)}
    assert not names & {"br0", "veth0", "veth1"}, names
    _foreign_intact(box)


# --------------------------------------------------------------- 6. DNAT scope
UDP_SINK = ("import socket, sys\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 5300))\n"
            "while True:\n"
            "    data, peer = s.recvfrom(100)\n"
            "    open(sys.argv[2], 'a').write(data.decode() + '\\n')\n")
UDP_SEND = ("import socket, sys\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('203.0.113.1', 40001))\n"
            "s.sendto(sys.argv[1].encode(), ('203.0.113.10', 5300))\n")


UDP = ("-e", "dnat_protocol=udp", "-e", "dnat_port=5300")


def _received(path, word, timeout=3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and word in open(path).read().split():
            return True
        time.sleep(0.05)
    return False


def test_published_port_answers_on_the_uplink_address_only(lab):
    box, internet = lab.sandbox, lab.internet
    box.run("ip addr add 203.0.113.11/24 dev eth0")          # another address of the host
    assert playbook(box, SEED).returncode == 0
    serve(box, "netns1", "192.168.0.2", 5000)
    assert "Directory listing" in (http(internet, "http://203.0.113.10:5000/") or "")
    assert http(internet, "http://203.0.113.11:5000/") is None                 # not another host address
    assert http(box, "http://127.0.0.1:5000/") is None                         # not via loopback
    assert http(box, "http://127.0.0.1:5000/", netns="netns2") is None
    localnet = box.run("sysctl -a 2>/dev/null | grep route_localnet").stdout.splitlines()
    assert localnet and all(line.endswith("= 0") for line in localnet), localnet


def test_publishing_and_changing_a_port_take_effect_for_running_flows(lab, tmp_path):
    """A UDP sender keeps one flow (same ports) alive across the changes: its conntrack
    entry must not keep it on the host (before publishing) or on the old target."""
    box, internet = lab.sandbox, lab.internet
    assert playbook(box, SEED).returncode == 0                # NAT is active; udp/5300 is not published
    sinks = {ns: str(tmp_path / f"{ns}.txt") for ns in ("netns1", "netns2")}
    for ns, addr in (("netns1", "192.168.0.2"), ("netns2", "192.168.0.3")):
        box.run(f"ip netns exec {ns} setsid -f python3 -c \"$SINK\" {addr} {sinks[ns]} </dev/null >/dev/null 2>&1",
                env=dict(os.environ, SINK=UDP_SINK))
    time.sleep(0.5)
    send = "python3 -c \"$SEND\" {}"
    internet.run(send.format("zero"), env=dict(os.environ, SEND=UDP_SEND))   # reaches the host: no one listens
    assert playbook(box, SEED, *UDP, "-e", "dnat_to=192.168.0.2:5300").returncode == 0
    internet.run(send.format("one"), env=dict(os.environ, SEND=UDP_SEND))
    assert _received(sinks["netns1"], "one")
    proc = playbook(box, SEED, "-v", *UDP, "-e", "dnat_to=192.168.0.3:5300")
    assert proc.returncode == 0, proc.stdout
    assert "delete conntrack entries DNATed to 192.168.0.2:5300" in proc.stdout, proc.stdout
    internet.run(send.format("two"), env=dict(os.environ, SEND=UDP_SEND))      # the same flow (same ports)
    assert _received(sinks["netns2"], "two"), open(sinks["netns1"]).read()
    assert "two" not in open(sinks["netns1"]).read().split()
    rules = [line for line in box.run("iptables-save -t nat").stdout.splitlines() if "DNAT" in line and "5300" in line]
    assert len(rules) == 1 and "192.168.0.3:5300" in rules[0], rules


# ------------------------------------------------------------- 4. bad input
def test_subnets_overlapping_the_uplink_or_another_lab_are_refused_before_any_change(lab):
    box = lab.sandbox
    assert playbook(box, SEED).returncode == 0                     # lab "nslab": br0 192.168.0.1/16
    before = lab_state(box)
    result = lab("bridge_port", bridge="br9", lab="other", address=["192.168.5.1/24"], expect_fail=True)
    assert result["msg"].startswith("address[0]: 192.168.5.1/24 overlaps 192.168.0.1/16 on br0 in the host "
                                    "namespace (nslab lab 'nslab')"), result["msg"]
    result = lab("veth", items=[{"name": "v9", "peer": "c9", "address": ["203.0.113.77/24"]}], expect_fail=True)
    assert result["msg"].startswith("items[0].address[0]: 203.0.113.77/24 overlaps 203.0.113.10/24 on eth0 in the "
                                    "host namespace (not made by nslab.net)"), result["msg"]
    # two subnets of one lab that overlap (seed 000's lesson): refused naming both, in one call or across calls
    result = lab("bridge_port", bridge="br1", address=["192.168.5.1/24"], expect_fail=True)
    assert result["msg"].startswith("address[0]: 192.168.5.1/24 overlaps 192.168.0.1/16 on br0 in the host namespace, "
                                    "both of lab 'nslab': two subnets of one lab must not overlap"), result["msg"]
    assert "give br1 a subnet outside 192.168.0.0/16, or set allow_overlap: true" in result["msg"], result["msg"]
    result = lab("veth", items=[{"name": "v8", "peer": "c8", "address": ["10.66.0.1/16"]},
                                {"name": "v9", "peer": "c9", "address": ["10.66.0.2/16"]}], expect_fail=True)
    assert result["msg"].startswith("items[1].address[0]: 10.66.0.2/16 overlaps 10.66.0.1/16 on v8"), result["msg"]
    result = lab("ns_sysctl", items=[{"name": "net.ipv4.conf.all.rp_filter", "value": 2},
                                     {"name": "net.ipv4.ip_local_port_range", "value": "60999 32768"}],
                 expect_fail=True)
    assert result["msg"].startswith("items[1].value: the kernel refused '60999 32768' for "
                                    "net.ipv4.ip_local_port_range"), result["msg"]
    result = lab("ns_sysctl", name="net.ipv4.ip_forward", value="yes", expect_fail=True)
    assert result["msg"] == "value: net.ipv4.ip_forward takes 1 integer (it is '1' now), not 'yes'"
    assert lab_state(box) == before
    assert box.run("sysctl -n net.ipv4.conf.all.rp_filter").stdout.strip() != "2"   # all or nothing
    made = lab("bridge_port", bridge="br1", address=["192.168.5.1/24"], allow_overlap=True)    # on purpose: said
    assert made["changed"] and any("192.168.5.1/24 on br1 overlaps 192.168.0.1/16 on br0 in the host namespace "
                                   "(allow_overlap)" in str(w) for w in made.get("warnings", [])), made
    assert not lab("bridge_port", bridge="br1", address=["192.168.5.1/24"], allow_overlap=True).get("warnings")
    again = lab("bridge_port", bridge="br1", address=["192.168.5.1/24"])     # not new: a re-run is not refused
    assert not again["changed"] and not again.get("warnings"), again
    lab("bridge_port", bridge="br1", state="absent")
    # the lab's bridge renamed (purge takes br0 and its address away in the same call): no overlap with itself
    renamed = lab("bridge_port", check=True, bridge="lab0", items=[{"address": ["192.168.0.1/16"]}], purge=True)
    assert renamed["changed"] and "delete bridge br0 in the host namespace (purge: no longer listed)" in renamed["actions"]
