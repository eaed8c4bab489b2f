"""Fleet benchmark: lab.yml against 1, 4 and 8 lab VMs over real SSH (tests/fleet/world.py).

Run inside the controller sandbox (``make bench-fleet`` does):
    world.py run -- python tests/perf/fleet_bench.py --sizes 1 4 8 --runs 3

For each size N: N Debian 12 VMs (Debian's python3-pyroute2, root login by key), then per run a
cold converge of the default lab, a no-change re-run and a teardown, each timed from the start
of ansible-playbook to its exit (default forks, pipelining on, ControlPersist as Ansible sets it).
Medians are written to --out (JSON) and printed as a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORLD = os.path.join(REPO, "tests", "fleet", "world.py")
SPEC = os.path.join(REPO, "molecule", "fleet-ssh", "world.yml")
sys.path.insert(0, os.path.join(REPO, "tests"))
from nslabtest import recaps  # noqa: E402  (one PLAY RECAP parser for every test)


def inventory(size: int, path: str) -> None:
    hosts = "\n".join(f"    deb12-{i + 1}: {{ansible_host: 192.0.2.{11 + i}}}" for i in range(size))
    with open(path, "w") as fh:
        fh.write(f"nslab_lab:\n  hosts:\n{hosts}\n  vars:\n    ansible_user: root\n"
                 "    ansible_python_interpreter: /usr/bin/python3\n"
                 "    nslab_report_internet: {target: 198.51.100.10, kind: http, port: 80, expect_source: true}\n")


def timed(ansible_bin: str, inv: str, playbook: str, size: int) -> tuple[float, float, int]:
    """Wall seconds, the controller's CPU seconds (rusage of the ansible-playbook process tree: its workers and ssh
    clients; not the ssh ControlPersist masters, which outlive it) and the lab hosts' changed count of one run."""
    env = dict(os.environ, ANSIBLE_PIPELINING="True", ANSIBLE_HOST_KEY_CHECKING="True", NO_COLOR="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run([os.path.join(ansible_bin, "ansible-playbook"), "-i", inv, playbook], cwd=REPO, env=env,
                          capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    lab = [c for host, c in recaps(proc.stdout).items() if host.startswith("deb12-")]
    if proc.returncode != 0 or len(lab) != size or any(c["unreachable"] or c["failed"] for c in lab):
        sys.stdout.write(proc.stdout[-4000:] + proc.stderr[-2000:])
        raise SystemExit(f"fleet bench: {playbook} on {size} VMs failed (exit {proc.returncode})")
    return seconds, cpu, sum(c["changed"] for c in lab)


def measure(size: int, runs: int, ansible_bin: str, state: str) -> dict:
    subprocess.run([sys.executable, WORLD, "up", SPEC, "--count", str(size)], check=True, stdout=subprocess.DEVNULL)
    inv = os.path.join(state, f"fleet-{size}.yml")
    inventory(size, inv)
    cells: dict[str, list[float]] = {"converge": [], "rerun": [], "teardown": []}
    cpus: dict[str, list[float]] = {way: [] for way in cells}
    try:
        for run in range(runs):
            for way, playbook in (("converge", "playbooks/lab.yml"), ("rerun", "playbooks/lab.yml"),
                                  ("teardown", "playbooks/teardown.yml")):
                seconds, cpu, changed = timed(ansible_bin, inv, playbook, size)
                if way == "rerun" and changed:
                    raise SystemExit(f"fleet bench: the re-run on {size} VMs changed {changed} things")
                cells[way].append(seconds)
                cpus[way].append(cpu)
                print(f"N={size} run {run + 1} {way}: {seconds:.2f} s, controller {cpu:.2f} CPU-s (changed {changed})",
                      flush=True)
    finally:
        subprocess.run([sys.executable, WORLD, "down"], check=False, stdout=subprocess.DEVNULL)
    return ({way: round(statistics.median(values), 2) for way, values in cells.items()}
            | {f"{way}_cpu": round(statistics.median(values), 2) for way, values in cpus.items()} | {"runs": runs})


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ansible-bin", default=os.path.join(REPO, ".venv-fleet", "bin"))
    parser.add_argument("--out", default=os.path.join(REPO, "tests", "perf", "results", "fleet.json"))
    parser.add_argument("--max-ratio", type=float, help="fail when converge(N max) > this x converge(N min)")
    args = parser.parse_args()
    state = "/run/nslab-fleet"
    os.makedirs(state, exist_ok=True)
    results = {str(size): measure(size, args.runs, args.ansible_bin, state) for size in args.sizes}
    with open(args.out, "w") as fh:
        json.dump({"sizes": results, "forks": 5, "pipelining": True, "cores": os.cpu_count()}, fh, indent=1)
    base = results[str(min(args.sizes))]
    print("\n| VMs | converge (s) | no-change re-run (s) | teardown (s) | converge vs 1 VM | controller CPU-s: converge, re-run, teardown |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        cell = results[str(size)]
        print(f"| {size} | {cell['converge']:.2f} | {cell['rerun']:.2f} | {cell['teardown']:.2f} | "
              f"{cell['converge'] / base['converge']:.2f}x | {cell['converge_cpu']:.2f}, {cell['rerun_cpu']:.2f}, "
              f"{cell['teardown_cpu']:.2f} |")
    low, high = results[str(min(args.sizes))], results[str(max(args.sizes))]
    if max(args.sizes) > min(args.sizes):
        per_vm = {way: (high[f"{way}_cpu"] - low[f"{way}_cpu"]) / (max(args.sizes) - min(args.sizes))
                  for way in ("converge", "rerun", "teardown")}
        print("\nthe controller's CPU per lab VM: " + ", ".join(f"{way} {value:.2f} CPU-s" for way, value in per_vm.items()))
    ratio = results[str(max(args.sizes))]["converge"] / base["converge"]
    if args.max_ratio and ratio > args.max_ratio:
        print(f"fleet bench: {max(args.sizes)} VMs converge in {ratio:.2f}x the time of {min(args.sizes)} "
              f"(limit {args.max_ratio}x)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
