# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""From one topology description to the item lists of every module call.

The egress and ingress roles describe a lab once (namespaces, bridge, gateway,
published ports, demo services) and make one module call per resource type
with the lists computed here. Errors name the role variable at fault.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.nslab.net.plugins.module_utils._lab import exercises as ex
from ansible_collections.nslab.net.plugins.module_utils._nat import firewalls
from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid
from ansible_collections.nslab.net.plugins.module_utils._host.errors import known

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

UPLINK = "{uplink}"      # in a probe: the lab host's uplink address, read at the time (or uplink_address)
SUBSTITUTED = ("name", "target", "expect")


def with_uplink(probes: list, address: str | None) -> list:
    """The probes with ``{uplink}`` in their name, target and expect replaced by ``address``."""
    if address is None:
        return probes
    return [{k: (val.replace(UPLINK, address) if k in SUBSTITUTED and isinstance(val, str) else val)
             for k, val in p.items()} if isinstance(p, dict) else p for p in probes]


def uses_uplink(probes: list) -> bool:
    return any(isinstance(p, dict) and any(UPLINK in str(p.get(k, "")) for k in SUBSTITUTED) for p in probes)


WWW_ROOT = "/run/nslab/www"
#: seconds a published port's probe from a namespace keeps trying (a refused or unreachable connection): ns_service
#: returns once a demo service listens, but a lab's services may be started by hand or by another play
SERVICE_TIMEOUT = 5
#: seconds a probe the stage expects NOT to get through is given (it is not retried until a service starts)
UNEXPECTED_TIMEOUT = 1
#: the default lab (seed 002's network plus netns2); the roles' defaults are the same (a unit test holds them equal)
DEFAULTS = dict(
    lab="nslab", bridge="br0", gateway="192.168.0.1/16", dns=["127.0.0.1"], egress=True, nat_backend="auto", firewall="integrate", persist=False,
    uplink_interface="", uplink_address="",
    namespaces=[dict(name="netns1", address="192.168.0.2", veth="veth0", peer="ceth0"),
                dict(name="netns2", address="192.168.0.3", veth="veth1", peer="ceth1")],
    published_ports=[dict(namespace="netns1", port=5000, target_port=5000, protocol="tcp")],
    demo_services=[dict(namespace="netns1", port=5000)], demo_user="nobody",
    seed="seed002", stage=None, goal=None, faults=[],
)

#: the keys of each entry of the list variables (a misspelled key is an error that lists these)
KEYS = {
    "nslab_namespaces": ("name", "address", "veth", "peer"),
    "nslab_published_ports": ("namespace", "port", "target_port", "protocol"),
    "nslab_demo_services": ("namespace", "port", "token"),
}


def _entries(topo: dict, key: str, var: str) -> Iterator[tuple[int, str, dict]]:
    """(option name, entry) of a list variable, each a dictionary with only the keys it takes."""
    for index, entry in enumerate(topo.get(key) or []):
        opt = f"{var}[{index}]"
        if not isinstance(entry, dict):
            raise Invalid(opt, f"must be a dictionary with the keys {', '.join(KEYS[var])}")
        unknown = sorted(str(k) for k in entry if k not in KEYS[var])
        if unknown:
            raise Invalid(f"{opt}.{unknown[0]}", f"is not a key of {var} entries (they take {', '.join(KEYS[var])})")
        yield index, opt, entry


def _namespaces(topo: dict, gateway: ipaddress.IPv4Interface | ipaddress.IPv6Interface) -> list[dict]:
    out: list[dict] = []
    names: dict[str, int] = {}
    addresses: dict[str, int] = {}
    links: dict[str, str] = {}
    for index, opt, ns in _entries(topo, "namespaces", "nslab_namespaces"):
        name = v.netns_name(f"{opt}.name", v.required(f"{opt}.name", ns.get("name")))
        address = v.address(f"{opt}.address", v.required(f"{opt}.address", ns.get("address")))
        name, address = known(name), known(address)     # both required
        addr = ipaddress.ip_address(address)
        if addr not in gateway.network or addr in (gateway.ip, gateway.network.network_address,
                                                   gateway.network.broadcast_address):
            raise Invalid(f"{opt}.address", f"{addr} must be a host address in the lab subnet {gateway.network} "
                          f"other than the gateway {gateway.ip} (nslab_gateway)")
        veth = v.ifname(f"{opt}.veth", ns.get("veth") or f"v{name}"[:15])
        peer = v.ifname(f"{opt}.peer", ns.get("peer") or "ceth0")
        for key, table, what in ((name, names, "name"), (str(addr), addresses, "address")):
            if key in table:
                raise Invalid(f"{opt}.{what}", f"{key} is also used by nslab_namespaces[{table[key]}]")
            table[key] = index
        if veth in links or veth == topo["bridge"]:
            raise Invalid(f"{opt}.veth", f"{veth} is also used by {links.get(veth, 'nslab_bridge')}")
        links[veth] = f"nslab_namespaces[{index}]"
        out.append(dict(name=name, address=str(addr), veth=veth, peer=peer))
    return out


def _gateway(value: Any) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    """The bridge's address with the lab subnet's prefix (nslab_gateway)."""
    gateway = ipaddress.ip_interface(v.interface("nslab_gateway", value))
    if gateway.version != 4:
        raise Invalid("nslab_gateway", "the lab subnet is IPv4 (NAT egress and DNAT ingress are IPv4 here)")
    net = gateway.network
    if net.prefixlen < 31 and gateway.ip in (net.network_address, net.broadcast_address):
        what = "network" if gateway.ip == net.network_address else "broadcast"
        raise Invalid("nslab_gateway", f"{gateway} is the subnet's {what} address, not a host address: the "
                                       f"bridge's address with the prefix, e.g. {net.network_address + 1}/{net.prefixlen}")
    return gateway


def _switch(opt: str, value: Any) -> bool:
    """A yes/no variable as Ansible reads one (``-e nslab_egress=false`` is the string 'false')."""
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise Invalid(opt, f"{value!r} is not a boolean (true/false, yes/no, 1/0)") from None


#: what to set instead of a default list entry that names a namespace the lab does not have
_OVERRIDE = {"nslab_published_ports": "nslab_published_ports (with nslab_demo_services for the services behind them)",
             "nslab_demo_services": "nslab_demo_services"}


def _member(by_name: dict, opt: str, entry: dict, default: bool = False) -> dict:
    """The namespace an entry names (its ``namespace``), which must be one of the lab's; ``default``: the entry is the
    default lab's (its variable unset), which the error says, naming the variable that overrides it."""
    ns = by_name.get(v.required(f"{opt}.namespace", entry.get("namespace")))
    if ns is None:
        names = ", ".join(by_name) or "none"
        if default:
            var = opt.split("[", 1)[0]
            raise Invalid(f"{opt}.namespace", f"{entry.get('namespace')!r} is not one of nslab_namespaces ({names}): "
                          f"this is the default lab's entry, used because {var} is not set; set {_OVERRIDE[var]} for "
                          "your namespaces, or [] for none")
        raise Invalid(f"{opt}.namespace", f"{entry.get('namespace')!r} is not one of nslab_namespaces ({names})")
    return ns


def _published(topo: dict, by_name: dict, defaulted: set | frozenset = frozenset()) -> list[dict]:
    """nslab_published_ports: one port per entry, each protocol/port once."""
    published: list[dict] = []
    seen: dict[tuple[str, int], int] = {}
    for index, opt, pub in _entries(topo, "published_ports", "nslab_published_ports"):
        ns = _member(by_name, opt, pub, "published_ports" in defaulted)
        proto = v.choice(f"{opt}.protocol", pub.get("protocol", "tcp"), ("tcp", "udp"))
        port = v.port(f"{opt}.port", v.required(f"{opt}.port", pub.get("port")))
        port = known(port)     # required
        if port[0] != port[1]:
            raise Invalid(f"{opt}.port", "publish one port per entry")
        target_ports = v.port(f"{opt}.target_port", pub.get("target_port") or port[0])
        target_ports = known(target_ports)     # never empty
        target = target_ports[0]
        if (proto, port[0]) in seen:
            raise Invalid(f"{opt}.port", f"{proto}/{port[0]} is already published by "
                                         f"nslab_published_ports[{seen[(proto, port[0])]}]")
        seen[(proto, port[0])] = index
        published.append(dict(namespace=ns["name"], address=ns["address"], protocol=proto, port=port[0],
                              target_port=target, veth=ns["veth"]))
    return published


def _dnat(published: list, uplink_addr: str | None, subnet: str, bridge: str) -> list[dict]:
    """DNAT of each published port on the uplink address, and its NAT loopback."""
    out, on_uplink = [], (dict(destination=uplink_addr) if uplink_addr else dict(uplink=True))
    for pub in published:
        out.append(dict(type="dnat", protocol=pub["protocol"], port=pub["port"], **on_uplink,
                        to=f"{pub['address']}:{pub['target_port']}", comment=f"publish {pub['namespace']}"))
        # NAT loopback: a namespace reaching the published port by the uplink address gets its
        # answer back through the host, so the reply is translated too
        out.append(dict(type="masquerade", source=subnet, destination=f"{pub['address']}/32", out_interface=bridge,
                        protocol=pub["protocol"], port=pub["target_port"], comment=f"hairpin {pub['namespace']}"))
    return out


def _demos(topo: dict, by_name: dict, defaulted: set | frozenset = frozenset()) -> list[tuple[dict, int, str | None]]:
    """nslab_demo_services, each entry checked once: (its namespace, its port, its token or None). A token (nslab_variant
    gives each student's its own) is the word the service's page shows, which the published port's probes expect."""
    demos: list[tuple[dict, int, str | None]] = []
    for _index, opt, svc in _entries(topo, "demo_services", "nslab_demo_services"):
        ns = _member(by_name, opt, svc, "demo_services" in defaulted)
        ports = v.port(f"{opt}.port", v.required(f"{opt}.port", svc.get("port")))
        ports = known(ports)    # required
        port = ports[0]
        token = None if svc.get("token") in (None, "") else str(svc["token"])
        if token is not None and not (token.isascii() and token.replace("-", "").isalnum() and len(token) <= 32):
            raise Invalid(f"{opt}.token", f"{token!r} must be 1-32 ASCII letters, digits or '-'")
        demos.append((ns, port, token))
    return demos


def demo_directory(netns: str, port: int) -> str:
    """The directory a demo service serves (its page, index.html)."""
    return f"{WWW_ROOT}/{netns}-{port}"


def demo_command(python: str, address: str, netns: str, port: int) -> list[str]:
    """A demo service's command, as the lab runs it and as the check's hint has a student type it."""
    return [python, "-m", "http.server", "--bind", address, "--directory", demo_directory(netns, port), str(port)]


def demo_service(services: list, netns: str, port: int) -> dict | None:
    """The lab's demo service of ``netns`` on ``port`` among ``services`` (lab_topology's), None when it runs none."""
    return next((s for s in services if s["netns"] == netns and s["command"][-1] == str(port)), None)


def _services(topo: dict, demos: list) -> list[dict]:
    """nslab_demo_services: python3 -m http.server in a namespace, with its page (and its token, if it has one)."""
    return [dict(name=f"demo-{ns['name']}-{port}", netns=ns["name"], directory=demo_directory(ns["name"], port),
                 user=topo.get("demo_user") or DEFAULTS["demo_user"],     # root only when asked
                 command=demo_command(topo.get("demo_python") or "python3", ns["address"], ns["name"], port),
                 index=f"nslab demo service in {ns['name']} ({ns['address']}:{port})\n"
                       + (f"token {token}\n" if token else ""))
            for ns, port, token in demos]


def lab_topology(topo: dict) -> dict:
    """Validate a topology and return the items of every module call. A key given as None (or '') takes the
    default lab's value (DEFAULTS: the lab playbook passes the nslab_ variables that are unset so); a
    missing list is empty, a missing label, resolver list, backend or egress switch the default's."""
    defaulted = {key for key, val in topo.items() if val in (None, "") and key in DEFAULTS}
    topo = {key: (DEFAULTS[key] if val in (None, "") and key in DEFAULTS else val)    # ansible-core < 2.19: none is ''
            for key, val in topo.items()}
    for key in ("lab", "dns", "nat_backend", "firewall", "egress", "persist"):
        topo.setdefault(key, DEFAULTS[key])
    bridge = v.ifname("nslab_bridge", topo.get("bridge"))
    topo = dict(topo, bridge=bridge)
    gateway = _gateway(topo.get("gateway"))
    subnet = gateway.network.with_prefixlen
    namespaces = _namespaces(topo, gateway)
    by_name = {ns["name"]: ns for ns in namespaces}
    uplink_if = topo.get("uplink_interface") or None
    uplink_addr = topo.get("uplink_address") or None
    if uplink_addr:
        uplink_addr = v.address("nslab_uplink_address", uplink_addr)
        uplink_addr = known(uplink_addr)      # not empty
        if ipaddress.ip_address(uplink_addr) in gateway.network:
            raise Invalid("nslab_uplink_address", f"{uplink_addr} lies inside the lab subnet {subnet}")
    published = _published(topo, by_name, defaulted)
    demos = _demos(topo, by_name, defaulted)
    hairpin = list(dict.fromkeys(pub["veth"] for pub in published))
    egress = _switch("nslab_egress", topo["egress"])
    for key, choices in (("state", ("present", "absent")), ("requirements", ("check", "install", "skip"))):
        if topo.get(key) not in (None, ""):     # the lab playbook's; the roles check their own
            v.choice(f"nslab_{key}", topo[key], choices)
    seed, stage = ex.parse_stage(topo.get("seed"), topo.get("stage"))
    lab = dict(
        lab=v.lab("nslab_lab", topo["lab"]), dns=topo["dns"], nat_backend=topo["nat_backend"],
        firewall=v.choice("nslab_firewall", topo["firewall"], firewalls.MODES),
        egress=egress, persist=_switch("nslab_persist", topo["persist"]), gateway_interface=str(gateway),
        # nslab_reset: the re-staging also removes the routes and rules made by hand that touch the lab
        reset=_switch("nslab_reset", topo.get("reset") or False),
        subnet=subnet, gateway=str(gateway.ip), bridge=bridge, uplink_interface=uplink_if, uplink_address=uplink_addr,
        seed=seed, stage=seed_stage(seed, stage), built=sorted(ex.built(seed, stage)),
        goal=seed_stage(seed, ex.parse_goal(seed, stage, topo.get("goal"))),
        faults=ex.parse_faults(topo.get("faults"), namespaces, published, topo.get("demo_services") or []),
        published=published, namespaces=namespaces,
    )
    return _build(lab, topo, gateway, namespaces, hairpin, demos)


def seed_stage(seed: str, stage: str) -> dict:
    stages = ex.stage_list(seed)
    return dict(name=stage, index=stages.index(stage), stages=list(stages), last=stage == stages[-1])


def _build(lab: dict, topo: dict, gateway: ipaddress.IPv4Interface | ipaddress.IPv6Interface, namespaces: list, hairpin: list, demos: list) -> dict:
    """The item lists of the lab at its stage, with its faults (exercises.py) as the lab's own state."""
    done, faults, prefix, bridge = lab["built"], lab["faults"], gateway.network.prefixlen, lab["bridge"]
    by_name = {ns["name"]: ns for ns in namespaces}

    def hit(fault: str) -> set:
        return ex.faulted(faults, fault)
    services = [s for s in _services(topo, demos) if "service" in done and s["netns"] not in hit("service-stopped")]
    tokens = {(ns["name"], port): token for ns, port, token in demos if token}
    for pub in lab["published"]:    # the lab's own page behind the port shows its token: the probes expect it (a
        token = tokens.get((pub["namespace"], pub["target_port"]))   # service a student starts serves no such page)
        if token and demo_service(services, pub["namespace"], pub["target_port"]):
            pub["expect"] = f"token {token}"
    host_addr = {}
    if "veth" in done and "ports" not in done:          # seed 000 before its bridge
        host_addr = {ns["name"]: [ex.seed000_host_address(gateway, i, namespaces)] for i, ns in enumerate(namespaces)}
    for name in hit("bridge-route-conflict"):
        host_addr[name] = host_addr.get(name, []) + [ex.conflict_address(gateway, namespaces)]
    wrong = str(ex.unused_address(gateway, namespaces))
    routes = [dict(netns=ns["name"], dst="default", gateway=wrong if ns["name"] in hit("wrong-gateway") else str(gateway.ip))
              for ns in namespaces if ns["name"] not in hit("no-default-route")] if "route" in done else []
    routed = {route["netns"] for route in routes}
    detached = hit("port-detached")
    egress = lab["egress"] and not hit("no-masquerade")
    published = [p for p in lab["published"] if "publish" in done and p["namespace"] not in hit("no-dnat")]
    uplink_if = lab["uplink_interface"]
    lab.update(
        netns=[dict(name=ns["name"]) for ns in namespaces],
        veth=[dict(name=ns["veth"], peer=ns["peer"], peer_netns=ns["name"], address=host_addr.get(ns["name"], []),
                   peer_address=[f"{ns['address']}/{prefix}"], **(dict(up=False) if ns["name"] in hit("link-down") else {}))
              for ns in namespaces] if "veth" in done else [],
        bridged="bridge" in done,
        ports=[dict(port=ns["veth"]) for ns in namespaces if "ports" in done and ns["name"] not in detached],
        routes=routes,
        # the default routes the stage or a fault leaves out (purge looks only in the namespaces the items name)
        unrouted=[dict(netns=ns["name"], dst="default") for ns in namespaces if ns["name"] not in routed],
        # net.ipv4.ip_forward: 1 from the forward stage on (0 with the no-forwarding fault), 0 before it, as a fresh
        # VM has it; None: the step is left out (nslab_egress false)
        forwarding=(0 if hit("no-forwarding") or "forward" not in done else 1) if lab["egress"] else None,
        # without a given uplink, nat_rule takes it from the default route on the host (uplink: true)
        masquerade=([dict(type="masquerade", source=lab["subnet"], comment="egress",
                          **(dict(out_interface=uplink_if) if uplink_if else dict(uplink=True)))]
                    if egress and "masquerade" in done else []),
        # bridged traffic between the lab's namespaces passes FORWARD when br_netfilter's
        # bridge-nf-call-iptables is on (Docker hosts): accept it there, ahead of a DROP policy
        forward=([dict(type="forward", in_interface=bridge, out_interface=bridge, comment="bridged")] if "ports" in done else [])
        + ([dict(type="drop", in_interface=bridge, comment="bridged drop")] if hit("forward-drop") else []),
        # two links of the lab in one subnet: seed 000's veth stage (the host end of each veth addressed in the lab
        # subnet, the routing conflict the seed shows) and the bridge-route-conflict fault; refused anywhere else
        overlap=bool(host_addr),
        hairpin=[dict(port=p, hairpin=True) for p in hairpin
                 if "publish" in done and not any(by_name[n]["veth"] == p for n in detached)],
        dnat=_dnat(published, lab["uplink_address"], lab["subnet"], bridge),
        services=services,
        demo_names=[f"demo-{ns['name']}-{port}" for ns, port, _token in demos],     # nslab_demo_services' order
    )
    return lab


def probes(lab: dict, internet: dict | None, judge: str = "stage") -> dict:
    """The connectivity probes of the report: the lab host's, and the outside client's. ``judge``: what each is
    expected to do - ``stage``: what the lab built at its stage makes reachable, and nothing more (lab.yml's report);
    ``goal``: what the student's goal needs (check.yml, grade.yml), each other fact measured but not graded
    (``graded: false``: going past the goal is never a failure)."""
    namespaces = lab["namespaces"]
    host, outside = [], []
    uplink = lab["uplink_address"] or UPLINK      # ns_probe puts the address it reads in place of UPLINK
    for ns in namespaces:
        host.append(dict(name=f"host -> {ns['name']}", fact="host -> namespace", target=ns["address"]))
        host.append(dict(name=f"{ns['name']} -> host", fact="namespace -> host", netns=ns["name"],
                         target=uplink or lab["gateway"]))
    for a, b in zip(namespaces, namespaces[1:] + namespaces[:1]):
        if a is not b:
            host.append(dict(name=f"{a['name']} -> {b['name']}", fact="namespace -> namespace", netns=a["name"],
                             target=b["address"]))
    if internet:
        for ns in namespaces:      # the seed's forward step: the packets leave by the uplink (no answer yet)
            host.append(dict(name=f"{ns['name']} -> uplink", fact="namespace -> uplink", netns=ns["name"],
                             target=internet["target"], kind="forwarded"))
        for ns in namespaces:
            probe = dict(name=f"{ns['name']} -> internet", fact="namespace -> internet", netns=ns["name"],
                         target=internet["target"], kind=internet.get("kind", "ping"))
            if probe["kind"] != "ping":
                probe["port"] = internet.get("port", 80)
            if internet.get("expect_source") and uplink:
                probe["expect"] = f"seen-from {uplink}"
            host.append(probe)
    for pub in lab["published"]:
        if not uplink:
            continue
        kind = "http" if pub["protocol"] == "tcp" else None
        if kind is None:
            continue
        others = [ns for ns in namespaces if ns["name"] != pub["namespace"]] or namespaces
        expect = dict(expect=pub["expect"]) if pub.get("expect") else {}
        if f"demo-{pub['namespace']}-{pub['target_port']}" not in lab.get("demo_names", ()):
            expect["when_refused"] = (
                f"nothing serves {pub['namespace']}'s {pub['address']}:{pub['target_port']}, which "
                f"nslab_published_ports[{lab['published'].index(pub)}] publishes: nslab_demo_services has no service "
                f"there - add {{namespace: {pub['namespace']}, port: {pub['target_port']}}} to it, or start your own")
        host.append(dict(name=f"{others[0]['name']} -> {uplink}:{pub['port']}", fact="namespace -> published port",
                         netns=others[0]["name"], target=uplink, kind="http", port=pub["port"],
                         timeout=SERVICE_TIMEOUT, **expect))
        outside.append(dict(name=f"outside -> {uplink}:{pub['port']}", fact="outside -> published port",
                            target=uplink, kind="http", port=pub["port"], **expect))
    at_goal = ex.built(lab["seed"], lab["goal"]["name"]) if judge == "goal" else None
    for probe in host + outside:     # what the seed expects at the lab's stage, or at the goal (exercises.py)
        probe["expected"] = ex.expected(lab, probe, at_goal)
        if not probe["expected"]:        # nothing to wait for (a fact the stage does not have yet)
            probe["timeout"] = UNEXPECTED_TIMEOUT
            if judge == "goal":
                probe["graded"] = False
    return dict(host=host, outside=outside)
