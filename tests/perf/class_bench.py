"""Benchmark: a class of N sandbox students on this machine, as a teacher runs it (BENCHMARKS.md, "A class").

Each trial writes a class inventory with playbooks/class.yml (every student handed the whole lab, goal
the whole lab: a clean class), then times the three steps a teacher waits for:

  hand out   ansible-playbook -i class.yml playbooks/lab.yml       (the sandboxes made, each lab built)
  grade      ansible-playbook -i class.yml playbooks/grade.yml     (a row per student, the class page)
  teardown   ansible-playbook -i class.yml playbooks/teardown.yml  (the lab and the sandboxes removed)

Wall time and the CPU time of the ansible-playbook process tree, medians of --runs trials, in a sandbox root
of its own (/run/nslab-bench-class); the machine's network is never touched, and nothing is left (checked).

  python tests/perf/class_bench.py --students 30 --runs 3          (make bench-class)
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from nslabtest import COLLECTIONS, REPO  # noqa: E402

ROOT = "/run/nslab-bench-class"
STEPS = (("hand out", "playbooks/lab.yml"), ("grade", "playbooks/grade.yml"), ("teardown", "playbooks/teardown.yml"))


def playbook(*args: str, cwd: str, forks: int) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process tree, output) of one ansible-playbook run; fails loudly."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_NOCOLOR="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), *args,
                           "-f", str(forks), "-e", f"nslab_sandbox_root={ROOT}"], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)
    took = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}")
    return took, cpu, proc.stdout


def trial(students: int, forks: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="nslab-class-") as tmp:
        inventory = os.path.join(tmp, "class.yml")
        playbook(os.path.join(REPO, "playbooks", "class.yml"), "-e", f"nslab_students={students}", "-e", f"nslab_class_file={inventory}",
                 "-e", "nslab_class_stage=publish", "-e", "nslab_class_goal=publish", cwd=tmp, forks=forks)
        out = {}
        for name, path in STEPS:
            took, cpu, text = playbook("-i", inventory, os.path.join(REPO, path), cwd=tmp, forks=forks)
            out[name] = (took, cpu)
            if name == "grade" and f"{students} of {students} students done." not in text:
                sys.exit(f"grade: not every student of the clean class is done:\n{text[-4000:]}")
        if os.path.isdir(ROOT) and os.listdir(ROOT):
            sys.exit(f"teardown left {os.listdir(ROOT)} under {ROOT}")
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--forks", type=int, default=8, help="ansible-playbook -f (default 8)")
    args = parser.parse_args()
    trials = []
    for run in range(args.runs):
        trials.append(trial(args.students, args.forks))
        print(f"trial {run + 1}: " + ", ".join(f"{name} {t[0]:.1f} s ({t[1]:.1f} s CPU)"
                                               for name, t in trials[-1].items()), flush=True)
    print(f"\n| {args.students} students, -f {args.forks} | wall (median of {args.runs}) | CPU of ansible-playbook |")
    print("|---|---|---|")
    for name, _path in STEPS:
        print(f"| {name} | {statistics.median(t[name][0] for t in trials):.1f} s "
              f"| {statistics.median(t[name][1] for t in trials):.1f} s |")


if __name__ == "__main__":
    main()
