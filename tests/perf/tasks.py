"""Each module task of the module list form against a ping in the same place (BENCHMARKS.md, "Each module task").

The module list form (tests/perf/modules.yml: seven tasks, one per resource type) and Ansible's floor
(tests/perf/floor.yml: the same seven tasks as ansible.builtin.ping) at N namespaces, each trial in fresh sandbox
hosts: a cold build, then a no-change re-run, with each task's wall time taken by the task_times callback
(tests/perf/callback_plugins). The ways take turns. Besides, the payload Ansible builds for each distinct module of a
run (module_common.recursive_finder, on this controller): ping's, the batch module's (which every nslab.net task
sends: plugins/action/batch.py) and what each module's own would cost.

  python tests/perf/tasks.py --sizes 1 --runs 3          (make bench-tasks)

Writes tests/perf/results/tasks.json and tests/perf/tasks.md (BENCHMARKS.md includes it).
"""

from __future__ import annotations

import argparse
import datetime
import glob
import io
import json
import os
import statistics
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
COLLECTIONS = os.path.join(REPO, ".cache", "collections")


def task_times(way, path: str) -> tuple[float, list[dict]]:
    """One run of the way's playbook: its wall time and each task's (from the callback)."""
    open(path, "w").close()
    started = time.monotonic()
    way.build()
    wall = time.monotonic() - started
    with open(path) as fh:
        return wall, [json.loads(line) for line in fh]


def trial(n: int, internet, root: str, times: str) -> dict:
    import bench

    out = {}
    for name in ("modules", "floor"):
        with bench.fresh_host(name, n, internet, root, prefix="tk") as way:
            out[name] = {phase: task_times(way, times) for phase in ("build", "rerun")}
            way.teardown()
    return out


def payload_builds() -> dict:
    """Seconds to build each module's AnsiballZ payload, as Ansible does once per run and module: in a Python of its
    own, where Ansible's collection loader imports the collection (the sandboxes' helpers import it plainly)."""
    import subprocess

    proc = subprocess.run([sys.executable, __file__, "--payloads"], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def measure_payloads(runs: int = 5) -> dict:
    """Best of ``runs`` for each payload (``--payloads``)."""
    from ansible.executor.module_common import _builder, recursive_finder
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader([COLLECTIONS])
    from ansible.modules import ping

    modules = {"ansible.builtin.ping": (ping.__file__, "ansible.modules.ping")}
    for path in sorted(glob.glob(os.path.join(REPO, "plugins", "modules", "*.py"))):
        name = os.path.basename(path)[:-3]
        modules[f"nslab.net.{name}"] = (path, f"ansible_collections.nslab.net.plugins.modules.{name}")
    out = {}
    for name, (path, fqn) in modules.items():
        with open(path, "rb") as fh:
            data = fh.read()
        best, files = 9.9, 0
        for _run in range(runs):
            archive = zipfile.ZipFile(io.BytesIO(), "w", compression=zipfile.ZIP_DEFLATED)
            started = time.perf_counter()
            recursive_finder(name, fqn, data, archive, datetime.datetime.now(), _builder.ExtensionManager.create(task_vars={}))
            best = min(best, time.perf_counter() - started)
            files = len(archive.infolist())
        out[name] = dict(seconds=best, files=files)
    return out


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def write_md(data: dict, path: str) -> None:
    lines = ["## Each module task against a ping", "",
             "The module list form (`tests/perf/modules.yml`) and its floor (`tests/perf/floor.yml`, the same seven tasks",
             "as `ansible.builtin.ping`) side by side, each trial in fresh sandbox hosts, each task's wall time from its",
             "start to its result (`tests/perf/callback_plugins/task_times.py`), medians of "
             f"{data['runs']} trials, {data['date']}. The first task also builds the run's one payload (below).", ""]
    for n, trials in data["sizes"].items():
        lines += [f"N = {n}:", "", "| task | module | build | re-run | ping there |", "|---|---|---|---|---|"]
        names = [t["name"] for t in trials[0]["modules"]["build"][1]]
        actions = [t["action"] for t in trials[0]["modules"]["build"][1]]
        for i, (name, action) in enumerate(zip(names, actions)):
            cells = [median([t["modules"][phase][1][i]["seconds"] for t in trials]) for phase in ("build", "rerun")]
            ping = median([t["floor"][phase][1][i]["seconds"] for t in trials for phase in ("build", "rerun")])
            lines.append(f"| {name} | `{action}` | {cells[0]:.3f} | {cells[1]:.3f} | {ping:.3f} |")
        total = {phase: median([t["modules"][phase][0] for t in trials]) for phase in ("build", "rerun")}
        floor = median([t["floor"][phase][0] for t in trials for phase in ("build", "rerun")])
        lines += ["", f"Whole playbook: build {total['build']:.2f} s, re-run {total['rerun']:.2f} s, the floor {floor:.2f} s: "
                  f"our fixed part above it **{total['build'] - floor:.2f} s cold, {total['rerun'] - floor:.2f} s re-run** "
                  f"(at N = {n}).", ""]
    builds = data["payloads"]
    ping, batch = builds["ansible.builtin.ping"], builds["nslab.net.batch"]
    own = {k: v for k, v in builds.items() if k.startswith("nslab.net.") and k != "nslab.net.batch"}
    listed = ", ".join(f"`{k.split('.')[-1]}` {v['seconds']:.3f}" for k, v in own.items())
    lines += ["Ansible's own share: the payload it builds once per run for each distinct module (best of 5, this",
              f"controller): `ping` {ping['seconds']:.3f} s ({ping['files']} files: `ansible.module_utils.basic` and what it",
              f"imports); the batch module's, which every nslab.net task sends, {batch['seconds']:.3f} s ({batch['files']} files),",
              "built once per run whatever modules a playbook uses - its part beyond `ping`'s is ours. Each module's own",
              f"payload would have cost: {listed} s; the module list form's six distinct modules used to pay six of them.", ""]
    with open(path, "w") as fh:
        fh.write("\n".join(lines))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "tasks.json"))
    ap.add_argument("--payloads", action="store_true", help="only time the payload builds; print them as JSON")
    ap.add_argument("--report", action="store_true", help="only write tasks.md again from --out")
    args = ap.parse_args(argv)
    if args.payloads:
        print(json.dumps(measure_payloads()))
        return 0
    if args.report:
        with open(args.out) as fh:
            write_md(json.load(fh), os.path.join(HERE, "tasks.md"))
        return 0
    sys.path.insert(0, HERE)
    from bench import Internet

    root = tempfile.mkdtemp(prefix="nslab-tasks-")
    internet = Internet(root)
    internet.create()
    fd, times = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    os.environ.update(NSLAB_TASK_TIMES=times, ANSIBLE_CALLBACKS_ENABLED="task_times")
    data = dict(date=datetime.date.today().isoformat(), runs=args.runs, sizes={})
    try:
        for n in args.sizes:
            for run in range(args.runs):
                one = trial(n, internet, root, times)
                data["sizes"].setdefault(str(n), []).append(one)
                print(f"N={n} trial {run + 1}: modules build {one['modules']['build'][0]:.2f}s rerun "
                      f"{one['modules']['rerun'][0]:.2f}s, floor {one['floor']['build'][0]:.2f}s {one['floor']['rerun'][0]:.2f}s",
                      flush=True)
    finally:
        internet.destroy()
        os.unlink(times)
    data["payloads"] = payload_builds()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(data, fh, indent=1)
    write_md(data, os.path.join(HERE, "tasks.md"))
    print(open(os.path.join(HERE, "tasks.md")).read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
