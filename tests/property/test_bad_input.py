"""Bad and edge-case input, property-based: every module, through its real entry point
(``main()`` with AnsiballZ's arguments), inside a sandbox. Each example is either
accepted and converges (a second run changes nothing; state absent then leaves the
kernel as it was), or rejected before any kernel change with a message naming the
option. Never a traceback, never a partial change; check mode never changes anything.

A refusal (and every check-mode call) must come before the engine's first operation: the worker counts
the operations of the apply phase. That reads alone never write is proved on the kernel: one refusal or
check-mode example in NSLAB_PROPERTY_SAMPLE (default 4) is compared with the sandbox's state read back,
and every accepted example is converged, run again and undone on the kernel."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import itertools
import uuid
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from nslabtest import COLLECTIONS, PYTHON, Sandbox, ansible_only  # noqa: E402

EXAMPLES = int(os.environ.get("NSLAB_PROPERTY_EXAMPLES", "200"))
SAMPLE = int(os.environ.get("NSLAB_PROPERTY_SAMPLE", "4"))    # one refusal in SAMPLE read back from the kernel
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")

# --------------------------------------------------------------- the sandbox
SETUP = """set -e
ip link add eth0 type veth peer name eth0p
ip addr add 203.0.113.10/24 dev eth0
ip link set eth0p up
ip link set eth0 up
ip route add default via 203.0.113.1
ip link add hand0 type veth peer name hand1
ip netns add byhand
for tool in iptables-restore ip6tables-restore; do     # the tables exist, as on any host with a firewall
  printf '%s\n' '*nat' ':PREROUTING ACCEPT' ':INPUT ACCEPT' ':OUTPUT ACCEPT' ':POSTROUTING ACCEPT' COMMIT \
    '*filter' ':INPUT ACCEPT' ':FORWARD ACCEPT' ':OUTPUT ACCEPT' COMMIT | $tool
done
"""
FIXTURES = [
    ("netns", dict(items=[{"name": "p1"}], dns=["127.0.0.1"])),
    ("netns", dict(name="q1", lab="other")),
    ("bridge_port", dict(bridge="br0", address=["192.168.0.1/16"])),
    ("veth", dict(name="pv0", peer="pc0", peer_netns="p1", peer_address=["192.168.0.2/16"])),
    ("bridge_port", dict(bridge="br0", port="pv0")),
    ("bridge_port", dict(bridge="obr0", address=["10.200.0.1/24"], lab="other")),
]


class Worker:
    def __init__(self, box):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([COLLECTIONS, ansible_only()]))
        self.proc = subprocess.Popen(box.argv([PYTHON, WORKER]), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)
        self.baselines: dict = {}
        self.examples = itertools.count()

    def ask(self, request: dict) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the worker died"
        answer = json.loads(line)
        assert not answer.get("worker"), answer["traceback"]
        return answer

    def call(self, module: str, args: dict, check: bool = False) -> dict:
        return self.ask(dict(module=module, args=dict(args, _ansible_check_mode=check, _ansible_diff=True)))

    def snapshot(self, sysctls=()) -> dict:
        return self.ask(dict(op="snapshot", sysctls=list(sysctls)))

    def baseline(self, sysctls=()) -> dict:
        """The sandbox's state between examples (read from the kernel once per set of extra sysctls)."""
        key = tuple(sysctls)
        if key not in self.baselines:
            self.baselines[key] = self.snapshot(sysctls)
        return self.baselines[key]

    def rebase(self, sysctls, state: dict) -> None:
        """The state between examples is now ``state`` (and every other baseline is read again)."""
        self.baselines = {tuple(sysctls): state}

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(30)


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    box = Sandbox(f"p-{uuid.uuid4().hex[:8]}", root=str(tmp_path_factory.mktemp("sandboxes")))
    box.create()
    try:
        box.run(SETUP)
        w = Worker(box)
        for module, args in FIXTURES:
            result = w.call(module, args)
            assert not result.get("failed"), result
        yield w
        w.close()
    finally:
        box.destroy()


# ------------------------------------------------------------- the property
def _sysctl_path(args) -> list[str]:
    name = args.get("name")
    if isinstance(name, str) and name.startswith("net.") and ".." not in name and "/" not in name:
        return [name.replace(".", "/")]
    return []


def _options(module: str) -> set:
    import yaml

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "plugins", "modules", f"{module}.py")
    doc = yaml.safe_load(open(path).read().split('DOCUMENTATION = r"""')[1].split('"""')[0])
    return set(doc.get("options", {})) | {"items", "netns", "state", "lab", "purge"}


def _names_an_option(msg: str, module: str, args: dict) -> bool:
    """The message starts with the option's path (``items[1].port: ...``) or quotes
    an option the way Ansible's argument checks do."""
    options = _options(module)
    head = re.match(r"([a-z_]+)(\[\d+\])?(\.([a-z_]+))?(\[\d+\])?: ", msg)
    if head and (head.group(1) in options or head.group(4) in options):
        return True
    if any(f"'{opt}'" in msg or f"of {opt} must" in msg or f"{opt} is of type" in msg for opt in options):
        return True
    # a conflict with something that exists names it by the value the option gave
    values = [str(val) for val in _values(args) if isinstance(val, str) and len(val) > 1]
    return any(f" {val}" in msg or f"{val!r}" in msg for val in values)


def _values(args):
    if isinstance(args, dict):
        for val in args.values():
            yield from _values(val)
    elif isinstance(args, list):
        for val in args:
            yield from _values(val)
    else:
        yield args


def _diff(before: dict, after: dict) -> str:
    return "; ".join(f"{k}: {before.get(k)!r} -> {after.get(k)!r}" for k in sorted(set(before) | set(after))
                     if before.get(k) != after.get(k))[:3000]


def _undo(module: str, args: dict) -> list[dict]:
    """The calls that remove what an accepted example made (bridge_port: ports, then bridges)."""
    if module in ("netns_info", "ns_probe", "ns_sysctl"):
        return []
    if module != "bridge_port":
        return [dict(args, state="absent")]
    items = args.get("items") or [{}]
    base = {k: val for k, val in args.items() if k != "items"}
    merged = [dict(base, **item) for item in items]
    ports = [{k: val for k, val in m.items() if k in ("bridge", "port", "netns", "lab")} for m in merged if m.get("port")]
    bridges = {(m.get("bridge"), m.get("netns"), m.get("lab")) for m in merged}
    calls = [dict(p, state="absent") for p in ports]
    calls += [{k: val for k, val in dict(bridge=b, netns=n, lab=lab, state="absent").items() if val is not None}
              for b, n, lab in bridges]
    return calls


def check(worker, module: str, args: dict, check_mode: bool = False) -> str:
    """The property, for one example; returns 'accepted' or 'rejected'.

    Every example starts from the sandbox's baseline (each accepted one is undone, and that is checked
    against the kernel). A refusal must come before the engine's first operation; whether the kernel is
    still as it was, or check mode changed nothing, is read from the kernel for one example in SAMPLE
    (reads never write: the sample proves it)."""
    args = {k: v for k, v in args.items() if v is not None}
    extra = _sysctl_path(args) if module == "ns_sysctl" else []
    before = worker.baseline(extra)
    result = worker.call(module, args, check=check_mode)
    assert "traceback" not in result, f"{module} {args}:\n{result.get('traceback')}\n{result.get('stdout')}"
    assert "exception" not in result and "unexpected error" not in result.get("msg", ""), (module, args, result)
    sampled = next(worker.examples) % SAMPLE == 0
    if check_mode or result.get("failed"):
        assert result["applied_operations"] == 0, (module, args, check_mode, result)
        if sampled:
            now = worker.snapshot(extra)
            assert now == before, f"{'check mode' if check_mode else 'a refusal'} changed something: " \
                                  f"{module} {args}: {_diff(before, now)}"
    if result.get("failed"):
        assert not result.get("changed"), (module, args, result)
        assert _names_an_option(result["msg"], module, args), (module, args, result["msg"])
        return "rejected"
    if check_mode:
        return "accepted"
    after = worker.snapshot(extra)
    again = worker.call(module, args)
    assert not again.get("failed") and not again.get("changed"), f"no convergence: {module} {args}: {again}"
    assert again["applied_operations"] == 0 and worker.snapshot(extra) == after
    if result.get("changed"):
        calls = _undo(module, args)
        if module == "ns_sysctl" and extra:
            old = before.get(args.get("netns") or "-", {}).get("sysctls", {}).get(extra[0])
            calls = [dict(args, value=old)] if old is not None else []
        for undo in calls:
            down = worker.call(module, undo)
            assert not down.get("failed"), f"could not undo {module} {args} with {undo}: {down}"
        now = worker.snapshot(extra)
        if calls:
            assert now == before, f"{module} state=absent left something behind: {args}: {_diff(before, now)}"
        else:
            worker.rebase(extra, now)         # a change with no undo (a sysctl the kernel has no value of)
    return "accepted"


def explore(worker, module: str, args, check_mode=st.just(False)) -> None:
    """The property over the examples ``args`` draws (in check mode when ``check_mode``
    draws True); then the strategies must have reached both sides of it (sandbox:
    rejections only; its accepted cases are few, each makes two sandboxes)."""
    outcomes = Counter()

    @SETTINGS
    @given(args=args, check_mode=check_mode)
    def example(args, check_mode):
        outcomes[check(worker, module, args, check_mode)] += 1

    example()
    print(f"\n{module}: {dict(outcomes)}")
    assert outcomes["rejected"] >= 5, (module, outcomes)
    if module != "sandbox":
        assert outcomes["accepted"] >= 5, (module, outcomes)


# ------------------------------------------------------------- strategies
CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_."
EDGE_NAMES = ["a" * 15, "b" * 16, "c" * 14, "", " ", "a/b", "a b", "\u00e4x", "x:1", "-", ".", "..", "eth0", "lo",
              "hand0", "byhand"]
names = st.one_of(st.sampled_from(EDGE_NAMES), st.text(CHARS, min_size=1, max_size=17))
new_names = st.text("abcdefghij", min_size=1, max_size=6).map(lambda s: "z" + s)
netns_refs = st.sampled_from([None, None, "p1", "q1", "ghost", "byhand", "a" * 256, "bad/name"])
labs = st.sampled_from([None, None, "nslab", "other", "bad label", "l" * 40, ""])
v4 = st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", st.sampled_from([10, 172, 192, 203, 0, 127, 224, 255, 300]),
               st.integers(0, 255), st.integers(0, 255), st.integers(0, 256))
v6 = st.sampled_from(["fd00::1", "fd00:1::1", "::1", "fe80::1", "::ffff:10.0.0.1", "fd00::", "2001:db8::1",
                      "fd00::1%eth0", "[fd00::1]", "fd00:::1", "ff02::1"])
addresses = st.one_of(v4, v6, st.sampled_from(["", "x", "10.0.0", "10.0.0.1.2", "010.0.0.1", " 10.0.0.1"]))
prefixes = st.sampled_from(["", "/0", "/8", "/16", "/24", "/31", "/32", "/33", "/64", "/128", "/129", "/-1", "/x"])
cidrs = st.one_of(st.builds(lambda a, p: a + p, addresses, prefixes),
                  st.sampled_from(["192.168.5.1/24", "192.168.0.9/16", "203.0.113.20/24", "10.200.0.7/24",
                                   "203.0.113.0/25", "10.30.0.1/24", "fd30::1/64"]))
ports = st.one_of(st.integers(-1, 70000), st.sampled_from([0, 1, 65535, 65536, "0", "65535", "65536", "1-2", "90-80",
                                                           "1:5", "80-", "", " 80", "5000-5010", "abc", None]))
states = st.sampled_from([None, "present", "absent", "gone"])


def maybe_items(strategy):
    """Either one resource as module options, or a list of items (sometimes malformed)."""
    return st.one_of(strategy, st.builds(lambda items: {"items": items},
                                         st.lists(st.one_of(strategy, st.just("not-a-dict")), max_size=3)))


# ------------------------------------------------------------------ tests
netns_args = maybe_items(st.fixed_dictionaries({"name": st.one_of(names, new_names)}, optional={
    "dns": st.lists(st.one_of(addresses, st.just("not-an-ip")), max_size=3), "loopback": st.booleans(),
    "lab": labs, "state": states}))

plain_veth = st.fixed_dictionaries({"name": new_names, "peer": new_names}, optional={
    "peer_netns": st.sampled_from([None, "p1"]), "address": st.lists(st.sampled_from(
        ["10.31.0.1/24", "fd31::1/64", "192.168.5.1/24", "203.0.113.20/24"]), max_size=1, unique=True),
    "peer_address": st.lists(st.sampled_from(["10.31.0.2/24", "fd31::2/64", "192.168.0.9/16"]), max_size=1),
    "mtu": st.sampled_from([None, 68, 1400, 9000])})
veth_edges = st.fixed_dictionaries({"name": st.one_of(names, new_names)}, optional={
    "peer": st.one_of(names, new_names), "peer_netns": netns_refs, "netns": netns_refs,
    "address": st.lists(cidrs, max_size=2), "peer_address": st.lists(cidrs, max_size=2),
    "mtu": st.one_of(st.integers(0, 70000), st.sampled_from([67, 68, 1500, 65535, 65536, "x"])),
    "lab": labs, "state": states})

bridge_args = maybe_items(st.fixed_dictionaries({"bridge": st.one_of(new_names, st.sampled_from(EDGE_NAMES))}, optional={
    "port": st.sampled_from([None, "hand0", "ghost", "zport", "lo", "a" * 16]), "address": st.lists(cidrs, max_size=2),
    "hairpin": st.booleans(), "netns": netns_refs, "lab": labs, "state": states}))

plain_route = st.fixed_dictionaries({"netns": st.just("p1"), "dst": st.sampled_from(
    ["default", "10.40.0.0/24", "10.41.0.0/16", "198.51.100.0/24"])}, optional={
    "gateway": st.sampled_from(["192.168.0.1", "192.168.0.77"]), "dev": st.just("pc0"),
    "metric": st.sampled_from([0, 10, 4294967295]), "table": st.sampled_from(["main", "100"])})
route_edges = st.fixed_dictionaries({"dst": st.one_of(cidrs, st.sampled_from(["default", "::/0"]))}, optional={
    "gateway": st.one_of(addresses, st.sampled_from(["192.168.0.1", "192.168.0.77", "10.77.0.1", "203.0.113.1"])),
    "dev": st.sampled_from([None, "pc0", "eth0", "ghost", "a" * 16]), "metric": st.integers(-1, 2 ** 32),
    "table": st.sampled_from([None, "main", "254", "100", "0", "local", "x", "4294967296"]),
    "netns": st.sampled_from([None, "p1", "p1", "ghost"]), "lab": labs, "state": states})

sysctl_args = st.fixed_dictionaries({"name": st.sampled_from(
    ["net.ipv4.ip_forward", "net.ipv4.conf.all.rp_filter", "net.ipv6.conf.all.forwarding", "kernel.hostname",
     "net.nonexistent.x", "net..ipv4", "net/ipv4/ip_forward", "net.ipv4.../../x", "", "net.ipv4.conf.pc0.forwarding"])},
    optional={"value": st.one_of(st.integers(-2, 3), st.sampled_from(["0", "1", "2", "yes", "", "1 2", [1], True])),
              "netns": st.sampled_from([None, "p1", "ghost"]), "state": st.sampled_from([None, "present", "absent"])})

nat_args = maybe_items(st.fixed_dictionaries({"type": st.sampled_from(
    ["masquerade", "snat", "dnat", "forward", "redirect", "", "DNAT"])}, optional={
    "source": cidrs, "destination": st.one_of(cidrs, addresses), "in_interface": st.sampled_from(
        [None, "eth0", "!br0", "!", "a" * 16, "br0"]), "out_interface": st.sampled_from([None, "eth0", "!br0", "a b"]),
    "protocol": st.sampled_from([None, "tcp", "udp", "sctp", "icmp", "icmpv6", "TCP", "gre"]), "port": ports,
    "to": st.one_of(addresses, st.builds(lambda a, p: f"{a}:{p}", addresses, ports),
                    st.sampled_from(["[fd00::2]:80", "192.168.0.2:5000", "192.168.0.2:5000-5010", "192.168.0.2:"])),
    "comment": st.sampled_from([None, "hello", "a" * 300, 'quote"d', "new\nline"]),
    "backend": st.sampled_from([None, "auto", "iptables", "nftables", "pf"]), "netns": st.sampled_from([None, "p1", "ghost"]),
    "lab": labs, "state": states}))

info_args = st.fixed_dictionaries({}, optional={
    "netns": st.one_of(netns_refs, names), "nat": st.one_of(st.booleans(), st.just("x")),
    "namespaces": st.one_of(st.booleans(), st.just("maybe"))})

service_args = maybe_items(st.fixed_dictionaries({"name": st.one_of(new_names, st.sampled_from(["", "a b", "x" * 70]))},
                                                 optional={
    "command": st.sampled_from([None, [], [""], ["sleep", "600"], ["/nonexistent"], ["no-such-program"],
                                ["python3", "-c", "import time; time.sleep(600)"], ["sleep", "abc"]]),
    "directory": st.sampled_from([None, "/", "/tmp", "relative", "/nonexistent"]),
    "netns": st.sampled_from([None, "p1", "ghost"]), "lab": labs, "state": states}))

probe = st.fixed_dictionaries({"target": st.one_of(st.sampled_from(
    ["192.168.0.1", "192.168.0.2", "203.0.113.10", "fd00::1", "x", "", "203.0.113.300"]), st.none())}, optional={
    "kind": st.sampled_from(["ping", "tcp", "http", "dns"]), "port": ports,
    "netns": st.sampled_from([None, "p1", "ghost", "bad/x"]),
    "timeout": st.sampled_from([0.2, 0, -1, "x", 61, "0.5"]), "colour": st.just("red")})
probe_args = st.fixed_dictionaries({"probes": st.lists(st.one_of(probe, st.just("x")), max_size=2)})

sandbox_args = maybe_items(st.fixed_dictionaries({"name": st.one_of(new_names, st.sampled_from(EDGE_NAMES))}, optional={
    "uplink_address": st.one_of(addresses, st.just("203.0.113.30")), "root": st.sampled_from(
        [None, "/run/nslab-sandbox", "relative"]), "state": st.sampled_from([None, "absent", "absent", "present"])}))


def test_netns(worker):
    explore(worker, "netns", netns_args, check_mode=st.booleans())


def test_veth(worker):
    explore(worker, "veth", st.one_of(plain_veth, maybe_items(veth_edges)), check_mode=st.booleans())


def test_bridge_port(worker):
    explore(worker, "bridge_port", bridge_args, check_mode=st.booleans())


def test_ns_route(worker):
    explore(worker, "ns_route", st.one_of(plain_route, maybe_items(route_edges)), check_mode=st.booleans())


def test_ns_sysctl(worker):
    explore(worker, "ns_sysctl", sysctl_args, check_mode=st.booleans())


def test_nat_rule(worker):
    explore(worker, "nat_rule", nat_args, check_mode=st.booleans())


def test_netns_info(worker):
    explore(worker, "netns_info", info_args)


def test_ns_service(worker):
    explore(worker, "ns_service", service_args)


def test_ns_probe(worker):
    explore(worker, "ns_probe", probe_args)


def test_sandbox(worker):
    explore(worker, "sandbox", sandbox_args)
