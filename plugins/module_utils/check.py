# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lab_check: the lab's facts measured (probe.py) against what its stage expects (exercises.py), and each one
that is not as expected explained (diagnose.py). Reads only."""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils import probe
from ansible_collections.nslab.net.plugins.module_utils import session as nsmod
from ansible_collections.nslab.net.plugins.module_utils import topology
from ansible_collections.nslab.net.plugins.module_utils.diagnose import explain_all
from ansible_collections.nslab.net.plugins.module_utils.engine import require_pyroute2
from ansible_collections.nslab.net.plugins.module_utils.validate import Invalid

SPEC = dict(topology=dict(type="dict", required=True), internet=dict(type="dict"),
            results=dict(type="list", elements="dict"))


def check(module: AnsibleModule, session) -> dict:
    """The facts of the lab host (or the ``results`` given) with the causes of those not as expected."""
    from ansible_collections.nslab.net.plugins.module_utils.readers import read_uplink

    lab = topology.lab_topology(module.params["topology"])
    uplink = read_uplink(session.reader(None))
    if lab["uplink_address"]:
        uplink["address"] = lab["uplink_address"]

    def resend(given: dict) -> dict:        # the capture sends a probe again
        return probe.run_probe(module, session, given)

    outside = []
    if module.params["results"] is None:
        probes = topology.probes(lab, module.params["internet"] or None)
        results = measure(module, session, probes["host"], uplink["address"])
        outside = topology.with_uplink(probes["outside"], uplink["address"])
    else:                                    # sent from the outside client, not from here: no capture
        results = [dict(r, as_expected=bool(r.get("ok")) == (r.get("expected", True) is not False))
                   for r in module.params["results"]]
    results = explain_all(module, session, lab, uplink, results, resend if module.params["results"] is None else None)
    return dict(changed=False, results=results, outside=outside, uplink=uplink, stage=lab["stage"], faults=lab["faults"],
                as_expected=all(r["as_expected"] for r in results))


def measure(module: AnsibleModule, session, probes: list, address: str | None) -> list:
    """The probes' results, in their order; a probe from a namespace that does not exist (deleted by hand) is NOT
    reachable, for the diagnosis to say so, rather than an error of the whole check."""
    gone = [p.get("netns") is not None and not nsmod.ns_exists(p["netns"]) for p in probes]
    ran = iter(probe.measure(module, session, [p for p, g in zip(probes, gone) if not g], address)["results"]
               if not all(gone) else [])
    return [dict(p, ok=False, detail=f"namespace {p['netns']} does not exist", ms=None, attempts=0,
                 as_expected=p.get("expected") is False) if g else next(ran)
            for p, g in zip(topology.with_uplink(probes, address), gone)]


def main(module: AnsibleModule) -> None:
    require_pyroute2(module, "lab_check needs")
    session = nsmod.Session()
    try:
        result = check(module, session)
    except Invalid as exc:
        module.fail_json(msg=str(exc), changed=False)
    except Exception as exc:
        module.fail_json(msg=f"unexpected error: {type(exc).__name__}: {exc}", changed=False,
                         exception=traceback.format_exc())
    finally:
        session.close()
    module.exit_json(**result)
