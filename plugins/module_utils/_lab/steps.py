# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's module calls as batch steps: egress (built first), ingress, teardown (withdrawn in reverse), each step
with its ``about`` (the nslab_ variable each entry comes from, for errors in the user's words); what a lab persists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._lab.topology import probes

if TYPE_CHECKING:
    from typing import Any, Callable


def _reset(lab: dict, nat: bool = False) -> dict:
    """The ``reset`` of the calls that remove what was made by hand, given only when nslab_reset is true: ns_route's
    in the lab's namespaces; nat_rule's (the egress call's, which runs first: one plan lists each rule once) for
    what matches the lab's subnet or its bridge, at any stage."""
    if not lab.get("reset"):
        return {}
    return dict(reset=[lab["subnet"], lab["bridge"]]) if nat else dict(reset=True)


def _about(items: list, words: Callable[[Any], str | None]) -> dict:
    """A step's ``about`` (batch.py): each entry of its items in the words of the variable entry it comes from
    (``words(item)``; None: no word for it)."""
    return {f"items[{i}]": said for i, said in ((i, words(item)) for i, item in enumerate(items)) if said}


class Words:
    """The words of the nslab_ variable entries a step's items come from, each looked up once per lab: a scan of the
    lab's lists for every item made the steps of N namespaces cost N² lookups (each, under ansible-core 2.19 and
    later, a lazy template's access: seconds at N=200)."""

    def __init__(self, lab: dict):
        self.namespaces: dict[str, int] = {}
        self.veths: dict[str | None, str] = {}
        for index, ns in enumerate(lab["namespaces"]):
            self.namespaces.setdefault(ns["name"], index)
            self.veths.setdefault(ns["veth"], ns["name"])
        self.published: dict[tuple, str] = {}      # the first entry that matches, as a scan finds it
        for index, pub in enumerate(lab.get("published") or []):
            said = f"nslab_published_ports[{index}] ({pub['protocol']}/{pub['port']} to {pub['namespace']})"
            self.published.setdefault(("dnat", pub["protocol"], pub["port"]), said)
            self.published.setdefault(("masquerade", pub["protocol"], f"{pub['address']}/32", pub["target_port"]), said)
        self.demos: dict[str, int] = {}
        for index, name in enumerate(lab.get("demo_names") or []):
            self.demos.setdefault(name, index)

    def namespace(self, name: str) -> str:
        index = self.namespaces.get(name)
        return f"nslab_namespaces[{index}] ({name})" if index is not None else f"the namespace {name}"

    def port(self, item: dict) -> str:
        """A bridge port: the veth of the namespace it belongs to, else the bridge itself (its address)."""
        name = self.veths.get(item.get("port"))
        return self.namespace(name) + "'s veth on nslab_bridge" if name is not None else "nslab_bridge"

    def published_port(self, item: dict) -> str | None:
        """The nslab_published_ports entry a DNAT rule or its NAT loopback comes from."""
        if item["type"] == "dnat":
            return self.published.get(("dnat", item.get("protocol"), item.get("port")))
        if item["type"] == "masquerade":
            return self.published.get(("masquerade", item.get("protocol"), item.get("destination"), item.get("port")))
        return None

    def service(self, item: dict) -> str | None:
        index = self.demos.get(item["name"])
        return f"nslab_demo_services[{index}] ({item['netns']}, port {item['command'][-1]})" if index is not None else None


def _overlap(lab: dict) -> dict:
    """veth's and bridge_port's ``allow_overlap``, given only where the lab makes two of its links share a subnet."""
    return dict(allow_overlap=True) if lab.get("overlap") else {}


def _egress_steps(lab: dict) -> list[dict]:
    """The egress role's module calls (seed 002's commands in the comments)."""
    label, words = lab["lab"], Words(lab)
    return [
        # ip netns add NAME; ip -n NAME link set lo up; a resolver that fails fast
        dict(module="netns", args=dict(lab=label, items=lab["netns"], dns=lab["dns"], purge=True),
             about=dict(_about(lab["netns"], lambda item: words.namespace(item["name"])), dns="nslab_dns")),
        # ip link add vethX type veth peer name cethX netns NAME; ip -n NAME addr add ADDR dev cethX
        dict(module="veth", args=dict(lab=label, items=lab["veth"], purge=True, **_overlap(lab)),
             about=_about(lab["veth"], lambda item: words.namespace(item["peer_netns"]) + "'s veth pair")),
        # ip link add br0 type bridge; ip addr add GATEWAY dev br0; ip link set vethX master br0
        dict(module="bridge_port", args=dict(lab=label, bridge=lab["bridge"], purge=True, **_overlap(lab),
                                             items=([dict(address=[lab["gateway_interface"]])] + lab["ports"])
                                             if lab["bridged"] else []),
             about=dict(_about([{}] + lab["ports"], words.port), bridge="nslab_bridge",
                        **{"items[0].address": "nslab_gateway"})),
        # ip netns exec NAME ip route add default via GATEWAY (nslab_reset: and ip route del what was made by hand)
        dict(module="ns_route", args=dict(lab=label, items=lab["routes"], purge=True, **_reset(lab)),
             about=_about(lab["routes"], lambda item: f"{words.namespace(item['netns'])}'s default route via "
                                                      f"nslab_gateway {lab['gateway']}")),
        # sysctl -w net.ipv4.ip_forward=1
        dict(module="ns_sysctl", enabled=lab["forwarding"] is not None, args=dict(name="net.ipv4.ip_forward",
                                                                                  value=lab["forwarding"])),
        # iptables -t nat -A POSTROUTING -s SUBNET -o UPLINK -j MASQUERADE (+ bridged traffic accepted)
        dict(module="nat_rule", args=dict(lab=label, backend=lab["nat_backend"], firewall=lab["firewall"], purge=True,
                                          items=lab["masquerade"] + lab["forward"], **_reset(lab, nat=True)),
             about=_about(lab["masquerade"] + lab["forward"], lambda item: (
                 f"the MASQUERADE of nslab_gateway's subnet {lab['subnet']} (nslab_egress)" if item["type"] == "masquerade"
                 else "nslab_bridge"))),
        # the default routes an earlier stage or a fault leaves out (ip route del default): removed last, so the
        # steps before keep the numbers they always had
        dict(module="ns_route", enabled=bool(lab["unrouted"]), args=dict(lab=label, state="absent", items=lab["unrouted"])),
    ]


def _ingress_steps(lab: dict) -> list[dict]:
    """The ingress role's module calls: demo services, hairpin, DNAT on the uplink address."""
    label, words = lab["lab"], Words(lab)
    return [
        # ip netns exec NAME python3 -m http.server --bind ADDR PORT, supervised (its page written first)
        dict(module="ns_service", args=dict(lab=label, items=lab["services"], purge=True),
             about=_about(lab["services"], words.service)),
        # bridge link set dev vethX hairpin on
        dict(module="bridge_port", enabled=bool(lab["hairpin"]),
             args=dict(lab=label, bridge=lab["bridge"], items=lab["hairpin"]),
             about=dict(bridge="nslab_bridge")),
        # iptables -t nat -A PREROUTING -d UPLINK -p tcp --dport PORT -j DNAT --to-destination ADDR:PORT
        dict(module="nat_rule", args=dict(lab=f"{label}-in", backend=lab["nat_backend"], firewall=lab["firewall"],
                                          purge=True, items=lab["dnat"]),
             about=_about(lab["dnat"], words.published_port)),
    ]


def _teardown_steps(label: str, part: str) -> list[dict]:
    """Everything the lab made, and nothing else: purge with an empty list removes all of it."""
    if part == "ingress":        # services stopped, published ports withdrawn
        return [dict(module="ns_service", args=dict(lab=label, items=[], purge=True)),
                dict(module="nat_rule", args=dict(lab=f"{label}-in", items=[], purge=True))]
    return [dict(module=name, args=dict(lab=label, items=[], purge=True))    # rules, veths, bridges, namespaces
            for name in ("nat_rule", "veth", "bridge_port", "netns")]


def persist(lab: dict, part: str = "lab", state: str = "present") -> dict:
    """The batch's ``persist`` for a role (``part`` egress or ingress) or the whole lab (``lab``): saved
    for boot when the lab is present with nslab_persist true, removed otherwise (teardown, or false)."""
    keep = state == "present" and lab.get("persist", False)
    return dict(lab=lab["lab"], part=part, state="present" if keep else "absent")


def steps(lab: dict, part: str = "lab", state: str = "present", measure: dict | None = None) -> list[dict]:
    """The nslab.net.batch steps of a role (``part`` egress or ingress) or of the whole lab (``lab``:
    egress then ingress, removed in the reverse order), then, when ``measure`` is given (the internet
    target, or {}), the report's probes from the lab host as an ns_probe step.
    ``lab`` is lab_topology's result; removing needs only its ``lab`` label."""
    parts = ["egress", "ingress"] if part == "lab" else [part]
    if state == "absent":
        return [step for name in reversed(parts) for step in _teardown_steps(lab["lab"], name)]
    out = [step for name in parts for step in (_egress_steps(lab) if name == "egress" else _ingress_steps(lab))]
    if measure is not None:
        out.append(dict(module="ns_probe", args=dict(probes=probes(lab, measure or None)["host"])))
    return out
