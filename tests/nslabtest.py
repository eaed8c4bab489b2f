"""Helpers for tests that run the collection's modules inside sandboxes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, ".cache", "collections")
PYTHON = os.environ.get("NSLAB_MANAGED_PYTHON", sys.executable)


def ensure_collection_link() -> str:
    """<repo>/.cache/collections/ansible_collections/nslab/net -> the repo."""
    parent = os.path.join(COLLECTIONS, "ansible_collections", "nslab")
    os.makedirs(parent, exist_ok=True)
    link = os.path.join(parent, "net")
    if not os.path.islink(link):
        os.symlink(os.path.relpath(REPO, parent), link)
    return COLLECTIONS


def ansible_only() -> str:
    """A directory holding only the controller's ``ansible`` package, so a managed
    Python of another version (with its own pyroute2) can import module_utils."""
    import ansible

    path = os.path.join(REPO, ".cache", "ansible-only")
    os.makedirs(path, exist_ok=True)
    link = os.path.join(path, "ansible")
    if not os.path.islink(link):
        os.symlink(os.path.dirname(ansible.__file__), link)
    return path


ensure_collection_link()
sys.path.insert(0, COLLECTIONS)
from ansible_collections.nslab.net.plugins.module_utils._sandbox.sandbox import Internet, Sandbox  # noqa: E402

__all__ = ["COLLECTIONS", "REPO", "Internet", "ModuleRunner", "Sandbox", "lab_state", "playbook", "recap", "state_of"]


class ModuleRunner:
    """Run a module through its real entry point (an args file) inside a sandbox."""

    def __init__(self, sandbox: Sandbox, tmpdir: str):
        self.sandbox = sandbox
        self.tmpdir = tmpdir

    def __call__(self, module: str, check: bool = False, diff: bool = True, expect_fail: bool = False, **args):
        args = {k: val for k, val in args.items() if val is not None}
        args.update(_ansible_check_mode=check, _ansible_diff=diff)
        fd, path = tempfile.mkstemp(dir=self.tmpdir, suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump({"ANSIBLE_MODULE_ARGS": args}, fh)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([COLLECTIONS, ansible_only()]))
        proc = self.sandbox.run([PYTHON, "-m", f"ansible_collections.nslab.net.plugins.modules.{module}", path],
                                check=False, env=env)
        assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr + proc.stdout
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError(f"module {module} printed no JSON (exit {proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}") from None
        if expect_fail:
            assert result.get("failed"), f"{module} should have failed: {result}"
            assert "exception" not in result, result["exception"]
        else:
            assert not result.get("failed"), f"{module} failed: {result.get('msg')}\n{result}"
        return result

    def four(self, module: str, **args):
        """check, apply, check, apply: changed twice, then not; returns the first apply."""
        first_check = self(module, check=True, **args)
        assert first_check["changed"], f"check mode should report a change: {first_check}"
        applied = self(module, **args)
        assert applied["changed"], applied
        assert applied["actions"] == first_check["actions"], (first_check["actions"], applied["actions"])
        assert applied["diff"]["before"] != applied["diff"]["after"]
        assert first_check["diff"] == applied["diff"], (first_check["diff"], applied["diff"])
        second_check = self(module, check=True, **args)
        assert not second_check["changed"], second_check["actions"]
        again = self(module, **args)
        assert not again["changed"], again["actions"]
        assert again["diff"]["before"] == again["diff"]["after"]
        return applied

    def sh(self, cmd: str, check: bool = True):
        return self.sandbox.run(cmd, check=check)


def playbook(box, path: str, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """ansible-playbook inside the sandbox, connection local; returns the process."""
    bindir = os.path.dirname(sys.executable)
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS, "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml",
           "ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False", **(env or {})}
    return box.run([os.path.join(bindir, "ansible-playbook"), "-i", "lab,", "-c", "local",
                    "-e", f"ansible_python_interpreter={PYTHON}", path, *extra], check=False, env=env, timeout=300)


def state_of(box) -> dict:
    """The sandbox's own network state (the same fingerprint the suite takes of the machine)."""
    import json
    proc = box.run([sys.executable, os.path.join(REPO, "tests", "hostnet.py")])
    return json.loads(proc.stdout)


def grade_rows(out: str, students) -> dict:
    """{student: the words of its row} from grade.yml's table (the rows of ``students``) in ansible-playbook's output."""
    body = out[out.index("TASK [The grade"):]
    return {line.split()[0]: line.split()[1:] for line in body.splitlines()
            if line.startswith(" " * 8) and line.split() and line.split()[0] in students}


def recaps(text: str) -> dict:
    """Every host's PLAY RECAP counters in ansible-playbook's output: {host: {"ok": 3, "changed": 0, ...}}."""
    import re

    return {m[1]: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m[2])}
            for m in re.finditer(r"^(\S+)\s+: (ok=\d+.*)$", text, re.M)}


def recap(proc) -> dict:
    """The PLAY RECAP counters of the one host."""
    counters = recaps(proc.stdout).get("lab")
    assert counters, proc.stdout + proc.stderr
    return counters


def lab_state(box) -> dict:
    """Links (with master, state, addresses) and routes of the host and every namespace, our
    and foreign NAT/filter rules (asserting none is there twice), and forwarding."""
    out = {}
    namespaces = box.run("ls /run/netns 2>/dev/null", check=False).stdout.split()
    for ns in ["", *sorted(namespaces)]:
        prefix = f"ip -n {ns} " if ns else "ip "
        links = json.loads(box.run(prefix + "-j addr show").stdout)
        out[ns or "host"] = dict(
            links=sorted((x["ifname"], x.get("master"), x["operstate"],
                          tuple(sorted(a["local"] for a in x["addr_info"] if a.get("scope") == "global")))
                         for x in links),
            routes=sorted(json.dumps(r, sort_keys=True) for r in json.loads(box.run(prefix + "-j route").stdout)))
    rules = [line for line in box.run("iptables-save").stdout.splitlines() if line.startswith("-A")]
    assert len(rules) == len(set(rules)), f"duplicate rules: {rules}"
    out["nat"] = sorted(rules)
    out["forwarding"] = box.run("sysctl -n net.ipv4.ip_forward").stdout.strip()
    return out
