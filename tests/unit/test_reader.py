"""reader.py's requests and readers.py's notation, without a kernel: the socket is one end of a datagram pair and
the test plays the kernel, so each request is seen as sent and each answer is one the test wrote. The requests
are encoded by pyroute2's message classes: the two request tests need pyroute2 (the project's virtualenv has it)."""

from __future__ import annotations

import ipaddress
import socket
import struct

import pytest

from ansible_collections.nslab.net.plugins.module_utils._host import reader as reader_mod
from ansible_collections.nslab.net.plugins.module_utils._host.readers import interface_text, network_text

HEADER = struct.Struct("=IHHII")


@pytest.fixture
def pair():
    pytest.importorskip("pyroute2.netlink.rtnl.ifinfmsg")
    ours, kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    reader_mod.ENCODED.clear()
    yield reader_mod.Reader(ours), kernel
    ours.close()
    kernel.close()


def exchange(reader: reader_mod.Reader, kernel: socket.socket, *args) -> tuple[bytes, int]:
    """One exchange, answered ahead (the test is single-threaded) with the end of a dump (NLMSG_DONE) of the next
    sequence number, behind an answer to an earlier request, which the reader must skip; returns the request the
    reader sent and its sequence number."""
    seq = reader.seq + 1
    done = [HEADER.pack(20, reader_mod.NLMSG_DONE, 2, number, 0) + b"\0" * 4 for number in (seq - 1, seq)]
    kernel.send(b"".join(done))
    assert reader.exchange(*args) == []
    request = kernel.recv(1 << 16)
    return request, HEADER.unpack_from(request)[3]


def pyroute2_encoded(msg_class, msg_type: int, flags: int, seq: int, fields: dict, attrs: list) -> bytes:
    msg = msg_class()
    for key, value in fields.items():
        msg[key] = value
    msg["attrs"] = attrs
    msg["header"].update(type=msg_type, flags=flags, sequence_number=seq)
    msg.encode()
    return bytes(msg.data)


def test_a_repeated_read_is_encoded_once_and_sent_with_its_own_sequence_number(pair):
    ifinfmsg = pytest.importorskip("pyroute2.netlink.rtnl.ifinfmsg").ifinfmsg

    reader, kernel = pair
    sent = []
    for _attempt in range(3):
        sent.append(exchange(reader, kernel, reader_mod.RTM_GETLINK, False, {"index": 0}, [("IFLA_IFNAME", "veth1")], 0))
    for request, seq in sent:
        assert request == pyroute2_encoded(ifinfmsg, reader_mod.RTM_GETLINK, reader_mod.NLM_F_REQUEST, seq,
                                           {"index": 0}, [["IFLA_IFNAME", "veth1"]])
    assert [seq for _request, seq in sent] == [1, 2, 3]
    assert len(reader_mod.ENCODED) == 1


def test_a_change_is_encoded_each_time(pair):
    reader, kernel = pair
    for _attempt in range(2):
        exchange(reader, kernel, reader_mod.RTM_GETLINK & ~3, False, {"index": 7}, [("IFLA_IFNAME", "a")],
                 reader_mod.NLM_F_ACK)
    assert reader_mod.ENCODED == {}


ADDRESSES = ["192.0.2.1", "2001:db8::1", "fe80::1", "::1", "::1.2.3.4", "::ffff:1.2.3.4", "2001:db8:0:0:1:0:0:1",
             "2001:DB8::A"]


@pytest.mark.parametrize(("text", "prefixlen"), [(text, prefixlen) for text in ADDRESSES for prefixlen in (0, 24, 96, 128)
                                                 if ":" in text or prefixlen <= 32])
def test_an_address_reads_as_the_options_are_normalized(text, prefixlen):
    # the kernel's text comes from inet_ntop, which writes IPv4-compatible addresses (::1.2.3.4) its own way; Python
    # 3.13 writes an IPv4-mapped one in dotted form in str() but not in with_prefixlen, which the options use
    family = socket.AF_INET6 if ":" in text else socket.AF_INET
    kernel = socket.inet_ntop(family, socket.inet_pton(family, text))
    assert interface_text(kernel, prefixlen) == ipaddress.ip_interface(f"{text}/{prefixlen}").with_prefixlen


@pytest.mark.parametrize("network", ["0.0.0.0/0", "10.0.0.0/8", "192.0.2.128/25", "::/0", "2001:db8::/32",
                                     "::ffff:0.0.0.0/96", "::/96", "fe80::/64"])
def test_a_route_destination_reads_as_ipaddress_writes_it(network):
    net = ipaddress.ip_network(network)
    family = socket.AF_INET if net.version == 4 else socket.AF_INET6
    dst = None if net.prefixlen == 0 else socket.inet_ntop(family, net.network_address.packed)  # the default: no RTA_DST
    assert network_text(family, dst, net.prefixlen) == net.compressed
