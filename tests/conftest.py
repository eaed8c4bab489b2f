"""Suite-wide guard: this machine's own network must be identical before and after."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from hostnet import compare, fingerprint, sandbox_processes  # noqa: E402

_BEFORE = {}


def pytest_sessionstart(session):
    if os.environ.get("NSLAB_SKIP_HOSTNET") != "1":
        _BEFORE["fp"] = fingerprint()
        _BEFORE["procs"] = sandbox_processes()


def pytest_sessionfinish(session, exitstatus):
    if "fp" not in _BEFORE or hasattr(session.config, "workerinput"):
        return
    problems = compare(_BEFORE["fp"], fingerprint())
    procs = sorted(set(sandbox_processes()) - set(_BEFORE["procs"]))
    if procs:
        problems.append("leftover processes:\n  " + "\n  ".join(procs))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if problems:
        text = "THE MACHINE'S OWN NETWORK CHANGED DURING THE TESTS:\n" + "\n".join(problems)
        if reporter:
            reporter.write_line(text, red=True)
        else:
            print(text)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter:
        reporter.write_line("host network check: links, addresses, routes, rules, netfilter, netns, "
                            "sysctls, /etc and processes identical before and after")
