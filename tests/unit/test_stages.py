"""make test's stage runner (tests/stages.py) on a Makefile of its own: stages joined by + run side by side,
every stage runs even after one failed, a failed stage's log tail is printed, and the table and the last line
say what ran and how long it took."""

from __future__ import annotations

import os
import re
import subprocess
import sys

STAGES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "stages.py")
MAKEFILE = """\
slow-a:
\t@sleep 1; echo '3 passed in 1.00s'
slow-b:
\t@sleep 1; echo '==== 2 passed, 1 skipped in 0.50s ===='
broken:
\t@echo 'the reason it broke'; exit 3
after:
\t@echo done
quick:
\t@true
"""


def run(tmp_path, *groups):
    (tmp_path / "Makefile").write_text(MAKEFILE)
    return subprocess.run([sys.executable, STAGES, "--logs", str(tmp_path / "logs"), *groups], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)


def rows(out: str) -> dict:
    """The table's rows: {stage: (result, start seconds, time seconds, tests)}."""
    table = {}
    for line in out.splitlines():
        match = re.match(r"(\S+)\s+(ok|FAILED)\s+(\d+):(\d+\.\d)\s+(\d+):(\d+\.\d)\s+\d+:\d+\.\d\s*(.*)$", line)
        if match:
            name, word, m1, s1, m2, s2, tests = match.groups()
            table[name] = (word, int(m1) * 60 + float(s1), int(m2) * 60 + float(s2), tests)
    return table


def test_side_by_side_stages_overlap_and_the_table_adds_up_their_tests(tmp_path):
    proc = run(tmp_path, "slow-a+slow-b", "after")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = rows(proc.stdout)
    assert list(table) == ["slow-a", "slow-b", "after"]
    assert table["slow-a"][1] == table["slow-b"][1] == 0.0        # started together
    assert table["after"][1] >= 1.0                               # after both
    assert table["slow-a"][3] == "3 passed" and table["slow-b"][3] == "2 passed, 1 skipped"
    assert proc.stdout.rstrip().splitlines()[-1] == "stages: 3 passed, 0 failed"
    assert (tmp_path / "logs" / "after.log").read_text() == "done\n"


def test_a_stage_marked_background_lets_the_next_group_start_beside_it(tmp_path):
    proc = run(tmp_path, "slow-a~+quick", "after", "slow-b")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = rows(proc.stdout)
    assert table["after"][1] < 1.0                                 # did not wait for slow-a
    assert "after: started beside slow-a" in proc.stdout
    assert table["slow-b"][1] >= table["after"][1] + table["after"][2]   # an unmarked stage is waited for
    assert proc.stdout.rstrip().splitlines()[-1] == "stages: 4 passed, 0 failed"


def test_a_failed_stage_shows_its_log_and_fails_the_run_after_the_others_ran(tmp_path):
    proc = run(tmp_path, "broken", "after")
    assert proc.returncode == 1
    assert "broken: FAILED" in proc.stdout and "the reason it broke" in proc.stdout
    table = rows(proc.stdout)
    assert table["broken"][0] == "FAILED" and table["after"][0] == "ok"
    assert proc.stdout.rstrip().splitlines()[-1] == "stages: 1 passed, 1 failed"


def test_the_clock_carries_a_rounded_minute():
    sys.path.insert(0, os.path.dirname(STAGES))
    from stages import _clock

    assert [_clock(s) for s in (0, 9.94, 59.96, 61.25, 3600)] == ["0:00.0", "0:09.9", "1:00.0", "1:01.2", "60:00.0"]


def _stages():
    sys.path.insert(0, os.path.dirname(STAGES))
    import stages

    return stages


def test_idle_cores_are_averaged_over_the_window_and_unknown_before_it():
    stages = _stages()
    # (time, idle jiffies, total jiffies) of a 2-core machine: half idle over the last 10 s
    samples = [(0.0, 0, 0), (5.0, 500, 1000), (10.0, 1000, 2000)]
    assert stages.idle_cores(samples, 10, 2) == 1.0
    assert stages.idle_cores(samples[1:], 10, 2) is None            # the samples span 5 s of the 10
    assert stages.should_fill(1.0, 0.5, since_start=12, window=10)
    assert not stages.should_fill(1.0, 0.5, since_start=3, window=10)  # a stage just started: its load not seen yet
    assert not stages.should_fill(0.2, 0.5, since_start=12, window=10)
    assert not stages.should_fill(None, 0.5, since_start=12, window=10)
    assert not stages.should_fill(2.0, 0, since_start=12, window=10)  # --fill off: the groups alone decide


def test_with_fill_an_idle_machine_starts_the_next_stage_before_the_group_ends(tmp_path, monkeypatch, capsys):
    stages = _stages()
    (tmp_path / "Makefile").write_text(MAKEFILE)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs").mkdir()
    ticks = iter(range(10**6))
    monkeypatch.setattr(stages, "cpu_sample", lambda: (float(next(ticks)), float(next(ticks)) + 0.5))  # all idle
    rows = stages.run(["slow-a", "after", "quick"], str(tmp_path / "logs"), stages.time.monotonic(),
                      fill=0.5, window=0.3)
    table = {name: (word, start) for name, word, start, _took, _cpu, _tests in rows}
    assert [row[0] for row in rows] == ["slow-a", "after", "quick"]
    assert table["after"][1] < 1.0 and table["quick"][1] < 1.0       # neither waited for slow-a's second
    assert table["quick"][1] >= table["after"][1] + 0.3              # one at a time, a window apart
    assert "after: started (" in capsys.readouterr().out
