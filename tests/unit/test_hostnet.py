# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The suite's leftover check counts the processes this run started, not a lab someone else runs."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from hostnet import RUN_VAR, sandbox_processes


def marked(run: str) -> subprocess.Popen:
    """A process that looks like a demo server (its argv[0] carries the mark), started by run ``run``."""
    return subprocess.Popen(["bash", "-c", "exec -a nslab-demo-test sleep 60"], env=dict(os.environ, **{RUN_VAR: run}))


def settle(run: str, count: int) -> None:
    """Wait until ``count`` processes of ``run`` have exec-ed (a loaded machine takes its time; bash's own
    command line carries the mark too, before its exec)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = sandbox_processes(run)
        if len(found) == count and all(p.split(": ", 1)[1].startswith("nslab-demo-test") for p in found):
            return
        time.sleep(0.05)


def test_only_this_runs_processes_are_leftovers():
    mine, theirs = marked("run-a"), marked("run-b")
    try:
        settle("run-a", 1)
        settle("run-b", 1)
        assert [p.split(":")[0] for p in sandbox_processes("run-a")] == [str(mine.pid)]
        assert [p.split(":")[0] for p in sandbox_processes("run-b")] == [str(theirs.pid)]
        assert sandbox_processes("run-c") == []
    finally:
        for proc in (mine, theirs):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_run_counts_its_stages_and_a_stage_not_its_neighbour():
    stage, neighbour = marked("run-a.pytest"), marked("run-a.matrix")
    try:
        settle("run-a", 2)
        assert sorted(p.split(":")[0] for p in sandbox_processes("run-a")) == sorted([str(stage.pid), str(neighbour.pid)])
        assert [p.split(":")[0] for p in sandbox_processes("run-a.pytest")] == [str(stage.pid)]
        assert sandbox_processes("run-a.pytest.x") == [] and sandbox_processes("run-") == []
    finally:
        for proc in (stage, neighbour):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
