from __future__ import annotations

import pytest

from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid


@pytest.mark.parametrize("name", ["a", "veth0", "x" * 15, "br-lab.1"])
def test_ifname_accepts(name):
    assert v.ifname("name", name) == name


@pytest.mark.parametrize("name, words", [
    ("x" * 16, "at most 15"), ("", "required"), ("a/b", "'/'"), ("a b", "white space"), ("..", "'.'"),
    ("eth0:1", "':'"), (None, "required"),
])
def test_ifname_rejects_with_option_and_rule(name, words):
    with pytest.raises(Invalid) as exc:
        v.ifname("items[3].peer", name)
    assert str(exc.value).startswith("items[3].peer: ")
    assert words in str(exc.value)


@pytest.mark.parametrize("value, want", [
    ("192.168.0.1/16", "192.168.0.1/16"), ("2001:db8:0::1/64", "2001:db8::1/64"), (" 10.0.0.1/8 ", "10.0.0.1/8"),
])
def test_interface_normalises(value, want):
    assert v.interface("address", value) == want


@pytest.mark.parametrize("value", ["192.168.0.1", "192.168.0.300/16", "10.0.0.1/33", "fe80::1/64", "127.0.0.1/8",
                                   "0.0.0.0/0", "garbage", 12])
def test_interface_rejects(value):
    with pytest.raises(Invalid, match=r"^address"):
        v.interface("address", value)


def test_interfaces_sorted_and_deduplicated():
    assert v.interfaces("address", ["10.0.0.2/8", "10.0.0.1/8", "10.0.0.2/8"]) == ["10.0.0.1/8", "10.0.0.2/8"]
    assert v.interfaces("address", None) is None
    assert v.interfaces("address", []) == []


@pytest.mark.parametrize("value, want", [(1, (1, 1)), ("65535", (65535, 65535)), ("8000-8010", (8000, 8010)),
                                         ("5:5", (5, 5))])
def test_port(value, want):
    assert v.port("port", value) == want


@pytest.mark.parametrize("value, words", [(0, "outside 1-65535"), (65536, "outside"), ("10-5", "reversed"),
                                          ("http", "not a port"), ("-1", "not a port"), ("1-2-3", "not a port")])
def test_port_rejects(value, words):
    with pytest.raises(Invalid, match=words):
        v.port("port", value)


def test_network_requires_zero_host_bits():
    assert v.network("source", "192.168.0.0/16") == "192.168.0.0/16"
    assert v.network("source", "10.0.0.5") == "10.0.0.5/32"
    with pytest.raises(Invalid, match="host bits"):
        v.network("source", "192.168.0.1/16")


@pytest.mark.parametrize("value", ["has space ok", "a" * 64])
def test_comment_ok(value):
    assert v.comment("comment", value) == value


@pytest.mark.parametrize("value", ['quote"d', "a" * 65, "back\\slash", "new\nline"])
def test_comment_rejects(value):
    with pytest.raises(Invalid, match="^comment"):
        v.comment("comment", value)


@pytest.mark.parametrize("value", ["", "x" * 25, "a b", "a/b"])
def test_lab_label_rejects(value):
    with pytest.raises(Invalid, match="^lab"):
        v.lab("lab", value)


def test_integer_range_and_type():
    assert v.integer("mtu", "1400", 68, 65535) == 1400
    for bad in ("14x", True, 67, 70000):
        with pytest.raises(Invalid, match="^mtu"):
            v.integer("mtu", bad, 68, 65535)
