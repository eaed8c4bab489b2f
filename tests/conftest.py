"""Suite-wide guard: this machine's own network must be identical before and after."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from hostnet import compare, fingerprint, run_id, sandbox_processes  # noqa: E402

_BEFORE = {}


def pytest_sessionstart(session):
    if os.environ.get("NSLAB_SKIP_HOSTNET") != "1":
        _BEFORE["fp"] = fingerprint()
        _BEFORE["run"] = run_id()          # exported here, so everything the tests start carries it


def pytest_sessionfinish(session, exitstatus):
    if "fp" not in _BEFORE or hasattr(session.config, "workerinput"):
        return
    problems = compare(_BEFORE["fp"], fingerprint())
    procs = sandbox_processes(_BEFORE["run"])
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if problems or procs:
        text = ("THE MACHINE'S OWN NETWORK CHANGED DURING THE TESTS:\n" + "\n".join(problems) if problems else "")
        if procs:
            text += ("\n" if text else "") + "PROCESSES THESE TESTS STARTED ARE STILL RUNNING:\n  " + "\n  ".join(procs)
        if reporter:
            reporter.write_line(text, red=True)
        else:
            print(text)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter:
        reporter.write_line("host network check: links, addresses, routes, rules, netfilter, netns, "
                            "sysctls, /etc and processes identical before and after")


# Files whose tests run whole playbooks on sandbox hosts (tens of seconds each) go first, so that the
# two xdist workers end together instead of one waiting on a long test collected last.
SLOW_FIRST = ("test_exercises.py", "test_reliability.py", "test_safety.py", "test_roles.py", "test_lab_playbook.py",
              "test_seeds.py", "test_firewalls.py", "test_bad_input.py")


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        name = item.path.name
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)          # stable: the order within a file stays the file's


# NSLAB_TEST_CPU=<file>: each test's CPU seconds (its own and its waited-for children's: the playbooks it runs)
# appended to the file as "seconds<TAB>wall<TAB>nodeid" lines; on two cores CPU, not wall, is what a suite's length
# is made of (tests/README.md, "What make test runs, and how long").
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    out = os.environ.get("NSLAB_TEST_CPU")
    if not out:
        yield
        return
    import time
    before, start = os.times(), time.monotonic()
    yield
    after = os.times()
    cpu = sum(getattr(after, f) - getattr(before, f) for f in ("user", "system", "children_user", "children_system"))
    with open(out, "a") as fh:
        fh.write(f"{cpu:.1f}\t{time.monotonic() - start:.1f}\t{item.nodeid}\n")
