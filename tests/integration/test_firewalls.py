"""playbooks/lab.yml beside host firewalls whose nftables base chains drop the lab's traffic: refused before
any change, naming the table, the chain and the commands that open it; after the user runs exactly those
commands, every fact is reachable with real traffic, and teardown leaves the firewall as the user left it."""

from __future__ import annotations

import json
import os
import re

import pytest

from hostnet import no_counters
from nslabtest import Internet, Sandbox, lab_state, playbook
from test_lab_playbook import ansible_playbook, block, recap, sandbox_inventory
from traffic import http, ping

#: a user's own playbook: seed 002's commands as one module task each, no rule naming br0
OWN = os.path.join(os.path.dirname(__file__), "playbooks", "own.yml")
PUBLIC, UPLINK = "198.51.100.10", "203.0.113.10"


HARDENED = """nft -f - <<'EOF'
table inet filter {
  chain input { type filter hook input priority filter; policy drop;
    ct state established,related accept; iifname "lo" accept; tcp dport 22 accept; }
  chain forward { type filter hook forward priority filter; policy drop; }
  chain output { type filter hook output priority filter; policy accept; }
}
EOF
"""

# Docker 29's nftables backend (docs.docker.com/engine/network/firewall-nftables/): its own tables with
# accept policies and per-bridge chains, beside the host's forward chain with policy drop
DOCKER_NFT = """nft -f - <<'EOF'
table ip docker-bridges {
  map filter-forward-in-jumps { type ifname : verdict; elements = { "docker0" : jump filter-forward-in__docker0 } }
  map filter-forward-out-jumps { type ifname : verdict; elements = { "docker0" : jump filter-forward-out__docker0 } }
  chain filter-FORWARD { type filter hook forward priority filter; policy accept;
    oifname vmap @filter-forward-in-jumps; iifname vmap @filter-forward-out-jumps; }
  chain filter-forward-in__docker0 { ct state established,related counter accept; iifname "docker0" counter accept;
    counter drop; }
  chain filter-forward-out__docker0 { ct state established,related counter accept; oifname "docker0" counter accept; }
  chain nat-POSTROUTING { type nat hook postrouting priority srcnat; policy accept;
    ip saddr 172.17.0.0/16 oifname != "docker0" counter masquerade; }
  chain nat-PREROUTING { type nat hook prerouting priority dstnat; policy accept; }
}
table inet filter {
  chain forward { type filter hook forward priority filter; policy drop; }
}
EOF
"""

# the shape of firewalld's nftables backend: forward chain accepting established traffic, then rejecting
FIREWALLD_SHAPE = """nft -f - <<'EOF'
table inet firewalld {
  chain filter_FORWARD { type filter hook forward priority filter + 10; policy accept;
    ct state established,related accept; ct status dnat accept; iifname "lo" accept;
    reject with icmpx admin-prohibited; }
}
EOF
"""


@pytest.fixture
def host(tmp_path):
    root = str(tmp_path / "sb")
    internet, box = Internet(root), Sandbox("fw1", root)
    inventory = sandbox_inventory(tmp_path, root, {"fw1": {}})
    try:
        internet.create()
        box.create()
        internet.attach(box, "203.0.113.10")
        yield box, root, inventory
    finally:
        box.destroy()
        internet.destroy()


def failure(root) -> str:
    """The whole message the lab host failed with (the summary shortens it), from its results file."""
    with open(os.path.join(os.path.dirname(root), "nslab-results", "lab", "fw1.json")) as fh:
        return json.load(fh)["failure"]["msg"]


def foreign(box) -> str:
    """The host's ruleset without this collection's table, counters at zero."""
    text = no_counters(box.run("nft list ruleset").stdout)
    return re.sub(r"table inet nslab \{.*?\n\}\n", "", text, flags=re.S)


def own(box, *extra):
    """own.yml run on the sandbox (connection local), each result as one line of JSON."""
    return playbook(box, OWN, *extra,
                    env=dict(ANSIBLE_CALLBACK_RESULT_FORMAT="json"))


def fatal(proc) -> tuple[str, dict]:
    """The task that failed and its result, as the user reads them."""
    task = re.findall(r"^TASK \[(.*)\]", proc.stdout[:proc.stdout.index("fatal: ")], re.M)[-1]
    return task, json.loads(re.search(r"^fatal: \[lab\]: FAILED! => (\{.*\})$", proc.stdout, re.M).group(1))


def measured(box, internet) -> dict:
    """Real traffic through the lab: egress ping and TCP from netns1, ingress from the internet to the published port."""
    return dict(egress_ping=ping(box, PUBLIC, netns="netns1"),
                egress_tcp=http(box, f"http://{PUBLIC}/", netns="netns1") == f"seen-from {UPLINK}\n",
                ingress=http(internet, f"http://{UPLINK}:5000/") == "served from netns1\n")


def open_as_told(box, msg: str, firewall: str) -> str:
    """Run the nft commands a refusal names (forward; input too beside the hardened ruleset), as the user would, after
    checking they are exactly these; the host's ruleset then, without this collection's table."""
    commands = [c.strip() for c in re.search(r"Open it, then re-run: (nft insert rule inet filter forward [^(]*) \(",
                                             msg).group(1).split(";")]
    assert commands == ["nft insert rule inet filter forward iifname br0 accept",
                        "nft insert rule inet filter forward oifname br0 accept"], commands
    if firewall == "hardened":
        commands.append(re.search(r"(nft insert rule inet filter input iifname br0 accept)", msg).group(1))
    for command in commands:
        box.run(command)
    return foreign(box)


def nat_of_ours(box) -> str:
    return box.run("iptables-save -t nat | grep -i nslab; nft list table inet nslab 2>/dev/null", check=False).stdout


@pytest.mark.parametrize("firewall", ["hardened", "docker-nft"])
def test_a_users_own_playbook_beside_a_drop_policy_is_refused_at_the_nat_rule_then_works_once_opened(host, firewall):
    """Seed 002 by hand, one module per task, no rule naming br0: nat_rule finds br0 from the masquerade's source
    (192.168.0.0/16, routed over br0) and refuses, before it changes anything, naming the chain and the commands;
    after the user runs them, egress (ping, TCP) and the published port work, and teardown leaves the firewall
    as the user left it."""
    box, root, _inventory = host
    internet = Internet(root)
    box.run(HARDENED if firewall == "hardened" else DOCKER_NFT)
    before = foreign(box)
    refused = own(box)
    task, result = fatal(refused)
    msg = result["msg"]
    assert task.startswith("iptables -t nat -A POSTROUTING"), (task, refused.stdout[-3000:])
    assert "base chain inet filter forward (hook forward, policy drop) accepts no iifname br0 and oifname br0" in msg, msg
    assert not result["changed"] and not nat_of_ours(box) and foreign(box) == before, result
    opened = open_as_told(box, msg, firewall)
    built = own(box)
    assert built.returncode == 0, built.stdout[-3000:]
    assert measured(box, internet) == dict(egress_ping=True, egress_tcp=True, ingress=True)
    down = own(box, "-e", "lab_state=absent")
    assert down.returncode == 0 and foreign(box) == opened and not nat_of_ours(box), down.stdout[-3000:]


@pytest.mark.parametrize("firewall", ["hardened", "docker-nft"])
def test_a_drop_policy_is_refused_before_any_change_then_opened_by_the_command_it_names(host, firewall):
    box, root, inventory = host
    box.run(HARDENED if firewall == "hardened" else DOCKER_NFT)
    before, state = foreign(box), lab_state(box)
    refused = ansible_playbook(root, "-i", inventory, "playbooks/lab.yml")
    assert refused.returncode != 0 and recap(refused.stdout, "fw1")["changed"] == 0, refused.stdout[-3000:]
    assert lab_state(box) == state and foreign(box) == before, "nothing changed"
    summary = failure(root)
    assert "base chain inet filter forward (hook forward, policy drop)" in summary, summary
    assert summary.startswith("steps[5] (nat_rule): ") and "(nothing was changed)" in summary, summary
    opened = open_as_told(box, summary, firewall)
    built = ansible_playbook(root, "-i", inventory, "playbooks/lab.yml")
    assert built.returncode == 0, built.stdout[-3000:]
    assert "fw1: 12/12 probes reachable" in block(built.stdout, "Fleet summary")
    down = ansible_playbook(root, "-i", inventory, "playbooks/teardown.yml")
    assert down.returncode == 0 and foreign(box) == opened, "the firewall as the user left it"


def test_firewalld_s_forward_reject_is_refused_naming_firewall_cmd(host):
    box, root, inventory = host
    box.run(FIREWALLD_SHAPE)
    state = lab_state(box)
    refused = ansible_playbook(root, "-i", inventory, "playbooks/lab.yml")
    assert refused.returncode != 0 and lab_state(box) == state
    summary = failure(root)
    assert "firewalld in the host namespace would drop the lab's egress and published ports" in summary, summary
    assert "its last rule rejects every packet" in summary
    assert "firewall-cmd --zone=trusted --add-interface=br0 (add --permanent to keep it across reboots)" in summary


def test_a_rule_whose_bridge_is_unknown_is_warned_about_through_module_warn(mod):
    """A bare masquerade (no bridge named) beside a policy-drop forward chain: a warning, given through
    AnsibleModule.warn (ansible-core 2.21 deprecates returning "warnings" in the result)."""
    mod.sh("nft add table inet user && nft 'add chain inet user user_forward { type filter hook forward priority 0; policy drop; }'")
    r = mod("nat_rule", backend="nftables", type="masquerade", source="10.9.0.0/24", out_interface="lo")
    assert r["changed"]
    warned = [str(w) for w in r.get("warnings", [])]
    assert any("forward hook chains with policy drop" in w and "inet user user_forward" in w for w in warned), r
    assert not r.get("deprecations"), r["deprecations"]


def test_a_failed_fact_names_the_firewall_that_drops_it(mod):
    """A firewall made by hand after the lab was built: the probe that fails says which firewall is there."""
    mod("netns", name="fwp1")
    mod("veth", name="fwv0", peer="fwc0", peer_netns="fwp1", peer_address=["10.77.0.2/24"])
    mod("bridge_port", bridge="fwbr0", port="fwv0", address=["10.77.0.1/24"])
    probe = dict(name="fwp1 -> host", netns="fwp1", target="10.77.0.1", timeout=1)
    assert mod("ns_probe", probes=[probe])["ok"], "reachable before the firewall"
    mod.sh("nft -f - <<'EOF'\ntable inet filter {\n chain input { type filter hook input priority filter; "
           "policy drop; iifname \"lo\" accept; }\n}\nEOF")
    r = mod("ns_probe", probes=[probe])
    failed = r["results"][0]
    assert not r["ok"] and failed["firewalls"] == ["the nftables chain inet filter input (hook input, policy drop)"]
    assert "firewalls on this host: the nftables chain inet filter input" in failed["detail"], failed
    mod.sh("nft delete table inet filter")
    again = mod("ns_probe", probes=[probe])
    assert again["ok"] and "firewalls" not in again["results"][0]


def filter_table(box) -> str:
    """iptables' filter table as iptables-save shows it, without comments and counters."""
    text = box.run("iptables-save -t filter").stdout
    return "\n".join(re.sub(r"\[\d+:\d+\]", "", line) for line in text.splitlines() if not line.startswith("#"))


def test_with_firewall_fail_an_iptables_forward_drop_is_refused_then_opened_by_the_commands_it_names(host):
    """firewall: integrate (the default) opens an iptables FORWARD policy DROP in the lab's own NSLAB-FWD chain
    (test_reliability.py); firewall: fail leaves it to the user, with the commands."""
    box, root, inventory = host
    box.run("iptables -P FORWARD DROP")
    before, state = filter_table(box), lab_state(box)
    refused = ansible_playbook(root, "-i", inventory, "playbooks/lab.yml", "-e", "nslab_firewall=fail")
    assert refused.returncode != 0 and recap(refused.stdout, "fw1")["changed"] == 0, refused.stdout[-3000:]
    assert lab_state(box) == state and filter_table(box) == before, "nothing changed"
    summary = failure(root)
    assert "the iptables FORWARD policy DROP (iptables-nft) in the host namespace would drop" in summary, summary
    fixes = re.search(r"Open it, then re-run: ([^;]*; [^;]*); or set firewall: integrate", summary).group(1)
    commands = [c.strip() for c in fixes.split(";")]
    assert commands == ["iptables -I FORWARD -i br0 -j ACCEPT", "iptables -I FORWARD -o br0 -j ACCEPT"], commands
    for command in commands:
        box.run(command)
    opened = filter_table(box)
    built = ansible_playbook(root, "-i", inventory, "playbooks/lab.yml", "-e", "nslab_firewall=fail")
    assert built.returncode == 0, built.stdout[-3000:]
    assert "fw1: 12/12 probes reachable" in block(built.stdout, "Fleet summary")
    down = ansible_playbook(root, "-i", inventory, "playbooks/teardown.yml")
    assert down.returncode == 0 and filter_table(box) == opened, "iptables as the user left it"


def test_a_batch_of_ones_own_steps_is_refused_before_its_first_change_beside_a_drop_policy(mod):
    """A user's batch (the bridge, its address and the MASQUERADE of its subnet, no rule naming the bridge) beside a
    forward chain with policy drop: the rehearsal before the first change already sees br0 carrying the subnet (the
    address an earlier step would add), so the batch is refused with nothing made, in check mode and for real."""
    mod.sh("nft add table inet filter && nft 'add chain inet filter forward { type filter hook forward priority 0; "
           "policy drop; }'")
    steps = [dict(module="bridge_port", args=dict(bridge="br0", address=["192.168.0.1/16"])),
             dict(module="nat_rule", args=dict(type="masquerade", source="192.168.0.0/16", out_interface="!br0"))]
    for check in (True, False):
        refused = mod("batch", check=check, steps=steps, expect_fail=True)
        assert refused["msg"].startswith("steps[1] (nat_rule): the nftables table inet filter in the host namespace "
                                         "would drop the lab's egress and published ports"), refused["msg"]
        assert "accepts no iifname br0 and oifname br0" in refused["msg"], refused["msg"]
        assert "br0" not in mod.sh("ip link show").stdout and (check or not refused["changed"]), refused


def test_links_nslab_did_not_make_are_never_judged_for_a_rule_only_warned_about(mod):
    """A masquerade of 192.168.0.0/16 on a host whose own card (lan1, 192.168.1.1/24) is in that subnet, beside a
    forward chain with policy drop and no lab bridge: the host's card is not the lab's (it is never bound to a zone
    nor refused for), so the rule is made with the warning that the drop may still hit lab traffic."""
    mod.sh("ip link add lan1 type veth peer name lan1p && ip addr add 192.168.1.1/24 dev lan1 && ip link set lan1 up && "
           "nft add table inet filter && nft 'add chain inet filter forward { type filter hook forward priority 0; "
           "policy drop; }'")
    made = mod("nat_rule", type="masquerade", source="192.168.0.0/16", out_interface="!br0", backend="nftables")
    warned = " ".join(str(w) for w in made.get("warnings", []))
    assert made["changed"] and "forward hook chains with policy drop" in warned and "lan1" not in warned, made
