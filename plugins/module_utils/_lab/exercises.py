# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exercises: the lab built up to a stage of its seed, and faults injected for break-and-fix.

A stage and a set of faults are an ordinary state of the lab: topology.lab_topology applies them to the
items of every module call (what a later stage adds is absent; a fault is the lab's own state, changed),
so a run with the same stage and faults changes nothing and a run without the faults repairs the lab.
What each stage makes reachable (the seed's expectations) is decided here too: :func:`expected`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

if TYPE_CHECKING:
    from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address, IPv6Interface, IPv6Network
    from typing import Any

#: the steps of each seed, in the seed's order (docs/EXERCISES.md tells what each builds)
STAGES = {
    "seed002": ("netns", "bridge", "veth", "route", "forward", "masquerade", "service", "publish"),
    "seed000": ("netns", "veth", "bridge", "route", "masquerade", "forward"),
}
SEEDS = tuple(STAGES)

#: the faults, each with whether it needs a namespace (and which kind of namespace it defaults to)
FAULTS = {
    "no-default-route": "namespace", "no-forwarding": None, "no-masquerade": None, "no-dnat": "published",
    "forward-drop": None, "port-detached": "namespace", "link-down": "namespace", "wrong-gateway": "namespace",
    "service-stopped": "service", "bridge-route-conflict": "namespace",
}


def stage_list(seed: str) -> tuple:
    return STAGES[seed]


def parse_stage(seed: Any, stage: Any) -> tuple[str, str]:
    """(seed, stage) checked: nslab_seed is seed002 (the default) or seed000; nslab_stage one of its steps
    (default: the last, the whole lab)."""
    seed = seed or "seed002"
    if seed not in STAGES:
        raise Invalid("nslab_seed", f"{seed!r} is not a seed: choose one of {', '.join(SEEDS)}")
    stages = STAGES[seed]
    stage = stage or stages[-1]
    if stage not in stages:
        raise Invalid("nslab_stage", f"{stage!r} is not a stage of {seed}: choose one of {', '.join(stages)} "
                                     "(in that order; each includes the ones before it)")
    return seed, stage


def parse_goal(seed: str, stage: str, goal: Any) -> str:
    """nslab_goal: the stage the student must reach (default: the seed's last, the whole lab); never one before
    the stage handed out (nslab_stage)."""
    stages = STAGES[seed]
    goal = goal or stages[-1]
    if goal not in stages:
        raise Invalid("nslab_goal", f"{goal!r} is not a stage of {seed}: choose one of {', '.join(stages)} "
                                    "(the stage the student must reach; default: the whole lab)")
    if stages.index(goal) < stages.index(stage):
        raise Invalid("nslab_goal", f"{goal!r} comes before the stage handed out (nslab_stage {stage}): a goal is "
                                    f"that stage (the teacher's dry check of a hand-out) or a later one")
    return goal


def built(seed: str, stage: str) -> set:
    """The parts of the lab present at ``stage``: the stages up to it; what the seed has no stage for
    (seed 000 has no service or publish step) comes with its last stage."""
    stages = STAGES[seed]
    done = set(stages[:stages.index(stage) + 1])
    if stage == stages[-1]:
        done |= set(STAGES["seed002"])
    # the ports: seed 002 attaches each veth to the bridge as it makes it; seed 000 only at its bridge step
    if "veth" in done and "bridge" in done:
        done.add("ports")
    return done


def parse_faults(value: Any, namespaces: list, published: list, services: list) -> list[dict]:
    """nslab_faults: a list of fault names (or a comma-separated string of them), or of {fault, namespace};
    [{fault, namespace}] checked. A fault that
    concerns one namespace defaults to the first of nslab_namespaces (no-dnat: the first published port's,
    service-stopped: the first demo service's)."""
    if value in (None, ""):
        return []
    if isinstance(value, str):          # -e nslab_faults=no-forwarding,link-down
        value = [name.strip() for name in value.split(",") if name.strip()]
    if not isinstance(value, list):
        raise Invalid("nslab_faults", "must be a list of fault names (or of {fault, namespace})")
    names = [ns["name"] for ns in namespaces]
    out, seen = [], set()
    for index, entry in enumerate(value):
        opt = f"nslab_faults[{index}]"
        entry = dict(fault=entry) if isinstance(entry, str) else entry
        if not isinstance(entry, dict) or set(entry) - {"fault", "namespace"}:
            raise Invalid(opt, "must be a fault name or a dictionary with the keys fault and namespace")
        fault = entry.get("fault")
        if fault not in FAULTS:
            raise Invalid(f"{opt}", f"{fault!r} is not a fault: choose one of {', '.join(FAULTS)}")
        kind, ns = FAULTS[fault], entry.get("namespace")
        if kind is None and ns is not None:
            raise Invalid(f"{opt}.namespace", f"{fault} concerns the whole lab host, not one namespace")
        if kind is not None:
            entries = published if kind == "published" else services
            pool: list[Any] = names if kind == "namespace" else [e.get("namespace") for e in entries if isinstance(e, dict)]
            if not pool:
                what = "nslab_namespaces" if kind == "namespace" else (
                    "nslab_published_ports" if kind == "published" else "nslab_demo_services")
                raise Invalid(opt, f"{fault} needs an entry in {what}, and it has none")
            ns = ns if ns is not None else pool[0]
            if ns not in pool:
                raise Invalid(f"{opt}.namespace", f"{ns!r} is not one of the namespaces {fault} can concern "
                                                  f"({', '.join(dict.fromkeys(pool))})")
        if (fault, ns) in seen:
            raise Invalid(opt, f"{fault} is given twice")
        seen.add((fault, ns))
        out.append(dict(fault=fault, namespace=ns))
    return out


def faulted(faults: list, fault: str) -> set:
    """The namespaces a fault is injected for (``{None}`` for a whole-host fault)."""
    return {f["namespace"] for f in faults if f["fault"] == fault}


def unused_address(gateway: IPv4Interface | IPv6Interface, namespaces: list,
                   network: IPv4Network | IPv6Network | None = None) -> IPv4Address | IPv6Address:
    """The highest host address of ``network`` (default: the lab subnet) used by neither the gateway nor a namespace."""
    network = network or gateway.network
    used = {str(gateway.ip)} | {ns["address"] for ns in namespaces}
    addr = network.broadcast_address - 1
    while str(addr) in used:
        addr -= 1
    return addr


def conflict_address(gateway: IPv4Interface | IPv6Interface, namespaces: list) -> str:
    """bridge-route-conflict: an address on a bridge port whose subnet route is more specific than the bridge's,
    so it wins for the namespaces in it as seed 000's veth1 route won (the kernel takes the first of two equal
    routes, and on a built lab the bridge's came first)."""
    if gateway.network.prefixlen > 29:
        raise Invalid("nslab_faults", f"bridge-route-conflict needs a lab subnet of /29 or wider (the gateway is {gateway})")
    half = next(net for net in gateway.network.subnets(prefixlen_diff=1) if gateway.ip in net)
    return f"{unused_address(gateway, namespaces, half)}/{half.prefixlen}"


def seed000_host_address(gateway: IPv4Interface | IPv6Interface, index: int, namespaces: list) -> str:
    """Seed 000 before its bridge: the host end of the i-th veth addressed in the lab subnet (172.20.0.1, .2, ...)."""
    addr = gateway.network.network_address + index + 1
    if addr == gateway.ip or str(addr) in {ns["address"] for ns in namespaces}:
        raise Invalid("nslab_stage", f"seed000's veth stage addresses the host end of each veth as the seed does "
                                     f"({addr}/{gateway.network.prefixlen}), but {addr} is the gateway's or a namespace's")
    return f"{addr}/{gateway.network.prefixlen}"


#: what each fact needs built, by the seed's order (a probe's fact -> the parts it needs)
NEEDS: dict[str | None, tuple[str, ...]] = {
    "host -> namespace": ("ports",),
    "namespace -> host": ("ports", "route"),
    "namespace -> namespace": ("ports",),
    "namespace -> uplink": ("ports", "route", "forward"),
    "namespace -> internet": ("ports", "route", "forward", "masquerade"),
    "namespace -> published port": ("ports", "route", "forward", "service", "publish"),
    "outside -> published port": ("ports", "route", "forward", "service", "publish"),
}


def first_stage(lab: dict, probe: dict) -> str | None:
    """The first stage of the lab's seed at which the probe gets through on a healthy lab (None: none)."""
    return next((stage for stage in STAGES[lab["seed"]] if expected(lab, probe, built(lab["seed"], stage))), None)


def reached(stages: list, fact_stages: dict, results: list) -> str | None:
    """The last stage of ``stages`` that makes a fact get through and up to which every fact does (``fact_stages``:
    probe name -> the first stage that makes it get through, :func:`first_stage`); a stage that makes no fact of
    its own (the namespaces, the bridge of seed 002) is never claimed. None when no such stage is reached."""
    done = None
    for index, stage in enumerate(stages):
        needed = [r for r in results if r.get("name") in fact_stages and fact_stages[r["name"]] is not None
                  and stages.index(fact_stages[r["name"]]) <= index]
        if not all(r.get("ok") for r in needed):
            break
        if any(fact_stages.get(r.get("name")) == stage for r in needed):
            done = stage
    return done


def expected(lab: dict, probe: dict, done: set | None = None) -> bool:
    """Whether the probe gets through on a healthy lab at its stage, or with ``done`` (the parts built at the goal)
    at that one (faults do not change what is expected)."""
    done = lab["built"] if done is None else done
    needs = NEEDS.get(probe.get("fact"), ())
    if all(part in done for part in needs):
        return True
    # seed 000 before the bridge: each namespace reached from the host by its own veth's address, but the first
    # /16 route (veth1's) hides the others - the seed's 'NOT required to read' passage
    if lab["seed"] == "seed000" and probe.get("fact") == "host -> namespace" and "veth" in done and "ports" not in done:
        return probe.get("target") == lab["namespaces"][0]["address"]
    return False
