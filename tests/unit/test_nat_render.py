"""The planner's NAT rendering: identity, digest and the text both backends get."""

from __future__ import annotations

import pytest

from ansible_collections.nslab.net.plugins.module_utils._nat import nat_iptables, nat_nftables
from ansible_collections.nslab.net.plugins.module_utils._nat.rule import Rule, parse_to, read_target
from ansible_collections.nslab.net.plugins.module_utils._nat.nat_nftables import NftBackend
from ansible_collections.nslab.net.plugins.module_utils._nat.natstate import IptablesState, NftState, parse_tag
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid


def item(**kw):
    base = dict(netns=None, type="masquerade", family=4, source=None, destination=None, in_interface=None,
                out_interface=None, protocol=None, port=None, to=None, comment=None)
    base.update(kw)
    return base


def test_identity_ignores_to_and_comment_but_digest_does_not():
    a = Rule(item(type="dnat", destination="203.0.113.10/32", protocol="tcp", port=(5000, 5000),
                  to=("192.168.0.2", (5000, 5000))), "lab1")
    b = Rule(item(type="dnat", destination="203.0.113.10/32", protocol="tcp", port=(5000, 5000),
                  to=("192.168.0.3", None), comment="moved"), "lab1")
    assert a.key == b.key and a.digest != b.digest
    assert Rule(item(source="10.0.0.0/8"), "x").key != Rule(item(source="10.1.0.0/16"), "x").key


def test_masquerade_iptables_lines_match_seed_002():
    rule = Rule(item(source="192.168.0.0/16", out_interface="!br0"), "nslab")
    lines = nat_iptables.rules_of(rule)
    assert lines[0][0] == "post"
    assert lines[0][1].startswith("-s 192.168.0.0/16 ! -o br0 -m comment --comment \"nslab:nslab:masquerade:")
    assert lines[0][1].endswith("-j MASQUERADE")
    assert [chain for chain, _spec in lines] == ["post", "fwd", "fwd"]
    assert "-d 192.168.0.0/16 ! -i br0 -m conntrack --ctstate RELATED,ESTABLISHED" in lines[2][1]


def test_dnat_port_range_rendering_both_backends():
    rule = Rule(item(type="dnat", destination="203.0.113.10/32", protocol="tcp", port=(8000, 8010),
                     to=("192.168.0.3", None)), "nslab")
    ipt = dict(nat_iptables.rules_of(rule))
    assert "-p tcp -m tcp --dport 8000:8010" in ipt["pre"]
    assert "--to-destination 192.168.0.3" in ipt["pre"]
    nft = [spec for chain, spec in nat_nftables.rules_of(rule) if chain == "pre"][0]
    assert "tcp dport 8000-8010" in nft and "dnat ip to 192.168.0.3" in nft


def test_parse_to_forms():
    assert parse_to("to", "192.168.0.2:5000", "dnat") == ("192.168.0.2", (5000, 5000))
    assert parse_to("to", "[fd00::2]:80-81", "dnat") == ("fd00::2", (80, 81))
    assert parse_to("to", "fd00::2", "dnat") == ("fd00::2", None)
    with pytest.raises(Invalid, match="^to: snat takes an address only"):
        parse_to("to", "10.0.0.1:80", "snat")
    with pytest.raises(Invalid, match="^to"):
        parse_to("to", "10.0.0.300", "dnat")
    with pytest.raises(Invalid, match=r"^items\[0\]\.to: ':5000' has no address: give ADDRESS, ADDRESS:PORT or \[IPv6\]:PORT"):
        parse_to("items[0].to", ":5000", "dnat")     # a port alone: was a ValueError, an "unexpected error"
    # a target read back from a rule edited by hand: nothing to flush, never a refusal naming an option not given
    assert read_target(":5000") is None and read_target(None) is None
    assert read_target("192.168.0.2:5000") == ("192.168.0.2", (5000, 5000))


def test_tag_round_trip():
    rule = Rule(item(source="10.0.0.0/8", comment="hello there"), "lab-a")
    tag = parse_tag(rule.comment)
    assert tag == dict(lab="lab-a", type="masquerade", key=rule.key, digest=rule.digest, comment="hello there")
    assert parse_tag("DOCKER rule") is None and parse_tag(None) is None


SAVE = """*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [3:180]
:DOCKER - [0:0]
:NSLAB-POST - [0:0]
-A POSTROUTING -j NSLAB-POST
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A NSLAB-POST -s 10.0.0.0/8 -m comment --comment "nslab:a:masquerade:k1:d1" -j MASQUERADE
-A NSLAB-POST -s 10.1.0.0/16 -m comment --comment "nslab:b:masquerade:k2:d2 theirs" -j MASQUERADE
COMMIT
*filter
:FORWARD DROP [0:0]
COMMIT
"""


def test_iptables_state_parsing_and_batch_keeps_other_labs():
    from ansible_collections.nslab.net.plugins.module_utils._nat.nat_iptables import IptablesBackend

    state = IptablesState(SAVE, "nft", 4)
    assert state.foreign and state.forward_drop
    assert set(state.ours) == {"k1", "k2"} and state.ours["k2"]["comment"] == "theirs"
    assert state.jumps == {"post": "POSTROUTING -j NSLAB-POST"}
    backend = IptablesBackend.__new__(IptablesBackend)
    text = backend.batch(state, remove_keys={"k1"}, add=[], lab="a")
    assert "nslab:b:masquerade:k2:d2 theirs" in text          # the other lab's rule is written back
    assert "k1" not in text
    assert "-D POSTROUTING" not in text                         # chain still used by lab b
    text = IptablesBackend.batch(backend, IptablesState(SAVE.replace("-A NSLAB-POST -s 10.1", "#"), "nft", 4),
                                 remove_keys={"k1"}, add=[], lab="a")
    assert "-D POSTROUTING -j NSLAB-POST" in text and "-X NSLAB-POST" in text


def test_nft_batch_deletes_by_handle_and_drops_empty_table():
    data = {"nftables": [
        {"table": {"family": "inet", "name": "nslab"}},
        {"rule": {"family": "inet", "table": "nslab", "chain": "postrouting_nat", "handle": 7,
                  "comment": "nslab:a:masquerade:k1:d1", "expr": []}},
    ]}
    state = NftState(data)
    backend = NftBackend.__new__(NftBackend)
    assert backend.batch(state, {"k1"}, [], "a") == "delete table inet nslab\n"
    rule = Rule(item(source="10.2.0.0/16"), "a")
    text = backend.batch(state, {"k1"}, [rule], "a")
    assert "delete rule inet nslab postrouting_nat handle 7" in text
    assert "add rule inet nslab postrouting_nat meta nfproto ipv4 ip saddr 10.2.0.0/16 masquerade" in text


def test_reset_matches_a_rule_by_the_labs_subnets_and_interfaces_not_by_what_it_excludes():
    import ipaddress

    from ansible_collections.nslab.net.plugins.module_utils._nat.natread import reset_match, touches
    from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

    nets, ifaces = reset_match("reset", ["192.168.0.0/16", "br0", "fd00:1::/64"])
    assert nets == [ipaddress.ip_network("192.168.0.0/16"), ipaddress.ip_network("fd00:1::/64")] and ifaces == {"br0"}
    assert touches("-A POSTROUTING -s 192.168.0.0/16 -o eth0 -j MASQUERADE", nets, ifaces) == "subnet 192.168.0.0/16"
    assert touches("-A PREROUTING -d 203.0.113.10/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination "
                   "192.168.0.2:80", nets, ifaces) == "subnet 192.168.0.0/16"
    assert touches("-A PREROUTING -p tcp -j DNAT --to-destination [fd00:1::2]:80", nets, ifaces) == "subnet fd00:1::/64"
    assert touches("-A FORWARD -i br0 -j ACCEPT", nets, ifaces) == "interface br0"
    # a rule for everything but the lab, or for another subnet or bridge, is not the lab's
    assert touches("-A POSTROUTING ! -s 192.168.0.0/16 -j MASQUERADE", nets, ifaces) is None
    assert touches("-A FORWARD ! -i br0 -o br0 -j ACCEPT", nets, ifaces) == "interface br0"      # -o br0 is
    assert touches("-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE", nets, ifaces) is None
    assert touches("-A FORWARD -i br1 -j ACCEPT", nets, ifaces) is None
    try:
        reset_match("reset", ["not an interface name!"])
    except Invalid as exc:
        assert str(exc).startswith("reset[0]: ")
    else:
        raise AssertionError("an entry that is neither a subnet nor an interface name is refused")
