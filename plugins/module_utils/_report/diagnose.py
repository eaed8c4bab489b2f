# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why a fact is not as expected: the lab host inspected the way the seeds do it, changing nothing.

For a probe that failed where its stage expects it through, the checks follow the packet's path - each
namespace on it (its cable, the bridge port, the host's route to it), the route out of the sending namespace
(``ip route get``), forwarding, the FORWARD chain, the NAT rules, the service's socket - and the first that
finds something wrong is the cause, with the seed's command that fixes it as the hint. When the state alone
does not tell, the probe is sent again while tcpdump (without promiscuous mode) watches the bridge and the
uplink, to say where the packets stop. Used by the lab_check module (playbooks/check.yml, and testinfra)."""

from __future__ import annotations

import ipaddress
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._host.tools import command, which
from ansible_collections.nslab.net.plugins.module_utils._host import session as nsmod
from ansible_collections.nslab.net.plugins.module_utils._resources.ports import copy_of, held_by, local_address
from ansible_collections.nslab.net.plugins.module_utils._lab.topology import demo_command, demo_directory, demo_service
from ansible_collections.nslab.net.plugins.module_utils._report.hostview import HostView

if TYPE_CHECKING:
    from ipaddress import IPv4Network, IPv6Network
    from typing import Callable


FORWARDED = ("namespace -> uplink", "namespace -> internet", "namespace -> published port", "outside -> published port")
PUBLISHED = ("namespace -> published port", "outside -> published port")
#: /proc/net/tcp: the state of a listening socket
TCP_LISTEN = "0A"
#: seconds tcpdump watches the hops while the probe is sent again
CAPTURE_SECONDS = 2
#: the end of an interface name in iptables-save / nft text (br0, not br0.10 or br-1a2b)
_END = r'(?=[\s"]|$)'


class Finding(Exception):
    """The cause of a fact not as expected, with the hint (a command that fixes it) and what was read."""

    def __init__(self, cause: str, hint: str):
        super().__init__(cause)
        self.cause, self.hint = cause, hint


class Diagnosis(HostView):
    """The causes of one lab host's facts (``lab``: lab_topology's result; ``uplink``: read by the probes)."""

    # ------------------------------------------------------------ the checks
    def namespace_path(self, name: str) -> None:
        """A lab namespace's cable: its peer up with its address, the host end up, a port of the bridge; the bridge
        up with the gateway; and the host's route to the namespace out of the bridge."""
        ns = self.by_name[name]
        veth = dict(name=ns["veth"], peer=ns["peer"])
        if not nsmod.ns_exists(name):
            raise Finding(f"the namespace {name} does not exist (deleted, with its end of the cable)",
                          f"ip netns add {name} (then its veth pair and routes, as the seed does; or re-run playbooks/lab.yml)")
        recreate = f"ip link add {veth['name']} type veth peer name {veth['peer']} netns {name}"
        peer = self.links(name).get(veth["peer"])
        if peer is None:
            raise Finding(f"{name} has no {veth['peer']}: the veth pair to the bridge is missing", recreate)
        cidr = f"{ns['address']}/{self.prefix}"
        if not peer["up"]:
            raise Finding(f"{veth['peer']} in {name} is DOWN", f"ip netns exec {name} ip link set {veth['peer']} up")
        if cidr not in self.addresses(name, peer):
            raise Finding(f"{veth['peer']} in {name} does not have its address {cidr}",
                          f"ip netns exec {name} ip addr add {cidr} dev {veth['peer']}")
        end = self.links(None).get(veth["name"])
        if end is None:
            raise Finding(f"the host end {veth['name']} of {name}'s veth pair is missing", recreate)
        if not end["up"]:
            self.note(f"ip link show {veth['name']}: state DOWN; {veth['peer']} in {name}: NO-CARRIER (LOWERLAYERDOWN)")
            raise Finding(f"{veth['name']}, the host end of {name}'s cable, is DOWN: {veth['peer']} has no carrier "
                          "(seed 002: LOWERLAYERDOWN until the other side is up)", f"ip link set {veth['name']} up")
        if "ports" in self.lab["built"]:     # seed 000 before its bridge: the veth's own address and route
            self.bridge_path(name, end)
        self.host_route(name)

    def bridge_path(self, name: str, end: dict) -> None:
        """The namespace's cable plugged into the bridge, the bridge up with the gateway address."""
        ns, lab, br = self.by_name[name], self.lab, self.lab["bridge"]
        veth = dict(name=ns["veth"], peer=ns["peer"])
        bridge = self.links(None).get(br)
        masters = {link["index"]: n for n, link in self.links(None).items()}
        if bridge is None:
            raise Finding(f"the bridge {br} does not exist", f"ip link add {br} type bridge; ip link set {br} up")
        if end["master"] != bridge["index"]:
            self.note(f"bridge link show {br}: no {veth['name']} (its master: {masters.get(end['master'], 'none')})")
            raise Finding(f"{veth['name']} is not a port of {br}: {name}'s cable is not plugged into the bridge",
                          f"ip link set {veth['name']} master {br}")
        if not bridge["up"]:
            raise Finding(f"the bridge {br} is DOWN", f"ip link set {br} up")
        if lab["gateway_interface"] not in self.addresses(None, bridge):
            raise Finding(f"the bridge {br} does not have the gateway address {lab['gateway_interface']}",
                          f"ip addr add {lab['gateway_interface']} dev {br}")
        self.note(f"{ns['veth']}: up, a port of {br}; {br}: up with {lab['gateway_interface']}")

    def host_route(self, name: str) -> None:
        """The host's route to the namespace: out of the bridge (before seed 000's bridge: out of its own veth)."""
        ns, br = self.by_name[name], self.lab["bridge"]
        want = br if "ports" in self.lab["built"] else ns["veth"]
        route = self.route_get(None, ns["address"])
        if route is not None and route["dev"] == want:
            return
        dev = route and route["dev"]
        self.note(f"ip route get {ns['address']}: {f'dev {dev}' if dev else 'unreachable'} (not {want})")
        want = f"the bridge {br}" if want == br else want
        veths = {other["veth"] for other in self.lab["namespaces"]}
        extra = [a for a in (self.addresses(None, self.links(None)[dev]) if dev in self.links(None) else [])
                 if ipaddress.ip_address(ns["address"]) in ipaddress.ip_interface(a).network]
        if dev in veths and extra:           # an address on another cable of the lab: seed 000's mistake
            raise Finding(f"the host sends to {ns['address']} ({name}) out of {dev}, not {want}: {dev}'s address "
                          f"{extra[0]} makes a route that wins over {want.split()[-1]}'s (seed 000: the route through veth1 that "
                          "hides veth2)", f"ip addr del {extra[0]} dev {dev}")
        raise Finding(f"the host sends to {ns['address']} ({name}) {f'out of {dev}' if dev else 'nowhere'}, not {want}: "
                      f"another route covers the lab subnet (a subnet of {dev or 'the host'} overlapping "
                      f"{self.lab['subnet']}?)", f"ip route get {ns['address']}; ip route")

    def default_route(self, name: str, target: str, what: str = "") -> None:
        """The sending namespace's route to a target outside the lab subnet: the default route via the gateway."""
        route = self.route_get(name, target)
        gateway = self.lab["gateway"]
        what = what or target
        if route is None:
            self.note(f"ip netns exec {name} ip route get {target}: Network is unreachable")
            raise Finding(f"{name} has no route to {what} (Network is unreachable): it has no default route "
                          "(seed 002: the route table has no information to send the packet out)",
                          f"ip netns exec {name} ip route add default via {gateway}")
        if route["gateway"] != gateway:
            state = self.neighbour(name, route["gateway"]) if route["gateway"] else "none"
            self.note(f"ip netns exec {name} ip route get {target}: via {route['gateway']} dev {route['dev']}; "
                      f"ip neigh: {route['gateway']} {state}")
            raise Finding(f"{name}'s default route is via {route['gateway']}, but the lab's gateway (the bridge "
                          f"{self.lab['bridge']}) is {gateway}: nobody answers for {route['gateway']} (neighbour {state})",
                          f"ip netns exec {name} ip route replace default via {gateway}")

    def forwarding(self) -> None:
        value = self.read("/proc/sys/net/ipv4/ip_forward")
        self.note(f"net.ipv4.ip_forward = {value}")
        if value == "0":
            raise Finding(f"IP forwarding is off (net.ipv4.ip_forward = 0): packets reach {self.lab['bridge']} but the "
                          f"host does not forward them to {self.uplink.get('interface') or 'the uplink'} (seed 002: "
                          "tcpdump sees them on br0, not on eth0)", "sysctl -w net.ipv4.ip_forward=1")

    def forward_chain(self, bridged: bool) -> None:
        """A FORWARD policy DROP nothing opens for the bridge's traffic (``bridged``: between its ports; otherwise
        routed in or out of it), or a drop rule for the bridge's traffic."""
        br = self.lab["bridge"]
        on_br = rf"-[io] {re.escape(br)}{_END}"
        text = self.saved("iptables-save")
        filter_table = text.split("*filter", 1)[1].split("COMMIT", 1)[0] if "*filter" in text else ""
        drops = [line for line in filter_table.splitlines()
                 if re.search(r" -j (DROP|REJECT)\b", line) and re.search(on_br, line)]
        fix = f"iptables -I FORWARD -i {br} -j ACCEPT; iptables -I FORWARD -o {br} -j ACCEPT"
        if drops:
            self.note(f"iptables-save -t filter: {drops[0]}")
            raise Finding(f"a FORWARD rule drops the traffic of {br}: {_rule_text(drops[0])}", fix)
        policy = re.search(r"^:FORWARD (\w+)", filter_table, re.M)
        both = re.compile(rf"-i {re.escape(br)}{_END}.*-o {re.escape(br)}{_END}")     # bridged traffic only
        accepts = [line for line in filter_table.splitlines()
                   if re.match(r"-A (FORWARD|NSLAB-FWD) ", line) and line.endswith(" -j ACCEPT")
                   and (re.search(on_br, line) or self.in_subnet(line) or line.startswith("-A NSLAB-FWD "))
                   and (bridged or not both.search(line))]
        if policy and policy.group(1) == "DROP" and not accepts:
            self.note("iptables-save -t filter: :FORWARD DROP, no ACCEPT for " + br)
            raise Finding(f"the FORWARD policy is DROP (as Docker sets it) and no rule accepts the traffic of {br} "
                          "(seed 000: check if there is forward policy set to drop, iptables -L -v)", fix)
        nft = [line.strip() for line in self.saved("nft").splitlines()
               if re.search(rf'iifname "{re.escape(br)}" .*\bdrop\b', line)]
        if nft:
            self.note(f"nft list ruleset: {nft[0]}")
            raise Finding(f"an nftables rule drops the traffic of {br}: {nft[0]}",
                          f'nft insert rule inet nslab forward_filter iifname "{br}" accept')

    def masquerade(self) -> None:
        subnet = ipaddress.ip_network(self.lab["subnet"])
        for line in self.saved("iptables-save").splitlines() + self.saved("nft").splitlines():
            if self.translates(line, subnet):
                self.note(f"source NAT: {line.strip()}")
                return
        self.note(f"iptables-save -t nat / nft list ruleset: no MASQUERADE or SNAT for {subnet}")
        raise Finding(f"nothing translates the lab's private source addresses ({subnet}): packets leave "
                      f"{self.uplink.get('interface') or 'the uplink'} from a private address and the answers have no way back "
                      "(seed 002: why I can not access the internet through a private IP)",
                      f"iptables -t nat -A POSTROUTING -s {subnet} ! -o {self.lab['bridge']} -j MASQUERADE")

    def in_subnet(self, line: str) -> bool:
        """Whether a rule matches a source or destination inside the lab subnet."""
        subnet = ipaddress.ip_network(self.lab["subnet"])
        for found in re.findall(r"(?<!! )-[sd] (\S+)", line):
            try:
                if ipaddress.ip_network(found, strict=False).overlaps(subnet):
                    return True
            except (ValueError, TypeError):
                continue
        return False

    def translates(self, line: str, subnet: IPv4Network | IPv6Network) -> bool:
        """Whether a MASQUERADE or SNAT rule (iptables-save or nft text) translates the lab's traffic to the internet:
        from the lab subnet (or any source), out of the uplink (or any interface but the bridge), to any destination."""
        if not re.search(r"-j (MASQUERADE|SNAT)\b|\b(masquerade|snat (ip )?to)\b", line) \
                or re.search(r"(-d |daddr |! -s|saddr !=|--src-type|ip6 )", line):
            return False
        out = re.search(r'(!)? ?(?:-o |oifname (!= )?)"?([\w.@-]+)"?', line)
        if out and not (out.group(1) or out.group(2)) and out.group(3) != self.uplink.get("interface"):
            return False                     # out of another interface (docker0...)
        source = re.search(r"(?:-s |ip saddr )(\S+)", line)
        if source is None:
            return True
        try:
            network = ipaddress.ip_network(source.group(1), strict=False)
        except ValueError:                   # a set, a negation...
            return False
        return network.version == 4 and subnet.subnet_of(network)  # type: ignore[arg-type]  # the lab subnet is IPv4

    def dnat(self, pub: dict, from_namespace: bool) -> None:
        to = f"{pub['address']}:{pub['target_port']}"
        uplink = self.lab["uplink_address"] or self.uplink.get("address") or "UPLINK"
        rules = self.saved("iptables-save").splitlines() + self.saved("nft").splitlines()
        found = [line for line in rules if re.search(rf"(DNAT --to-destination|dnat (ip )?to) {re.escape(to)}\b", line)
                 and re.search(rf"dport {pub['port']}\b", line)]
        dnat = (f"iptables -t nat -A PREROUTING -d {uplink} -p {pub['protocol']} --dport {pub['port']} "
                f"-j DNAT --to-destination {to}")
        loopback = (f"iptables -t nat -A POSTROUTING -s {self.lab['subnet']} -d {pub['address']}/32 -p {pub['protocol']} "
                    f"--dport {pub['target_port']} -j MASQUERADE")
        if not found:
            self.note(f"iptables-save -t nat / nft list ruleset: no DNAT of {pub['protocol']}/{pub['port']} to {to}")
            raise Finding(f"nothing translates {uplink}:{pub['port']} to {pub['namespace']}'s {to} (no DNAT: seed 002, "
                          "reach NS1 from outside)", f"{dnat}; {loopback}" if from_namespace else dnat)
        self.note(f"DNAT: {found[0].strip()}")
        if from_namespace and not any(re.search(rf"(-d |daddr ){re.escape(pub['address'])}(/32)?\b", line)
                                      and re.search(r"MASQUERADE|masquerade", line) for line in rules):
            raise Finding(f"no NAT loopback for {to}: {pub['namespace']} answers another namespace directly, not through "
                          f"the host, so the answer does not come from {uplink}:{pub['port']}", loopback)

    def service(self, pub: dict) -> None:
        name, addr, port = pub["namespace"], pub["address"], pub["target_port"]
        with self.session.entered(name):
            table = self.read("/proc/thread-self/net/tcp") or ""
            other = held_by(port, addr)
        # the demo service as the lab runs it (its user, its command); the lab's list leaves it out at a stage before
        # the service or with the service-stopped fault, and the same command is then the student's to start
        svc = demo_service(self.lab.get("services") or [], name, port)
        user = svc["user"] if svc else "nobody"
        demo = demo_command("python3", addr, name, port)
        if other and not copy_of(other["command"], demo):
            self.note(f"ip netns exec {name} ss -ltnp: port {port} held by PID {other['pid']} ({other['command']})")
            raise Finding(f"port {port} in {name} is held by PID {other['pid']} ({other['command']}), not the lab's "
                          "demo service, which cannot listen there", f"kill {other['pid']}")
        listening = []
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[3] == TCP_LISTEN:
                local, hexport = fields[1].rsplit(":", 1)
                listening.append((local_address(local), int(hexport, 16)))
        if not any(p == port and a in (addr, "0.0.0.0") for a, p in listening):
            self.note(f"ip netns exec {name} ss -ltn: {', '.join(f'{a}:{p}' for a, p in listening) or 'nothing listens'}")
            # in the background: the student types it and goes on working; lab.yml stops this copy and starts its own
            # at the next hand-out
            raise Finding(f"nothing listens on {addr}:{port} in {name}: the service is not running",
                          f"mkdir -p {demo_directory(name, port)}; ip netns exec {name} setsid runuser -u {user} -- "
                          f"{' '.join(demo)} >/dev/null 2>&1 < /dev/null &")

    # ------------------------------------------------------------ a fact
    def explain(self, result: dict, rerun: Callable[[dict], dict] | None) -> dict:
        """``result`` with ``cause``, ``hint`` and ``evidence`` (``rerun(probe)`` sends the probe again, for the capture)."""
        self.evidence = []
        try:
            if result["ok"]:
                self.too_soon(result)
            else:
                self.path(result)
                if rerun is not None:
                    self.capture(result, rerun)
                cause, hint = "not found: the lab host's state is as the lab wants it", "tcpdump -ni any"
        except Finding as found:
            cause, hint = found.cause, found.hint
        return dict(result, cause=cause, hint=hint, evidence=list(self.evidence))

    def too_soon(self, result: dict) -> None:
        """A fact that gets through before its stage: name what on this host does a later stage's work."""
        stage = self.lab["stage"]["name"]
        fact = result.get("fact")
        if fact in ("namespace -> uplink", "namespace -> internet") and "forward" not in self.lab["built"] \
                and self.read("/proc/sys/net/ipv4/ip_forward") == "1":
            self.note("net.ipv4.ip_forward = 1")
            raise Finding(f"IP forwarding is on (net.ipv4.ip_forward = 1), set outside the lab: stage {stage} is "
                          "before the forwarding step, which the student is to do", "sysctl -w net.ipv4.ip_forward=0")
        if fact == "namespace -> internet" and "masquerade" not in self.lab["built"]:
            subnet = ipaddress.ip_network(self.lab["subnet"])
            for line in self.saved("iptables-save").splitlines():
                if self.translates(line, subnet) and line.startswith("-A ") and "nslab" not in line:
                    self.note(f"iptables-save -t nat: {line}")
                    raise Finding(f"this rule, made outside the lab, does the masquerade stage's work before stage "
                                  f"{stage}: {_rule_text(line)}", "iptables -t nat -D " + _rule_text(line)[len("-A "):])
        host = self.lab.get("host") or "THIS_HOST"
        seed = self.lab["seed"]
        seed_opt = f" -e nslab_seed={seed}" if seed != "seed002" else ""
        raise Finding(f"reachable, but the seed does not expect it at stage {stage}: something on this host does what a "
                      "later stage would (a route, a rule or forwarding set outside the lab: ip route, iptables-save, "
                      "nft list ruleset)",
                      f"ansible-playbook playbooks/lab.yml --limit {host} -e nslab_stage={stage}{seed_opt} -e nslab_reset=true "
                      "(with the lab's own variables: it rebuilds the lab at the checkpoint and removes the routes and "
                      "rules made by hand that touch it)")

    def path(self, result: dict) -> None:
        fact, src, target = result.get("fact"), result.get("netns"), result["target"]
        pub = next((p for p in self.lab["published"] if p["port"] == result.get("port")), None) if fact in PUBLISHED else None
        ends = [n for n in (src, self.by_address.get(target, {}).get("name"), pub and pub["namespace"]) if n in self.by_name]
        for name in dict.fromkeys(ends):
            self.namespace_path(name)
        if src in self.by_name and ipaddress.ip_address(target) not in ipaddress.ip_network(self.lab["subnet"]):
            self.default_route(src, target)
        if fact in FORWARDED:
            self.forwarding()
        if fact in FORWARDED or (fact == "namespace -> namespace" and self.read(
                "/proc/sys/net/bridge/bridge-nf-call-iptables") == "1"):
            self.forward_chain(bridged=fact == "namespace -> namespace")
        if fact == "namespace -> internet":
            self.masquerade()
        if pub is not None:
            self.dnat(pub, from_namespace=src is not None)
            self.service(pub)
            if src is None:          # the answers to an outside client leave through the default route
                self.default_route(pub["namespace"], self.uplink.get("gateway") or "198.51.100.1",
                                   "the outside client, for its answers")

    def capture(self, result: dict, rerun: Callable[[dict], dict]) -> None:
        """Send the probe again while tcpdump watches the bridge and the uplink: where do its packets stop?"""
        tcpdump = which("tcpdump")
        hops = [h for h in (self.lab["bridge"], self.uplink.get("interface")) if h]
        if not tcpdump or not hops:
            return
        timeout = which("timeout") or "/usr/bin/timeout"
        with ThreadPoolExecutor(max_workers=len(hops)) as pool:      # tcpdump ends by itself (timeout -k)
            running = {hop: pool.submit(command, [timeout, "-k", "1", str(CAPTURE_SECONDS), tcpdump,
                                                  "-p", "-n", "-l", "-i", hop, "-c", "5", f"host {result['target']}"])
                       for hop in hops}
            time.sleep(0.5)
            rerun(dict(result, timeout=1))
            seen = {hop: len([line for line in future.result()[1].splitlines() if line.strip()])
                    for hop, future in running.items()}
        self.note("tcpdump -p while the probe ran again: " + ", ".join(f"{hop} {n} packets" for hop, n in seen.items()))
        br = self.lab["bridge"]
        if seen.get(br) and len(hops) > 1 and not seen.get(hops[1]) and result.get("fact") == "namespace -> internet":
            raise Finding(f"the packets reach {br} but never leave {hops[1]}: the host drops them", "iptables -L -v -n")
        if not seen.get(br):
            raise Finding(f"no packet of the probe is seen on {br}", f"tcpdump -ni {br} host {result['target']}")


def _rule_text(line: str) -> str:
    return re.sub(r' -m comment --comment "[^"]*"', "", line).strip()


def explain_all(session: nsmod.Session, lab: dict, uplink: dict | None, results: list, rerun: Callable[[dict], dict] | None) -> list:
    """Every result with ``as_expected``; those that are not explained."""
    diagnosis = Diagnosis(session, lab, uplink)
    return [r if r.get("as_expected", True) else diagnosis.explain(r, rerun) for r in results]
