"""decode.py, the decoders that read only what the collection uses, on messages built by hand (no kernel, no
pyroute2): fields, attributes at their alignment, nested sets, attributes they skip, missing ones, addresses of
either family, a multipath route's next hops. tests/integration/test_netlink.py holds them equal to pyroute2's
decoding on the real kernel."""

from __future__ import annotations

import struct

from ansible_collections.nslab.net.plugins.module_utils._host.decode import AddrMsg, LinkMsg, RouteMsg
from ansible_collections.nslab.net.plugins.module_utils._host.readers import link_dict, route_dict

NESTED = 0x8000


def nla(kind: int, payload: bytes) -> bytes:
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def text(value: str) -> bytes:
    return value.encode() + b"\0"


def message(index: int, flags: int, *attrs: bytes) -> bytes:
    """An RTM_NEWLINK message behind 7 bytes of something else (a dump's earlier message)."""
    body = struct.pack("=BxHiII", 0, 1, index, flags, 0) + b"".join(attrs)
    return b"x" * 7 + struct.pack("=IHHII", 16 + len(body), 16, 2, 1, 0) + body


def decode(data: bytes) -> dict:
    return link_dict(LinkMsg(data, 7 + 16, len(data)))


def test_a_bridge_port_reads_as_pyroute2_names_it():
    data = message(
        5, 0x1043,
        nla(3, text("veth0")),
        nla(7, b"\xff" * 64),                                   # IFLA_STATS: skipped
        nla(4, struct.pack("=I", 1400)), nla(5, struct.pack("=I", 4)), nla(10, struct.pack("=I", 2)),
        nla(18 | NESTED, nla(1, text("veth")) + nla(4, text("bridge")) + nla(5 | NESTED, nla(4, b"\x01"))),
        nla(20, text("nslab:lab peer=ceth0@ns1")))
    assert decode(data) == dict(name="veth0", index=5, kind="veth", alias="nslab:lab peer=ceth0@ns1", up=True,
                                loopback=False, mtu=1400, master=2, peer_index=4, hairpin=True)


def test_what_a_link_does_not_carry_reads_as_none():
    data = message(1, 0x8, nla(3, text("lo")), nla(4, struct.pack("=I", 65536)))
    assert decode(data) == dict(name="lo", index=1, kind=None, alias=None, up=False, loopback=True, mtu=65536,
                                master=None, peer_index=None, hairpin=None)


def test_hairpin_is_read_only_from_a_bridge_port():
    bond = nla(18, nla(1, text("dummy")) + nla(4, text("bond")) + nla(5, nla(4, b"\x01")))
    assert decode(message(3, 0, nla(3, text("d0")), bond))["hairpin"] is None
    off = nla(18, nla(4, text("bridge")) + nla(5, nla(4, b"\x00")))
    assert decode(message(3, 0, nla(3, text("d0")), off))["hairpin"] is False


def test_a_truncated_attribute_ends_the_walk():
    data = message(2, 0, nla(3, text("eth0"))) + struct.pack("=HH", 2, 20)
    data = data[:7] + struct.pack("=I", len(data) - 7) + data[11:]
    assert decode(data)["name"] == "eth0" and decode(data)["alias"] is None


def test_an_address_reads_in_its_family():
    body = struct.pack("=BBBBI", 10, 64, 0, 0, 7) + nla(1, bytes.fromhex("fd000000000000000000000000000002"))
    msg = AddrMsg(body, 0, len(body))
    assert (msg["family"], msg["prefixlen"], msg["scope"], msg["index"]) == (10, 64, 0, 7)
    assert msg.get_attr("IFA_ADDRESS") == "fd00::2" and msg.get_attr("IFA_LOCAL") is None
    body = struct.pack("=BBBBI", 2, 24, 0, 0, 3) + nla(1, bytes([10, 9, 0, 2])) + nla(2, bytes([10, 9, 0, 2]))
    assert AddrMsg(body, 0, len(body)).get_attr("IFA_LOCAL") == "10.9.0.2"


def test_a_route_and_its_next_hops():
    hops = struct.pack("=HBBi", 16, 0, 0, 5) + nla(5, bytes([10, 9, 0, 1])) \
        + struct.pack("=HBBi", 16, 0, 1, 6) + nla(5, bytes([10, 9, 0, 3]))
    body = struct.pack("=BBBBBBBBI", 2, 24, 0, 0, 254, 200, 0, 1, 0) + nla(15, struct.pack("=I", 254)) \
        + nla(1, bytes([10, 2, 0, 0])) + nla(6, struct.pack("=I", 0)) + nla(9 | NESTED, hops)
    msg = RouteMsg(body, 0, len(body))
    assert [hop["oif"] for hop in msg.get_attr("RTA_MULTIPATH")] == [5, 6]
    assert route_dict(msg, {5: "p1"}) == dict(dst="10.2.0.0/24", prefix="10.2.0.0/24", family=2, gateway=None, dev=None,
                                              metric=0, table=254, proto=200, width=32)
    default = struct.pack("=BBBBBBBBI", 2, 0, 0, 0, 254, 3, 0, 1, 0) + nla(5, bytes([203, 0, 113, 1])) \
        + nla(4, struct.pack("=I", 2))
    assert route_dict(RouteMsg(default, 0, len(default)), {2: "eth0"}) == dict(
        dst="default", prefix="0.0.0.0/0", family=2, gateway="203.0.113.1", dev="eth0", metric=0, table=254, proto=3,
        width=32)
