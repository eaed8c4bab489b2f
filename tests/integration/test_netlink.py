"""The collection's own netlink requests (module_utils/_host/writer.py) and its decoders (decode.py),
against pyroute2's IPRoute and pyroute2's own message decoding on the real kernel, in a sandbox: the same
requests must get the same answers and leave the same state, and what they made - links, addresses, routes (a
multipath one too) - must read the same through both decoders. The neighbour dump and delete are proved end to
end by test_neighbours.py. It runs with the managed Python of the cell (pyroute2 0.9 here, 0.7.2 in
matrix-managed-py39)."""

from __future__ import annotations

import json
import os

from nslabtest import COLLECTIONS, PYTHON

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "netlink_calls.py")


def test_the_writer_and_the_link_decoder_agree_with_pyroute2(sandbox):
    out = json.loads(sandbox.run([PYTHON, SCRIPT], env=dict(os.environ, PYTHONPATH=COLLECTIONS)).stdout)
    iproute, writer = out["iproute"], out["writer"]
    assert writer["answers"] == iproute["answers"]
    answers = dict(writer["answers"])
    # the answers the engine maps: made, exists, missing
    assert answers["add veth with an mtu"] == 0 and answers["hairpin on"] == 0
    assert answers["add a link that exists"] == 17 and answers["add the address again"] == 17
    assert answers["delete a missing route"] == 3 and answers["delete a missing address"] == 99
    assert answers["delete it again"] == 19 and answers["set a missing link"] == 19
    for when in (writer["middle"], writer):
        other = iproute["middle"] if when is writer["middle"] else iproute
        for key in ("links", "addresses", "routes"):
            assert when[key] == other[key], key
    # what the requests made, as the collection's decoders read it, and pyroute2's decoders alike
    for state in (iproute["middle"], writer["middle"], iproute, writer):
        assert {key: state[key] for key in ("links", "addresses", "routes")} == state["decoded"]
    middle = {link["name"]: link for link in writer["middle"]["links"]}
    assert middle["br0"]["alias"] == "nslab:lab ünïcode" and middle["br0"]["up"] and middle["br0"]["kind"] == "bridge"
    assert middle["v0"]["master"] == middle["br0"]["index"] and middle["v0"]["hairpin"] is True
    assert middle["v1"]["master"] is None and middle["v1"]["hairpin"] is None and middle["v1"]["mtu"] == 1400
    assert middle["p1"]["mtu"] == 1300 and middle["p1"]["peer_index"] == middle["v1"]["index"]
    assert middle["v0"]["alias"] == "nslab:lab peer=p0@-" and middle["v1"]["up"]
    end = {link["name"]: link for link in writer["links"]}
    assert end["lo"]["alias"] == "nslab:lab" and end["lo"]["up"] and end["lo"]["loopback"]
    assert "v0" not in end and "p0" not in end
    assert any('"dst": "10.6.0.0/16"' in route for route in writer["middle"]["routes"])
    assert any('"hops": [5, 5]' in route for route in writer["middle"]["routes"])           # the multipath route
    assert any('"type": 6' in route for route in writer["middle"]["routes"])                 # the blackhole
    assert ["5", "10.8.0.1/32"] in [[str(index), cidr] for index, cidr in writer["middle"]["addresses"]]
    assert not any('"dst": "10.6.0.0/16"' in route for route in writer["routes"])
