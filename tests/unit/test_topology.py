# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' topology check: errors name the nslab_ variable the user set and what it takes."""

from __future__ import annotations

import pytest

from ansible_collections.nslab.net.plugins.filter.topology import lab_topology as lab_topology_filter
from ansible_collections.nslab.net.plugins.module_utils.topology import lab_topology
from ansible_collections.nslab.net.plugins.module_utils.validate import Invalid

NETNS1 = {"name": "netns1", "address": "192.168.0.2"}


def topo(**kw):
    return dict(dict(bridge="br0", gateway="192.168.0.1/16", namespaces=[NETNS1]), **kw)


@pytest.mark.parametrize("kw, words", [
    (dict(namespaces=[{"name": "netns1", "adress": "192.168.0.2"}]),
     "nslab_namespaces[0].adress: is not a key of nslab_namespaces entries (they take name, address, veth, peer)"),
    (dict(namespaces=["netns1"]), "nslab_namespaces[0]: must be a dictionary with the keys name, address, veth, peer"),
    (dict(published_ports=[{"namespace": "netns1", "port": 80, "proto": "tcp"}]),
     "nslab_published_ports[0].proto: is not a key of nslab_published_ports entries (they take namespace, port, "
     "target_port, protocol)"),
    (dict(demo_services=[{"namespace": "netns1", "port": 80, "bind": "x"}]),
     "nslab_demo_services[0].bind: is not a key of nslab_demo_services entries (they take namespace, port)"),
    (dict(gateway="192.168.0.0/16"), "nslab_gateway: 192.168.0.0/16 is the subnet's network address, not a host "
                                     "address: the bridge's address with the prefix, e.g. 192.168.0.1/16"),
    (dict(gateway="10.0.0.255/24"), "nslab_gateway: 10.0.0.255/24 is the subnet's broadcast address"),
])
def test_wrong_variables_are_named_with_what_they_take(kw, words):
    with pytest.raises(Invalid) as exc:
        lab_topology(topo(**kw))
    assert str(exc.value).startswith(words)


def test_the_filter_returns_the_error_for_the_role_to_fail_with():
    assert lab_topology_filter(topo(gateway="192.168.0.0/16"), "return") == {
        "error": "nslab_gateway: 192.168.0.0/16 is the subnet's network address, not a host address: the bridge's "
                 "address with the prefix, e.g. 192.168.0.1/16"}
    assert lab_topology_filter(topo(), "return")["netns"] == [{"name": "netns1"}]
