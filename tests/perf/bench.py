"""Benchmark: the egress+ingress lab with N namespaces, built four ways side by side,
each inside its own fresh sandbox host (the machine's network is never touched):

  bash    one `ip` / `iptables` command per object, as the seeds write them
  plain   ansible.builtin.command loops + ansible.builtin.iptables (tests/perf/plain.yml)
  ours    the nslab.net roles (tests/perf/ours.yml)
  modules the nslab.net modules as a user's playbook calls them: one task per resource type, each
          with items (tests/perf/modules.yml)
  floor   Ansible's own cost of those tasks: as many ansible.builtin.ping tasks (tests/perf/floor.yml)
  mitogen the same roles with Mitogen's mitogen_linear strategy (connection local on the host)
  engine  the nslab.net modules run directly from Python (no ansible-playbook): the calls the
          roles make, one nslab.net.batch run per role

Phases: cold build, no-change re-run, one-object drift repair (a veth deleted), teardown. The ways
take turns (each way's first run, then each way's second...), so a slower spell of the machine
weighs on all of them.
Every method must reach the same end state (checked). Writes results JSON, BENCHMARKS.md
and a plot.

  python tests/perf/bench.py --sizes 1 10 100 1000 --runs 3 --plain-max 10   (make bench)
  python tests/perf/bench.py --sizes 10 --runs 1 --no-report        (the CI smoke)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from nslabtest import COLLECTIONS, PYTHON, REPO, Internet, Sandbox, ansible_only  # noqa: E402

UPLINK = "203.0.113.10"
GATEWAY = "10.99.0.1/16"
SUBNET = "10.99.0.0/16"
PLAIN_MAX = 100          # plain Ansible takes minutes per run beyond this
PHASES = ("build", "rerun", "drift", "teardown")


def topology(n: int) -> list[dict]:
    return [dict(name=f"ns{i}", address=f"10.99.{(i + 2) // 250}.{(i + 2) % 250 + 2}", veth=f"vb{i}",
                 peer="ceth0", port=20000 + i) for i in range(n)]


# ----------------------------------------------------------------- the ways
def bash_script(n: int, ignore_errors: bool = False) -> str:
    lines = ["set -e" if not ignore_errors else "set +e",
             "ip link add br0 type bridge", f"ip addr add {GATEWAY} dev br0", "ip link set br0 up"]
    for ns in topology(n):
        lines += [f"ip netns add {ns['name']}",
                  f"ip link add {ns['veth']} type veth peer name {ns['peer']} netns {ns['name']}",
                  f"ip -n {ns['name']} addr add {ns['address']}/16 dev {ns['peer']}",
                  f"ip -n {ns['name']} link set {ns['peer']} up",
                  f"ip -n {ns['name']} link set lo up",
                  f"ip link set {ns['veth']} master br0",
                  f"ip link set {ns['veth']} up",
                  f"ip -n {ns['name']} route add default via {GATEWAY.split('/', maxsplit=1)[0]}"]
    lines += ["sysctl -qw net.ipv4.ip_forward=1",
              f"iptables -t nat -A POSTROUTING -s {SUBNET} -o eth0 -j MASQUERADE"]
    lines += [f"iptables -t nat -A PREROUTING -d {UPLINK} -p tcp -m tcp --dport {ns['port']} "
              f"-j DNAT --to-destination {ns['address']}:8080" for ns in topology(n)]
    return "\n".join(lines) + "\n"


def bash_teardown(n: int) -> str:
    lines = [f"iptables -t nat -D PREROUTING -d {UPLINK} -p tcp -m tcp --dport {ns['port']} "
             f"-j DNAT --to-destination {ns['address']}:8080" for ns in topology(n)]
    lines += [f"iptables -t nat -D POSTROUTING -s {SUBNET} -o eth0 -j MASQUERADE"]
    lines += [f"ip netns del {ns['name']}" for ns in topology(n)] + ["ip link del br0"]
    return "\n".join(lines) + "\n"


class Way:
    name = ""

    def __init__(self, box: Sandbox, n: int, workdir: str):
        self.box, self.n, self.workdir = box, n, workdir

    def timed(self, fn) -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start


class Bash(Way):
    name = "bash"

    def script(self, text, check=True):
        # on standard input: at N=500 the script is longer than one argument may be
        self.box.run(["bash", "-s"], input=text, check=check)

    def build(self):
        self.script(bash_script(self.n))

    def rerun(self):
        # not idempotent: the same script again fails at its first command; with errors
        # ignored it is what a script user re-runs (and it appends duplicate NAT rules)
        self.script(bash_script(self.n, ignore_errors=True), check=False)

    def drift(self):
        self.script(bash_script(self.n, ignore_errors=True), check=False)

    def teardown(self):
        self.script(bash_teardown(self.n), check=False)


class AnsibleWay(Way):
    playbook = ""

    def extra_vars(self) -> dict:
        raise NotImplementedError

    def play(self, state: str):
        inventory = os.path.join(self.workdir, "inventory.json")
        with open(inventory, "w") as fh:
            json.dump({"bench": {"hosts": {self.box.name: {
                "ansible_connection": "nslab.net.sandbox", "nslab_sandbox_root": self.box.root,
                "ansible_python_interpreter": PYTHON}}}}, fh)
        extra = os.path.join(self.workdir, "vars.json")
        with open(extra, "w") as fh:
            json.dump(dict(self.extra_vars(), **self.state_var(state)), fh)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
        proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
                               "-e", f"@{extra}", os.path.join(HERE, self.playbook)],
                              capture_output=True, text=True, env=env, cwd=REPO, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name} {state} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
        return proc.stdout

    def build(self):
        self.play("present")

    rerun = drift = build

    def teardown(self):
        self.play("absent")


class Plain(AnsibleWay):
    name = "plain"
    playbook = "plain.yml"

    def state_var(self, state):
        return {"bench_state": state}

    def extra_vars(self):
        return dict(bench_gateway=GATEWAY, bench_prefix=16, bench_subnet=SUBNET, bench_uplink=UPLINK,
                    bench_namespaces=topology(self.n))


class Ours(AnsibleWay):
    name = "ours"
    playbook = "ours.yml"

    def state_var(self, state):
        return {"nslab_state": state}

    def extra_vars(self):
        spaces = topology(self.n)
        return dict(nslab_gateway=GATEWAY, nslab_bridge="br0", nslab_requirements="skip",
                    nslab_namespaces=[{k: ns[k] for k in ("name", "address", "veth", "peer")} for ns in spaces],
                    nslab_published_ports=[dict(namespace=ns["name"], port=ns["port"], target_port=8080)
                                           for ns in spaces],
                    nslab_demo_services=[])


class Modules(AnsibleWay):
    """The modules as a user's own playbook calls them: one task per resource type, each
    with `items` (tests/perf/modules.yml: seven tasks, as the floor has seven pings; the teardown is a playbook of
    its own, modules-teardown.yml)."""
    name = "modules"
    playbook = "modules.yml"

    def state_var(self, state):
        return {}

    def teardown(self):
        self.playbook = "modules-teardown.yml"
        try:
            self.play("absent")
        finally:
            self.playbook = "modules.yml"

    def extra_vars(self):
        spaces = topology(self.n)
        gateway = GATEWAY.split("/", maxsplit=1)[0]
        return dict(
            bench_gateway=GATEWAY,
            bench_netns=[{"name": ns["name"]} for ns in spaces],
            bench_veths=[dict(name=ns["veth"], peer=ns["peer"], peer_netns=ns["name"],
                              peer_address=[f"{ns['address']}/16"]) for ns in spaces],
            bench_ports=[{"port": ns["veth"]} for ns in spaces],
            bench_routes=[dict(netns=ns["name"], dst="default", gateway=gateway) for ns in spaces],
            bench_nat=[dict(type="masquerade", source=SUBNET, uplink=True, comment="egress")]
            + [dict(type="dnat", protocol="tcp", port=ns["port"], uplink=True, to=f"{ns['address']}:8080",
                    comment=f"publish {ns['name']}") for ns in spaces])


class Floor(AnsibleWay):
    """Ansible's own cost of the module list form: its seven module tasks as ansible.builtin.ping
    (tests/perf/floor.yml), which builds nothing; every phase is the same run."""
    name = "floor"
    playbook = "floor.yml"

    def state_var(self, state):
        return {}

    def extra_vars(self):
        return {}

    def teardown(self):
        self.play("absent")


class Mitogen(Ours):
    """The roles again, with Mitogen's strategy (a persistent interpreter on the host).
    Mitogen does not know the sandbox connection plugin, so ansible-playbook runs
    inside the sandbox host with connection local - as it would run against a lab
    VM over ssh, Mitogen's usual case."""
    name = "mitogen"

    def play(self, state: str):
        import ansible_mitogen

        extra = os.path.join(self.workdir, "vars.json")
        with open(extra, "w") as fh:
            json.dump(dict(self.extra_vars(), **self.state_var(state)), fh)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                   ANSIBLE_STRATEGY="mitogen_linear",
                   ANSIBLE_STRATEGY_PLUGINS=os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins", "strategy"))
        proc = self.box.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "bench,",
                             "-c", "local", "-e", f"ansible_python_interpreter={PYTHON}", "-e", f"@{extra}",
                             os.path.join(HERE, self.playbook)], env=env, check=False, timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name} {state} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
        return proc.stdout


class Engine(Way):
    """The modules, called straight from Python with their args (no ansible-playbook)."""
    name = "engine"

    def batches(self, state: str) -> list[list[dict]]:
        """The module calls the egress and ingress roles make (nslab.net.lab_steps: the same
        topology code), one batch per role, in the order the roles run."""
        from ansible_collections.nslab.net.plugins.module_utils._lab.topology import lab_topology
        from ansible_collections.nslab.net.plugins.module_utils._lab.steps import steps

        if state != "present":
            return [steps({"lab": "nslab"}, part, "absent") for part in ("ingress", "egress")]
        spaces = topology(self.n)
        plan = lab_topology(dict(
            namespaces=[{k: ns[k] for k in ("name", "address", "veth", "peer")} for ns in spaces], gateway=GATEWAY, bridge="br0",
            published_ports=[dict(namespace=ns["name"], port=ns["port"], target_port=8080) for ns in spaces],
            demo_services=[]))
        return [steps(plan, part) for part in ("egress", "ingress")]

    def run_calls(self, state):
        """The calls as the roles make them: one nslab.net.batch run per role."""
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([COLLECTIONS, ansible_only()]))
        path = os.path.join(self.workdir, "batch.json")
        for batch in self.batches(state):
            with open(path, "w") as fh:
                json.dump({"ANSIBLE_MODULE_ARGS": dict(steps=batch, _ansible_check_mode=False)}, fh)
            proc = self.box.run([PYTHON, "-m", "ansible_collections.nslab.net.plugins.modules.batch", path],
                                check=False, env=env)
            if proc.returncode != 0 or '"failed": true' in proc.stdout:
                raise RuntimeError(f"engine batch failed: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")

    def build(self):
        self.run_calls("present")

    rerun = drift = build

    def teardown(self):
        self.run_calls("absent")


WAYS = {w.name: w for w in (Bash, Plain, Ours, Modules, Floor, Mitogen, Engine)}


# ------------------------------------------------------------- end state
def end_state(box: Sandbox) -> dict:
    """What every way must agree on: namespaces, their addresses and default routes,
    the bridge's ports and address, forwarding, the MASQUERADE and the DNAT mappings."""
    script = r"""
ip -j netns list
for ns in $(ip -j netns list | python3 -c 'import json,sys; print(" ".join(n["name"] for n in json.load(sys.stdin)))'); do
  addrs=$(ip -n $ns -4 -o addr show scope global | awk '{print $4}' | sort | tr '\n' ' ')
  echo "NS $ns $addrs $(ip -n $ns -4 route show default)"
done
echo "BR $(ip -j link show master br0 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') $(ip -4 -br addr show br0)"
echo "FWD $(cat /proc/sys/net/ipv4/ip_forward)"
iptables-save -t nat | grep -E -- '-j (MASQUERADE|DNAT)' | sed -E 's/ -m comment --comment "[^"]*"//; s/-A [A-Z-]+ //' | sort -u
nft list table inet nslab 2>/dev/null | grep -E 'masquerade|dnat' | sed -E 's/ comment ".*"//' | sort -u
"""
    out = box.run(script.replace("python3", PYTHON)).stdout.splitlines()
    namespaces = sorted(line.split()[1] for line in out if line.startswith("NS "))
    rows = sorted(re.sub(r"(via \S+).*", r"\1", " ".join(line.split()[1:])) for line in out if line.startswith("NS "))
    bridge = next(line for line in out if line.startswith("BR "))
    nat = [line for line in out if "MASQUERADE" in line or "DNAT" in line]
    dnat = sorted(line.split("--dport ")[1].split()[0] + "->" + line.split("--to-destination ")[1].split()[0]
                  for line in nat if "--to-destination" in line)
    masq = sorted({line for line in nat if "MASQUERADE" in line and f"-s {SUBNET}" in line and "-o eth0" in line})
    return dict(namespaces=namespaces, rows=rows, bridge=" ".join(bridge.split()[1:3] + bridge.split()[-1:]),
                forward=next(line for line in out if line.startswith("FWD ")), dnat=dnat, masquerade=len(masq) > 0)


def empty(box: Sandbox) -> bool:
    out = box.run("ip netns list; ip link show br0 2>/dev/null; iptables-save -t nat | grep -E 'DNAT|MASQ|NSLAB' || true;"
                  " nft list tables | grep nslab || true").stdout.strip()
    return out == ""


# ------------------------------------------------------------------ run
@contextlib.contextmanager
def fresh_host(way_name: str, n: int, internet: Internet, root: str, prefix: str = "b") -> Iterator[Way]:
    """A way at N namespaces on a fresh sandbox host with its uplink to ``internet``, removed afterwards."""
    box = Sandbox(f"{prefix}{os.getpid() % 10000}{way_name[0]}", root)
    box.create()
    try:
        internet.attach(box, UPLINK)
        with tempfile.TemporaryDirectory() as work:
            yield WAYS[way_name](box, n, work)
    finally:
        internet.detach(box)
        box.destroy()


def run_one(way_name: str, n: int, internet: Internet, root: str) -> dict:
    with fresh_host(way_name, n, internet, root) as way:
        if way_name == "floor":          # builds nothing: no end state to compare
            return dict(times={phase: way.timed(way.build) for phase in PHASES}, state=None, repaired=True, clean=True)
        times = {"build": way.timed(way.build)}
        state = end_state(way.box)
        times["rerun"] = way.timed(way.rerun)
        way.box.run(f"ip link del {topology(n)[n // 2]['veth']}")            # one object drifts
        times["drift"] = way.timed(way.drift)
        repaired = end_state(way.box)
        times["teardown"] = way.timed(way.teardown)
        return dict(times=times, state=state, repaired=repaired == state, clean=empty(way.box))


def save(args, results) -> None:
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(dict(machine=machine(), date=time.strftime("%Y-%m-%d"), runs=args.runs,
                       plain_runs=args.plain_runs or args.runs, results=results), fh, indent=1)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal"))) // 1024 // 1024
    return (f"{os.cpu_count()} cores ({cpu}), {mem} GiB, kernel {platform.release()}, Python {platform.python_version()}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, 500])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ways", nargs="+", default=list(WAYS), choices=list(WAYS))
    ap.add_argument("--plain-max", type=int, default=PLAIN_MAX)
    ap.add_argument("--plain-runs", type=int, help="runs for plain Ansible (default: --runs)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "latest.json"))
    ap.add_argument("--no-report", action="store_true", help="skip BENCHMARKS.md and the plot")
    ap.add_argument("--append", action="store_true", help="add to the results already in --out (other sizes)")
    args = ap.parse_args(argv)
    earlier = []
    if args.append and os.path.exists(args.out):
        with open(args.out) as fh:
            earlier = [r for r in json.load(fh)["results"] if r["n"] not in args.sizes]

    root = tempfile.mkdtemp(prefix="nslab-bench-")
    internet = Internet(root)
    internet.create()
    results, failures = [], []
    try:
        for n in args.sizes:
            reference, runs = None, {}
            ways = [way for way in args.ways if way != "plain" or n <= args.plain_max]
            # round robin (every way once, then again): a slower spell of the machine weighs on every way alike
            for run in range(max(args.runs, args.plain_runs or 0)):
                for way in ways:
                    if run >= (args.plain_runs or args.runs if way == "plain" else args.runs):
                        continue
                    one = run_one(way, n, internet, root)
                    runs.setdefault(way, []).append(one)
                    phases = "  ".join(f"{p} {one['times'][p]:7.2f}s" for p in PHASES)
                    note = "" if one["clean"] else "  [teardown left something]"
                    print(f"N={n:<4} {way:<7} run {run + 1}: {phases}{note}", flush=True)
                    if one["state"] is None:
                        pass
                    elif reference is None:
                        reference = one["state"]
                    elif one["state"] != reference:
                        failures.append(f"N={n} {way}: end state differs from {ways[0]}: {one['state']} != {reference}")
                    if way != "bash" and not one["repaired"]:
                        failures.append(f"N={n} {way}: drift not repaired")
                    if way != "bash" and not one["clean"]:
                        failures.append(f"N={n} {way}: teardown left something")
                done = [dict(n=n, way=way, runs=[r["times"] for r in runs[way]]) for way in ways if way in runs]
                save(args, earlier + results + done)          # after every round: a long run keeps what it measured
            results += [dict(n=n, way=way, runs=[r["times"] for r in runs[way]]) for way in ways if way in runs]
    finally:
        internet.destroy()
        if os.path.isdir(root) and not os.listdir(root):
            os.rmdir(root)
    if not args.no_report:
        from report import write_report
        write_report(args.out)
    for line in failures:
        print("FAIL:", line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
