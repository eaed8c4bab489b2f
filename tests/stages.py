"""Run `make test`'s stages, some side by side, and print a table of their times at the end.

    stages.py [--logs DIR] [--fill CORES] GROUP [GROUP ...]

Each GROUP is one make target, or several joined by "+" that run side by side (for stages that
leave a core idle: one sequential ansible-playbook beside another). Groups run one after another; a
stage written with a trailing "~" (for example fleet-ssh~) does not hold the next group back: it goes on beside it.
With --fill, the next group also starts early, one group at a time, whenever the machine has had at least
CORES idle cores over the last --window seconds (stages waiting on probes, sshd or a last slow test
leave cores idle; /proc/stat tells): the cores stay busy, and the run ends sooner.
Every stage's output goes to DIR/<stage>.log; a failed stage's last lines are printed when it ends.
The table gives each stage's wall time and the CPU time of its processes (what decides which stages
can share the two cores).
All stages run even when one fails, so one run shows every failure; the exit status is 1 if any
stage failed. The last line counts them ("stages: N passed, N failed").
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

TAIL = 120          # lines of a failed stage's log printed
# what a stage's log says it ran: the counts of pytest's closing lines
COUNTS = re.compile(r"\b(\d+ (?:passed|failed|skipped|error|errors|deselected))\b")


def _clock(seconds: float) -> str:
    minutes, tenths = divmod(round(seconds * 10), 600)      # 59.96 s is 1:00.0, not 0:60.0
    return f"{minutes}:{tenths / 10:04.1f}"


def _start(target: str, logs: str) -> tuple[subprocess.Popen, float]:
    log = open(os.path.join(logs, f"{target}.log"), "w")  # pylint: disable=consider-using-with
    # the stage's own run id (hostnet.py): its leftover check counts its processes, not a neighbour's
    env = dict(os.environ, NSLAB_RUN_ID=f"{os.environ.get('NSLAB_RUN_ID', 'stages')}.{target}")
    # the collection's sources compiled once for every stage, not again in each of the thousands of module and playbook
    # runs (a machine may set PYTHONDONTWRITEBYTECODE); the bytecode kept under .cache, out of the source tree
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", os.path.join(os.getcwd(), ".cache", "pycache"))
    proc = subprocess.Popen(["make", "--no-print-directory", target], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env)
    log.close()
    return proc, time.monotonic()


def _counts(log: str) -> str:
    """The tests a stage's log says it ran: every pytest closing line's counts, added up."""
    totals: dict[str, int] = {}
    with open(log, errors="replace") as fh:
        for line in fh:
            if re.search(r" in \d+(\.\d+)?s", line) and COUNTS.search(line):
                for count in COUNTS.findall(line):
                    n, word = count.split()
                    word = "errors" if word == "error" else word
                    totals[word] = totals.get(word, 0) + int(n)
    return ", ".join(f"{n} {word}" for word, n in totals.items())


Row = tuple[str, str, float, float, float, str]


def cpu_sample() -> tuple[float, float]:
    """(idle, total) jiffies of all the machine's cores, from /proc/stat's first line."""
    with open("/proc/stat") as fh:
        fields = [float(x) for x in fh.readline().split()[1:]]
    return fields[3] + fields[4], sum(fields[:8])          # idle + iowait; user..steal


def idle_cores(samples: list[tuple[float, float, float]], window: float, cores: int) -> float | None:
    """Idle cores on average over the last ``window`` seconds of ``samples`` ((time, idle, total) each, oldest
    first); None until the samples span the window."""
    now = samples[-1][0]
    old = [s for s in samples if now - s[0] >= window]
    if not old:
        return None
    _t, idle0, total0 = old[-1]
    _t, idle1, total1 = samples[-1]
    return cores * (idle1 - idle0) / (total1 - total0) if total1 > total0 else None


def should_fill(idle: float | None, fill: float, since_start: float, window: float) -> bool:
    """Start the next waiting stage early: the machine had ``fill`` idle cores over a whole window in which
    nothing else started (a stage just started has not shown its load yet)."""
    return fill > 0 and idle is not None and idle >= fill and since_start >= window


def _parse(group: str) -> list[tuple[str, bool]]:
    """'a+b~' -> [('a', False), ('b', True)]: a stage ending in '~' does not hold the next group back."""
    return [(t[:-1], True) if t.endswith("~") else (t, False) for t in group.split("+")]


def run(groups: list[str], logs: str, begun: float, fill: float = 0, window: float = 10) -> list[Row]:
    """Run the groups one after another, the stages of a group side by side; the next group starts when
    every stage of this one has ended, except those marked '~' (a stage that leaves a core idle while it
    ends: sshd VMs booting, probes waiting), which go on beside it. With ``fill``, the next group starts early
    whenever the machine has had that many idle cores for ``window`` seconds. (stage, 'ok'/'FAILED', start offset,
    seconds, CPU seconds, tests) each, in the order the stages were given (the order they end varies)."""
    pending = [_parse(g) for g in groups]
    order = [name for group in pending for name, _background in group]
    running: dict[str, tuple[subprocess.Popen, float, bool]] = {}
    rows: list[Row] = []
    samples: list[tuple[float, float, float]] = []
    cores = os.cpu_count() or 1
    last_start = time.monotonic()

    def start(stages: list[tuple[str, bool]], why: str = "") -> None:
        names = [name for name, _background in stages]
        for target, background in stages:
            beside = [t for t in names if t != target] + [t for t in running if t not in names]
            print(f"[{_clock(time.monotonic() - begun)}] {target}: started{why}"
                  f"{' beside ' + ', '.join(beside) if beside else ''}", flush=True)
            running[target] = (*_start(target, logs), background)

    while pending or running:
        now = time.monotonic()
        if fill:
            samples.append((now, *cpu_sample()))
            samples = [s for s in samples if now - s[0] <= 2 * window]
        if pending and not any(not entry[2] for entry in running.values()):   # no stage that holds it back
            start(pending.pop(0))
            last_start, samples = now, samples[-1:]
        elif pending and should_fill(idle := idle_cores(samples, window, cores) if samples else None,
                                     fill, now - last_start, window) and idle is not None:
            start(pending.pop(0), f" ({idle:.1f} of {cores} cores idle for {window:g} s)")
            last_start, samples = now, samples[-1:]
        ended = False
        for target, (proc, started, _background) in list(running.items()):
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == 0:
                continue
            ended = True
            proc.returncode = os.waitstatus_to_exitcode(status)
            del running[target]
            took = time.monotonic() - started
            cpu = usage.ru_utime + usage.ru_stime          # the stage's processes that were waited for
            word = "ok" if proc.returncode == 0 else "FAILED"
            print(f"[{_clock(time.monotonic() - begun)}] {target}: {word} in {_clock(took)}", flush=True)
            if proc.returncode:
                with open(os.path.join(logs, f"{target}.log"), errors="replace") as fh:
                    lines = fh.readlines()
                print(f"---- last {min(TAIL, len(lines))} lines of {logs}/{target}.log ----")
                print("".join(lines[-TAIL:]), end="", flush=True)
                print(f"---- end of {target} ----", flush=True)
            rows.append((target, word, started - begun, took, cpu, _counts(os.path.join(logs, f"{target}.log"))))
        if not ended:
            time.sleep(min(0.5, window / 4) if fill else 0.2)
    return sorted(rows, key=lambda row: order.index(row[0]))


def table(rows: list[Row], total: float) -> str:
    width = max(len("stage"), *(len(r[0]) for r in rows))
    out = [f"{'stage':<{width}}  result  start    time     CPU      pytest",
           f"{'-' * width}  ------  -------  -------  -------  ------"]
    out += [f"{name:<{width}}  {word:<6}  {_clock(start):>7}  {_clock(took):>7}  {_clock(cpu):>7}  {tests}".rstrip()
            for name, word, start, took, cpu, tests in rows]
    out.append(f"{'total':<{width}}  {'':<6}  {'':>7}  {_clock(total):>7}  {_clock(sum(r[4] for r in rows)):>7}")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--logs", default=os.path.join(".cache", "stages"))
    parser.add_argument("--fill", type=float, default=0, metavar="CORES",
                        help="start the next waiting stage early when this many cores were idle over the window")
    parser.add_argument("--window", type=float, default=10, metavar="SECONDS")
    parser.add_argument("groups", nargs="+", help='make targets; "a+b" runs a and b side by side; "a~" lets the next group start beside a')
    args = parser.parse_args(argv)
    os.makedirs(args.logs, exist_ok=True)
    begun = time.monotonic()
    rows = run(args.groups, args.logs, begun, args.fill, args.window)
    failed = [r[0] for r in rows if r[1] != "ok"]
    print("\n" + table(rows, time.monotonic() - begun))
    print(f"logs: {args.logs}/<stage>.log" + (f"; failed: {', '.join(failed)}" if failed else ""))
    print(f"stages: {len(rows) - len(failed)} passed, {len(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
