"""The fleet-ssh scenario's steps that are whole ansible-playbook runs, made the way a user makes
them (``ansible-playbook -i inventory.yml playbooks/lab.yml ...``) and judged by their exit code,
their PLAY RECAP and what the VMs hold afterwards (read over ssh).

    scenario.py prepare        the bare VM with nslab_requirements=check: refused, nothing changed
    scenario.py side-effect    --check --diff changes nothing; drift on one VM repaired and reported
                               all reachable in the same run; a non-root controller user runs the lab
    scenario.py cleanup        teardown leaves nothing on any VM; a second teardown changes nothing
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIO = os.path.join(REPO, "molecule", "fleet-ssh")
INVENTORY = os.path.join(SCENARIO, "inventory.yml")
sys.path.insert(0, os.path.join(REPO, "tests"))
from nslabtest import recaps  # noqa: E402  (one PLAY RECAP parser for every test)

BIN = os.path.dirname(sys.executable)                 # the controller venv's (no pyroute2 in it)
USER = "nslab"
ADDRESSES = {"deb12": "192.0.2.11", "deb12-sudo": "192.0.2.12", "deb13": "192.0.2.13", "bare": "192.0.2.14"}


def say(msg: str) -> None:
    print(f"[fleet-ssh] {msg}", flush=True)


def home_of(user: str) -> str:
    import pwd

    return pwd.getpwnam(user).pw_dir


def playbook(*args: str, user: str | None = None, cwd: str = REPO, env: dict | None = None) -> tuple[int, str, dict]:
    """One ansible-playbook run; its exit code, its output and its PLAY RECAP ({host: {"changed": 0, ...}})."""
    argv = [os.path.join(BIN, "ansible-playbook"), "-i", INVENTORY, *args]
    full_env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="True", ANSIBLE_PIPELINING="True", NO_COLOR="1",
                    **(env or {}))
    full_env.pop("ANSIBLE_CONFIG", None)             # the repository's ansible.cfg, as for a user
    if user:
        home = home_of(user)
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", *argv]
        full_env.update(HOME=home, USER=user, LOGNAME=user)
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=cwd, env=full_env, capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    recap = recaps(out)
    counts = {host: (c["changed"], c["unreachable"], c["failed"]) for host, c in recap.items()}
    say(f"ansible-playbook {' '.join(args)}{' as ' + user if user else ''}: exit {proc.returncode} "
        f"in {time.monotonic() - start:.1f} s, recap (changed, unreachable, failed) {counts}")
    return proc.returncode, out, recap


def fail(msg: str, out: str = "") -> None:
    print(out[-6000:])
    raise SystemExit(f"[fleet-ssh] FAILED: {msg}")


def ssh(host: str, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-o", "BatchMode=yes", f"root@{ADDRESSES[host]}", command],
                          capture_output=True, text=True, check=False, timeout=60)


def lab_objects(host: str) -> str:
    """What of a lab a VM holds: namespaces, lab links, nslab rules, demo services (empty = none)."""
    script = (
        "ip netns list; "
        "ip -o link show | grep -E 'nslab|veth|br0|ceth' || true; "
        "iptables-save 2>/dev/null | grep -i nslab || true; "
        "nft list ruleset 2>/dev/null | grep -i nslab || true; "
        "pgrep -af '[h]ttp.server|[n]slab-service' || true")
    proc = ssh(host, script)
    if proc.returncode != 0:
        fail(f"cannot read {host}: {proc.stderr}")
    return proc.stdout.strip()


def prepare() -> None:
    rc, out, recap = playbook("playbooks/lab.yml", "--limit", "bare", "-e", "nslab_requirements=check")
    if rc == 0 or "python3-pyroute2" not in out:
        fail("nslab_requirements=check on the bare VM must fail, naming python3-pyroute2", out)
    if lab_objects("bare"):
        fail(f"the refused run changed the bare VM:\n{lab_objects('bare')}")
    say("bare VM with nslab_requirements=check: refused before any change, naming python3-pyroute2")


def no_changes(recap: dict, hosts=None) -> bool:
    return all(recap.get(h, {}).get("changed") == 0 for h in (hosts or ADDRESSES))


def side_effect() -> None:
    rc, out, recap = playbook("playbooks/lab.yml", "--check", "--diff")
    if rc != 0 or not no_changes(recap):
        fail("--check --diff on the converged fleet must report changed=0 on every VM", out)
    drift = ssh("deb12", "ip link del veth0 && ip netns exec netns2 ip route del default")
    if drift.returncode != 0:
        fail(f"could not make drift on deb12: {drift.stderr}")
    rc, out, recap = playbook("playbooks/lab.yml")
    if rc != 0 or recap.get("deb12", {}).get("changed", 0) == 0 or not no_changes(recap, [h for h in ADDRESSES if h != "deb12"]):
        fail("drift on deb12 must be repaired (changed there only) and reported all reachable in the same run", out)
    if "NOT reachable" in out:
        fail("the report after the repair says NOT reachable", out)
    say("drift on deb12 repaired; the report in the same run is all reachable")
    non_root_controller()


def non_root_controller() -> None:
    """A controller user without root, in a clone of its own, with a Python that has no pyroute2."""
    home = home_of(USER)
    clone = os.path.join(home, "nslab.net")
    shutil.rmtree(clone, ignore_errors=True)
    shutil.copytree(REPO, clone, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".venv*", ".cache", "nslab-results", "__pycache__"))
    links = os.path.join(clone, ".cache", "collections", "ansible_collections", "nslab")
    os.makedirs(links)
    os.symlink("../../../..", os.path.join(links, "net"))
    subprocess.run(["chown", "-R", f"{USER}:{USER}", clone], check=True)
    probe = subprocess.run(["setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", "--", sys.executable,
                            "-c", "import importlib.util, os; print(os.geteuid(), importlib.util.find_spec('pyroute2'))"],
                           capture_output=True, text=True, check=True).stdout.split()
    if probe != [subprocess.run(["id", "-u", USER], capture_output=True, text=True, check=True).stdout.strip(), "None"]:
        fail(f"the controller user must be non-root without pyroute2: {probe}")
    rc, out, recap = playbook(os.path.join(clone, "playbooks", "lab.yml"), user=USER, cwd=clone)
    if rc != 0 or not no_changes(recap) or "NOT reachable" in out:
        fail("lab.yml by a non-root controller user (no pyroute2) must pass with changed=0", out)
    results = os.path.join(clone, "nslab-results")
    if not os.path.isdir(results) or not all(os.path.exists(os.path.join(results, f"{h}.json")) for h in ADDRESSES):
        fail(f"the non-root run wrote no results into {results}", out)
    say("lab.yml by the non-root controller user nslab (no pyroute2): passed, changed=0, results written")


def cleanup() -> None:
    rc, out, recap = playbook("playbooks/teardown.yml")
    if rc != 0:
        fail("teardown failed", out)
    left = {h: lab_objects(h) for h in ADDRESSES}
    if any(left.values()):
        fail("teardown left lab objects: " + json.dumps(left, indent=1), out)
    rc, out, recap = playbook("playbooks/teardown.yml")
    if rc != 0 or not no_changes(recap):
        fail("a second teardown must report changed=0 on every VM", out)
    say("teardown left no namespace, bridge, veth, rule or service; a second teardown changed nothing")


if __name__ == "__main__":
    steps = {"prepare": prepare, "side-effect": side_effect, "cleanup": cleanup}
    if len(sys.argv) != 2 or sys.argv[1] not in steps:
        raise SystemExit(f"usage: {sys.argv[0]} {'|'.join(steps)}")
    steps[sys.argv[1]]()
