# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lab_check: the lab's facts measured (probe.py) against what its stage expects (exercises.py), and each one
that is not as expected explained (diagnose.py). Reads only."""

from __future__ import annotations


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._report import probe
from ansible_collections.nslab.net.plugins.module_utils._host import session as nsmod
from ansible_collections.nslab.net.plugins.module_utils._lab import topology
from ansible_collections.nslab.net.plugins.module_utils._report.diagnose import explain_all
from ansible_collections.nslab.net.plugins.module_utils._engine.engine import read_only
from ansible_collections.nslab.net.plugins.module_utils._lab.exercises import built, first_stage
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

SPEC = dict(topology=dict(type="dict", required=True), internet=dict(type="dict"),
            results=dict(type="list", elements="dict"), record=dict(type="str", choices=["use", "ignore"], default="use"),
            hints=dict(type="bool", default=True), host=dict(type="str"), picture=dict(type="bool", default=False))

#: what the record holds besides the lab's variables, and the words a mismatch uses for them
_HANDED = ("seed", "stage", "goal")


def with_record(topo: dict, record: dict | None) -> dict:
    """The topology to check: the variables given (``topo``, None where unset) with the host's hand-out record
    (record.py) filling the unset ones. A variable given that disagrees with the record is an error saying so -
    the host has another lab than the one asked about, which no fault explains."""
    if record is None:
        return topo
    recorded = dict(record.get("variables") or {}, **{key: record.get(key) for key in _HANDED})
    differ = [key for key, val in recorded.items()
              if topo.get(key) not in (None, "") and val not in (None, "") and topo[key] != val]
    if differ:
        handed = f"{record.get('seed')} stage {record.get('stage')}, goal {record.get('goal')}"
        asked = ", ".join(f"nslab_{key}={topo[key]!r}" for key in differ)
        raise Invalid("nslab_" + differ[0], f"this host was handed {handed} (its record {record_path(record)}); "
                      f"you asked about {asked}, which it was not handed. Check it as handed out (leave "
                      f"{', '.join('nslab_' + key for key in differ)} unset), or hand it out again with lab.yml")
    return dict(topo, **{key: val for key, val in recorded.items() if topo.get(key) in (None, "")})


def record_path(record: dict) -> str:
    from ansible_collections.nslab.net.plugins.module_utils._persist.record import path

    return path(record.get("lab") or "nslab")


def check(module: AnsibleModule, session: nsmod.Session) -> dict:
    """The facts of the lab host (or the ``results`` given) with the causes of those not as expected."""
    from ansible_collections.nslab.net.plugins.module_utils._host.readers import read_uplink

    from ansible_collections.nslab.net.plugins.module_utils._persist import record

    given = dict(module.params["topology"])
    handed = record.read(given.get("lab") or "nslab") if module.params["record"] == "use" else None
    lab = dict(topology.lab_topology(with_record(given, handed)), host=module.params["host"])
    # the goal decides what is graded; a goal equal to the stage handed out is the teacher's dry check of the
    # hand-out: every fact as the stage makes it, later ones NOT reachable
    judge = "stage" if lab["goal"]["name"] == lab["stage"]["name"] else "goal"
    if judge == "goal" and module.params["results"] is None and not module.params["internet"] \
            and "forward" in built(lab["seed"], lab["goal"]["name"]) and "forward" not in lab["built"]:
        raise Invalid("nslab_report_internet", f"the goal {lab['goal']['name']} needs the forwarding and internet "
                      "facts, and they need an internet target to probe: set nslab_report_internet (for example "
                      "{target: 198.51.100.10, kind: http, port: 80}, an address outside the lab that answers); "
                      "without it every student would pass those steps unchecked")
    uplink = read_uplink(session)
    if lab["uplink_address"]:
        uplink["address"] = lab["uplink_address"]

    def resend(given: dict) -> dict:        # the capture sends a probe again
        return probe.run_probe(session, given)

    outside, fact_stages = [], {}
    if module.params["results"] is None:
        probes = topology.probes(lab, module.params["internet"] or None, judge)
        results = measure(session, probes["host"], uplink["address"])
        outside = topology.with_uplink(probes["outside"], uplink["address"])
        # the stage that first makes each fact get through: the stage a student reached, read from the results
        fact_stages = {p["name"]: first_stage(lab, p) for p in results + outside}
    else:                                    # sent from the outside client, not from here: no capture
        results = [dict(r, as_expected=bool(r.get("ok")) == (r.get("expected", True) is not False)
                        or r.get("graded") is False) for r in module.params["results"]]
    results = explain_all(session, lab, uplink, results, resend if module.params["results"] is None else None)
    if not module.params["hints"]:           # nslab_hints: false - the teacher withholds them
        results = [{k: val for k, val in r.items() if k != "hint"} for r in results]
    out = dict(changed=False, results=results, outside=outside, uplink=uplink, stage=lab["stage"], goal=lab["goal"],
               seed=lab["seed"], recorded=handed is not None, faults=lab["faults"], fact_stages=fact_stages,
               as_expected=all(r["as_expected"] for r in results),
               host_checks=record.checks_run(lab["lab"], lab["goal"]["name"]))
    if module.params["picture"]:
        out["picture"] = picture(module, session, lab)
    return out


def picture(module: AnsibleModule, session: nsmod.Session, lab: dict) -> dict:
    """The lab as it is on the host, as graph.py models it (the class page draws it): the host (its lab links,
    bridges, uplink, this collection's rules) and the lab's namespaces that exist; ``error`` when it cannot be read."""
    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Context
    from ansible_collections.nslab.net.plugins.module_utils._report.graph import model
    from ansible_collections.nslab.net.plugins.module_utils._report.info import namespace_info
    from ansible_collections.nslab.net.plugins.module_utils._host.readers import uplink_of

    try:
        ctx = Context(module, lab["lab"], session, check_mode=True)
        names = [ns["name"] for ns in lab["namespaces"] if nsmod.ns_exists(ns["name"])]
        info = [namespace_info(ctx, None, True)] + [namespace_info(ctx, name, False) for name in names]
        return model(dict(info=info, uplink=uplink_of(info[0])), module.params["host"] or "lab")
    except Exception as exc:  # noqa: BLE001 - the check's facts stand without their picture
        return dict(error=f"{type(exc).__name__}: {exc}")


def measure(session: nsmod.Session, probes: list, address: str | None) -> list:
    """The probes' results, in their order; a probe from a namespace that does not exist (deleted by hand) is NOT
    reachable, for the diagnosis to say so, rather than an error of the whole check."""
    gone = [p.get("netns") is not None and not nsmod.ns_exists(p["netns"]) for p in probes]
    ran = iter(probe.measure(session, [p for p, g in zip(probes, gone) if not g], address)["results"]
               if not all(gone) else [])
    return [dict(p, ok=False, detail=f"namespace {p['netns']} does not exist", ms=None, attempts=0,
                 as_expected=p.get("expected") is False or p.get("graded") is False) if g else next(ran)
            for p, g in zip(topology.with_uplink(probes, address), gone)]


def main(module: AnsibleModule) -> None:
    read_only(module, lambda session: check(module, session), "lab_check needs")
