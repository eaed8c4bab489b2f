"""The lab's facts checked with pytest-testinfra against a fleet inventory, by the module playbooks/check.yml runs
(nslab.net.lab_check): one implementation of the facts and their causes. A test per lab host and fact; a fact not
as expected fails with its cause and the hint that fixes it.

    pytest -p no:cacheprovider --hosts='ansible://nslab_lab' --ansible-inventory=inventory.yml \\
        molecule/exercises/tests/test_lab.py

Needs ANSIBLE_COLLECTIONS_PATH to find nslab.net (make lab sets up .cache/collections) and root on the lab hosts
(the inventory's ansible_user root, or ansible_become); the outside client is the host's nslab_outside_client
(default localhost)."""

from __future__ import annotations

import json

import pytest
import testinfra

FACTS = ("host -> namespace", "namespace -> host", "namespace -> namespace", "namespace -> uplink",
         "namespace -> internet", "namespace -> published port", "outside -> published port")
TOPOLOGY = "{{ hostvars[inventory_hostname] | nslab.net.lab_variables }}"
_CHECKED: dict = {}


def _module(host, name: str, args: dict) -> dict:
    result = host.ansible(name, json.dumps(args), check=False)
    assert not result.get("failed"), f"{name} failed on {host.backend.get_pytest_id()}: {result.get('msg')}"
    return result


def checked(host) -> list:
    """The host's facts (lab_check), with the outside client's probes of its published ports, explained; once per host."""
    key = host.backend.get_pytest_id()
    if key not in _CHECKED:
        variables = host.ansible.get_variables()
        internet = variables.get("nslab_report_internet")
        result = _module(host, "nslab.net.lab_check", dict(topology=TOPOLOGY, **({"internet": internet} if internet else {})))
        results = result["results"]
        if result["outside"]:
            client = testinfra.get_host(f"ansible://{variables.get('nslab_outside_client') or 'localhost'}",
                                        ansible_inventory=host.backend.ansible_inventory)
            outside = _module(client, "nslab.net.ns_probe", dict(probes=result["outside"]))["results"]
            if not all(r["as_expected"] for r in outside):
                outside = _module(host, "nslab.net.lab_check", dict(topology=TOPOLOGY, results=outside))["results"]
            results = results + outside
        _CHECKED[key] = results
    return _CHECKED[key]


@pytest.mark.parametrize("fact", FACTS)
def test_fact_is_as_the_seed_expects(host, fact):
    probes = [r for r in checked(host) if r["fact"] == fact]
    if not probes:
        pytest.skip(f"the lab has no probe of {fact}")
    wrong = [r for r in probes if not r["as_expected"]]
    assert not wrong, "\n".join(
        f"{r['name']}: {'reachable' if r['ok'] else 'NOT reachable'} (expected {'' if r['expected'] else 'NOT '}reachable)"
        f"\n  cause: {r.get('cause') or r.get('detail')}\n  hint:  {r.get('hint') or '-'}" for r in wrong)
