"""An earlier version of the collection and this one, side by side: the same ways of bench.py (bash, the module list
form, the roles...) at the same sizes, each trial in a fresh sandbox host, the two versions taking turns, so that a
slower spell of the machine weighs on both. For a change's effect when absolute seconds drift from hour to hour.

  python tests/perf/sidebyside.py --base 334b99f --sizes 1 500 --runs 2 --ways bash modules ours

The earlier version is checked out with ``git worktree`` under .cache/sidebyside/ (its own connection plugin and
module code; the playbooks and the bench are this tree's). Prints each trial, then the medians and, for each size
but the smallest, the cost per namespace ((T(N) - T(smallest)) / (N - smallest)) and its ratio to the bash script's
cold build per namespace. Writes the trials to .cache/sidebyside/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
from bench import REPO, Internet  # noqa: E402

WORK = os.path.join(REPO, ".cache", "sidebyside")


def checkout(rev: str) -> str:
    """A collections directory holding ``rev`` of this repository as nslab.net (a git worktree)."""
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", rev], capture_output=True, text=True,
                            check=True).stdout.strip()
    tree = os.path.join(WORK, commit)
    if not os.path.isdir(tree):
        subprocess.run(["git", "-C", REPO, "worktree", "add", "--detach", "-q", tree, commit], check=True)
    collections = os.path.join(WORK, f"collections-{commit}")
    os.makedirs(os.path.join(collections, "ansible_collections", "nslab"), exist_ok=True)
    link = os.path.join(collections, "ansible_collections", "nslab", "net")
    if not os.path.islink(link):
        os.symlink(tree, link)
    return collections


def trial(way: str, n: int, collections: str, internet: Internet, root: str) -> dict:
    """One way's cold build, no-change re-run and teardown in a fresh sandbox host, with ``collections``."""
    bench.COLLECTIONS = collections
    with bench.fresh_host(way, n, internet, root, prefix="s") as runner:
        return {"build": runner.timed(runner.build), "rerun": runner.timed(runner.rerun),
                "teardown": runner.timed(runner.teardown)}


def report(trials: dict, sizes: list[int]) -> list[str]:
    med = {key: {phase: statistics.median(t[phase] for t in runs) for phase in ("build", "rerun", "teardown")}
           for key, runs in trials.items()}
    lines = ["", "| size | way | version | build | re-run | teardown |", "|---|---|---|---|---|---|"]
    lines += [f"| {n} | {way} | {version} | {m['build']:.2f} | {m['rerun']:.2f} | {m['teardown']:.2f} |"
              for (n, way, version), m in sorted(med.items())]
    low = min(sizes)
    for n in sorted(sizes):
        if n == low or (n, "bash", "this") not in med or (low, "bash", "this") not in med:
            continue
        bash = (med[(n, "bash", "this")]["build"] - med[(low, "bash", "this")]["build"]) / (n - low)
        lines += ["", f"Per namespace from N={low} to N={n} (bash's cold build: {bash * 1000:.1f} ms):"]
        for (size, way, version), m in sorted(med.items()):
            if size != n or way == "bash" or (low, way, version) not in med:
                continue
            per = {phase: (m[phase] - med[(low, way, version)][phase]) / (n - low) for phase in ("build", "rerun")}
            lines.append(f"- {way} ({version}): build {per['build'] * 1000:.1f} ms ({per['build'] / bash:.2f}x bash), "
                         f"re-run {per['rerun'] * 1000:.1f} ms ({per['rerun'] / bash:.2f}x)")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the earlier version (a commit, tag or branch)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 500])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--ways", nargs="+", default=["bash", "modules", "ours"], choices=sorted(bench.WAYS))
    args = ap.parse_args()
    versions = {"base": checkout(args.base), "this": bench.COLLECTIONS}
    root = tempfile.mkdtemp(prefix="nslab-sbs-")
    internet = Internet(root)
    internet.create()
    trials: dict = {}
    try:
        for n in args.sizes:
            for run in range(args.runs):
                for way in args.ways:
                    for version in (["this"] if way in ("bash", "floor") else ["base", "this"]):
                        times = trial(way, n, versions[version], internet, root)
                        trials.setdefault((n, way, version), []).append(times)
                        print(f"N={n} run {run + 1} {way} ({version}): build {times['build']:.2f} s, "
                              f"re-run {times['rerun']:.2f} s, teardown {times['teardown']:.2f} s", flush=True)
    finally:
        internet.destroy()
        if os.path.isdir(root) and not os.listdir(root):
            os.rmdir(root)
    os.makedirs(WORK, exist_ok=True)
    with open(os.path.join(WORK, "results.json"), "w") as fh:
        json.dump(dict(base=args.base, trials=[dict(n=k[0], way=k[1], version=k[2], runs=v) for k, v in trials.items()]),
                  fh, indent=1)
    print("\n".join(report(trials, args.sizes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
