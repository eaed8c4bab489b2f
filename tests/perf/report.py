"""BENCHMARKS.md and the plot from a results JSON of tests/perf/bench.py."""

from __future__ import annotations

import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PHASES = ("build", "rerun", "drift", "teardown")
LABELS = dict(bash="bash script", plain="plain Ansible", ours="nslab.net roles", modules="nslab.net modules, one task each",
              floor="7 ping tasks (Ansible's floor)", mitogen="nslab.net roles + Mitogen", engine="nslab.net engine alone")


def summary(data: dict) -> dict:
    out = {}
    for row in data["results"]:
        for phase in PHASES:
            values = [run[phase] for run in row["runs"]]
            out[(row["n"], row["way"], phase)] = (statistics.median(values), min(values), max(values))
    return out


def plain_runs(data: dict):
    counts = {len(row["runs"]) for row in data["results"] if row["way"] == "plain"}
    return min(counts) if counts else None


def write_report(path: str) -> None:
    with open(path) as fh:
        data = json.load(fh)
    s = summary(data)
    sizes = sorted({key[0] for key in s})
    ways = [w for w in LABELS if any(k[1] == w for k in s)]
    lines = ["# Benchmarks", "",
             "The egress+ingress lab (N namespaces, each with a veth pair on one bridge, an address, a default",
             "route and a published port; forwarding and one MASQUERADE) built six ways side by side, each in a",
             "fresh sandbox host: a bash script of `ip`/`iptables` commands written as the seeds write them,",
             "a plain-Ansible playbook (`ansible.builtin.command` loops and `ansible.builtin.iptables`,",
             "`tests/perf/plain.yml`), the nslab.net roles (`tests/perf/ours.yml`), the nslab.net modules as a",
             "user's own playbook calls them - one task per resource type, each with `items`",
             "(`tests/perf/modules.yml`: netns, bridge_port, veth, bridge_port ports, ns_route, ns_sysctl,",
             "nat_rule) -, the roles with Mitogen's `mitogen_linear` strategy, and the nslab.net modules called",
             "directly from Python (the engine alone: the roles' module calls, one `nslab.net.batch` run per",
             "role, without `ansible-playbook`). One more row, Ansible's floor, is the module list form's seven",
             "tasks as `ansible.builtin.ping` (`tests/perf/floor.yml`): what Ansible costs for as many module",
             "tasks that do nothing. The playbooks use the project's `ansible.cfg` (pipelining on) and the",
             "`nslab.net.sandbox` connection; Mitogen does not know that connection plugin, so its runs use",
             "connection local inside the sandbox host (as over ssh to a lab VM). All reach the same end state",
             "(namespaces, addresses, routes, bridge ports, forwarding, MASQUERADE, DNAT mappings: checked).",
             "",
             f"Machine: {data['machine']}. Date: {data['date']}. Runs per cell: {data['runs']}"
             + (f" (plain Ansible: {plain_runs(data)}, at about ten minutes per run at N=100);"
                if plain_runs(data) not in (None, data["runs"]) else ";"),
             "each cell is the median, with min-max, in seconds, and the ratio to the bash script's cold build.",
             "", "Phases: **build** (cold), **rerun** (nothing to change), **drift** (one veth deleted by hand,",
             "then a re-run repairs it), **teardown**. The bash script is not idempotent: its re-run and drift",
             "columns are the same script again with errors ignored (it fails on every existing object and",
             "appends duplicate NAT rules).", ""]
    for n in sizes:
        base = s.get((n, "bash", "build"), (None,))[0]
        lines += [f"## N = {n}", "", "| way | " + " | ".join(PHASES) + " |", "|---|" + "---|" * len(PHASES)]
        for way in ways:
            if (n, way, "build") not in s:
                continue
            cells = []
            for phase in PHASES:
                med, lo, hi = s[(n, way, phase)]
                ratio = f" (x{med / base:.1f})" if base else ""
                cells.append(f"{med:.2f} [{lo:.2f}-{hi:.2f}]{ratio}")
            lines.append(f"| {LABELS[way]} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += split(s, sizes)
    tasks = os.path.join(HERE, "tasks.md")       # each module task against a ping (make bench-tasks writes it)
    if os.path.exists(tasks):
        with open(tasks) as fh:
            lines += [fh.read().rstrip(), ""]
    fleet = os.path.join(HERE, "fleet.md")       # the fleet rows (make bench-fleet), written by hand from fleet.json
    if os.path.exists(fleet):
        with open(fleet) as fh:
            lines += [fh.read().rstrip(), ""]
    klass = os.path.join(HERE, "class.md")       # a class on one machine (make bench-class), written by hand
    if os.path.exists(klass):
        with open(klass) as fh:
            lines += [fh.read().rstrip(), ""]
    lines += ["## Targets", ""] + targets(s) + ["", "![time against N](docs/bench.png)", ""]
    analysis = os.path.join(HERE, "analysis.md")
    if os.path.exists(analysis):
        with open(analysis) as fh:
            lines += [fh.read().rstrip(), ""]
    lines += ["## Reproduce", "", "```",
              "make bench            # python tests/perf/bench.py --sizes 1 10 100 1000 --runs 3 --plain-max 10",
              "```", "", "It needs root (sandboxes are network namespaces) and writes",
              "`tests/perf/results/latest.json`, this file and `docs/bench.png`. CI runs a smoke of it",
              "(`--sizes 10 --runs 1`) that checks the ways agree.", "",
              "A change's effect, when absolute seconds drift from hour to hour: the version before it and this one",
              "side by side, taking turns (`tests/perf/sidebyside.py`):", "", "```",
              "python tests/perf/sidebyside.py --base REV --sizes 1 500 --runs 2 --ways bash modules ours",
              "```", ""]
    with open(os.path.join(REPO, "BENCHMARKS.md"), "w") as fh:
        fh.write("\n".join(lines))
    plot(s, sizes, ways)


def split(s: dict, sizes: list[int]) -> list[str]:
    """The module list form's and the roles' time split three ways: Ansible's floor (the seven pings), our fixed part
    above it (the way at N=1 minus the floor at N=1), and the cost per namespace, (T(N) - T(1)) / (N - 1), against
    the bash script's cold build per namespace at the same N."""
    def med(n, way, phase):
        return s.get((n, way, phase), (None,))[0]
    if med(1, "floor", "build") is None or med(1, "bash", "build") is None:
        return []
    larger = [n for n in sizes if n > 1 and med(n, "bash", "build") is not None]
    out = ["## The split: Ansible's floor, our fixed part, the cost per namespace", "",
           f"Ansible's floor (the seven pings) at N = 1: {med(1, 'floor', 'build'):.2f} s (first run), "
           f"{med(1, 'floor', 'rerun'):.2f} s (again). Our fixed part is a way's time at N = 1 minus the floor's; "
           "the cost per namespace is (T(N) - T(1)) / (N - 1), with its ratio to the bash script's cold build per "
           "namespace at the same N (" + ", ".join(
               f"{(med(n, 'bash', 'build') - med(1, 'bash', 'build')) / (n - 1) * 1000:.1f} ms at N = {n}" for n in larger)
           + "). Medians of this run, cold build / no-change re-run. The floor is the module list form's (seven "
           "tasks); the roles run fewer tasks, so their part above it can come out below zero. At small N the jitter "
           "of the fixed part is larger than the work, and the cost per namespace is noise there.", "",
           "| way | fixed part above the floor | " + " | ".join(f"per namespace, N = {n}" for n in larger) + " |",
           "|---|---|" + "---|" * len(larger)]
    for way in ("modules", "ours"):
        if med(1, way, "build") is None:
            continue
        cells = [f"{med(1, way, 'build') - med(1, 'floor', 'build'):.2f} s / {med(1, way, 'rerun') - med(1, 'floor', 'rerun'):.2f} s"]
        for n in larger:
            if med(n, way, "build") is None:
                cells.append("")
                continue
            bash = (med(n, "bash", "build") - med(1, "bash", "build")) / (n - 1)
            cold, again = ((med(n, way, phase) - med(1, way, phase)) / (n - 1) for phase in ("build", "rerun"))
            cells.append(f"{cold * 1000:.1f} ms ({cold / bash:.2f}x) / {again * 1000:.1f} ms ({again / bash:.2f}x)")
        out.append(f"| {LABELS[way]} | " + " | ".join(cells) + " |")
    return out + [""]


def targets(s: dict) -> list[str]:
    """Issue 27's must-holds this run measures (the fleet's CPU per VM is in its own section), then the ratios kept
    for comparison with earlier runs."""
    def med(n, way, phase):
        return s.get((n, way, phase), (None,))[0]

    def verdict(value, limit, unit=""):
        return f"target <= {limit}{unit}: {'met' if value <= limit else 'missed'}"
    out = []
    if med(1, "modules", "build") is not None and med(1, "floor", "build") is not None:
        cold, again = (med(1, "modules", phase) - med(1, "floor", phase) for phase in ("build", "rerun"))
        out.append(f"- Our fixed part above Ansible's floor, the module list form at N=1: cold {cold:.2f} s "
                   f"({verdict(round(cold, 2), 0.6, ' s')}), re-run {again:.2f} s ({verdict(round(again, 2), 0.6, ' s')})")
    large = [n for n in sorted({key[0] for key in s}) if n >= 500 and med(n, "bash", "build") and med(1, "bash", "build")]
    for n in large[:1] if 500 in large else large[-1:]:
        bash = (med(n, "bash", "build") - med(1, "bash", "build")) / (n - 1)
        for way in ("modules", "ours"):
            if med(n, way, "build") is None or med(1, way, "build") is None:
                continue
            cold, again = ((med(n, way, phase) - med(1, way, phase)) / (n - 1) / bash for phase in ("build", "rerun"))
            out.append(f"- Per namespace at N={n}, {LABELS[way]} / the bash script's cold build: cold build {cold:.2f}x "
                       f"({verdict(round(cold, 2), 0.3, 'x')}), no-change re-run {again:.2f}x ({verdict(round(again, 2), 0.1, 'x')})")
    if med(1000, "bash", "build"):
        bash = med(1000, "bash", "build")
        for way in ("modules", "ours"):
            if med(1000, way, "build") is None:
                continue
            cold, again = med(1000, way, "build") / bash, med(1000, way, "rerun") / bash
            out.append(f"- N=1000, {LABELS[way]} / the bash script's cold build: cold build {cold:.2f}, no-change re-run "
                       f"{again:.2f} (target < 1: {'met' if max(cold, again) < 1 else 'missed'})")
    if med(100, "bash", "build") and med(100, "ours", "build"):
        bash = med(100, "bash", "build")
        out.append(f"- N=100, for comparison with earlier runs: the roles / bash cold build "
                   f"{med(100, 'ours', 'build') / bash:.2f}, re-run / the script's re-run "
                   f"{med(100, 'ours', 'rerun') / med(100, 'bash', 'rerun'):.2f}"
                   + (f"; the module list form {med(100, 'modules', 'build') / bash:.2f} and "
                      f"{med(100, 'modules', 'rerun') / med(100, 'bash', 'rerun'):.2f}" if med(100, "modules", "build") else "")
                   + (f"; Ansible's floor (7 ping tasks) {med(100, 'floor', 'build') / bash:.2f}"
                      if med(100, "floor", "build") else ""))
        if med(100, "plain", "build"):
            out.append(f"- N=100, plain / ours, cold build: {med(100, 'plain', 'build') / med(100, 'ours', 'build'):.1f}x; "
                       f"re-run: {med(100, 'plain', 'rerun') / med(100, 'ours', 'rerun'):.1f}x (target >= 10)")
        if med(100, "mitogen", "build"):
            out.append(f"- N=100, ours with Mitogen / bash cold build: {med(100, 'mitogen', 'build') / bash:.2f} "
                       f"(re-run {med(100, 'mitogen', 'rerun') / bash:.2f})")
        if med(100, "engine", "build"):
            out.append(f"- N=100, engine alone / bash cold build: {med(100, 'engine', 'build') / bash:.2f} (target <= 3)")
    top = max((n for n in {key[0] for key in s} if n > 100 and med(n, "ours", "build")), default=None)
    if top and med(100, "ours", "build"):
        out.append(f"- ours N={top} / N=100, cold build: {med(top, 'ours', 'build') / med(100, 'ours', 'build'):.2f} "
                   f"(linear in N: {top / 100:.0f})")
    return out or ["- (run with N=1, 100 and 1000 to compute the targets)"]


def plot(s: dict, sizes: list[int], ways: list[str]) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for way in ways:
        xs = [n for n in sizes if (n, way, "build") in s]
        ax.plot(xs, [s[(n, way, "build")][0] for n in xs], marker="o", label=f"{LABELS[way]}, cold build")
        if way != "bash":
            ax.plot(xs, [s[(n, way, "rerun")][0] for n in xs], marker="x", linestyle="--",
                    label=f"{LABELS[way]}, no-change re-run")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("namespaces (N)")
    ax.set_ylabel("seconds (median)")
    ax.set_title("Building the egress+ingress lab")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.join(REPO, "docs"), exist_ok=True)
    fig.savefig(os.path.join(REPO, "docs", "bench.png"), dpi=110)


if __name__ == "__main__":
    write_report(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results", "latest.json"))
