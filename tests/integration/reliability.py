"""Helpers of the reliability tests: runs that are paused, killed or overlapped on purpose."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from nslabtest import COLLECTIONS, PYTHON


def pause_env(module: str, after: int, directory) -> dict:
    """The engine's test hook: ``module`` stops after ``after`` operations (lock held)."""
    return {"NSLAB_TEST_PAUSE": f"{module}:{after}:{directory}"}


class Background:
    """ansible-playbook inside a sandbox, in its own session so that it can be ended as a
    group (only what this test started: the group of the pid it wrote)."""

    def __init__(self, box, path: str, *extra: str, env: dict | None = None, workdir=None, name="run"):
        self.box = box
        self.pidfile = os.path.join(str(workdir), f"{name}.pid")
        self.log = open(os.path.join(str(workdir), f"{name}.log"), "w+")
        bindir = os.path.dirname(sys.executable)
        full_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1",
                        ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False", **(env or {}))
        argv = ["setsid", "bash", "-c", f'echo $$ > {self.pidfile}; exec "$@"', "run",
                os.path.join(bindir, "ansible-playbook"), "-i", "lab,", "-c", "local",
                "-e", f"ansible_python_interpreter={PYTHON}", path, *extra]
        self.proc = subprocess.Popen(box.argv(argv), stdout=self.log, stderr=subprocess.STDOUT, env=full_env)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def wait(self, timeout: float = 300) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.log.flush()

    def kill(self, module_pid: int | None = None) -> None:
        """SIGKILL the run's process group, then the paused module (it may have a group of
        its own), inside the sandbox (pids as the sandbox sees them)."""
        for _attempt in range(100):
            if os.path.exists(self.pidfile) and open(self.pidfile).read().strip():
                break
            time.sleep(0.05)
        pgid = open(self.pidfile).read().strip()
        self.box.run(f"kill -KILL -- -{pgid}" + (f"; kill -KILL {module_pid}" if module_pid else ""), check=False)
        self.wait(60)


def wait_paused(directory, timeout: float = 120) -> tuple[int, list[str]]:
    """Wait for the hook's DIR/paused: (pid of the paused module, actions it applied)."""
    path = os.path.join(str(directory), "paused")
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"no module paused within {timeout} s"
        time.sleep(0.05)
    lines = open(path).read().splitlines()
    return int(lines[0]), [line for line in lines[1:] if line]


def resume(directory) -> None:
    open(os.path.join(str(directory), "resume"), "w").close()
