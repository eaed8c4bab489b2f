"""playbooks/lab.yml and teardown.yml as users run them, with sandbox hosts under a
private root: check mode builds nothing, the report is measured, teardown leaves nothing."""

from __future__ import annotations

import os
import subprocess
import sys

from nslabtest import COLLECTIONS, REPO, Internet, Sandbox, state_of


def ansible_playbook(root, *args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1")
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), *args,
            "-e", f"nslab_sandbox_root={root}"]
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)


def recap(out, host):
    line = next(line for line in out.splitlines() if line.startswith(f"{host} ") and "ok=" in line)
    return {k: int(v) for k, v in (f.split("=") for f in line.split(":", 1)[1].split())}


def test_check_diff_on_an_existing_sandbox_shows_the_lab_and_builds_nothing(tmp_path):
    root = str(tmp_path / "sb")
    internet, box = Internet(root), Sandbox("lab1", root)
    try:
        internet.create()
        box.create()
        internet.attach(box, "203.0.113.10")
        before = state_of(box)
        proc = ansible_playbook(root, "playbooks/lab.yml", "--check", "--diff")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert recap(proc.stdout, "lab1")["changed"] >= 3     # egress batch, demo directories, ingress batch
        for words in ('"netns1": {\n-        "state": "absent"', '"peer_netns": "netns1"', '"192.168.0.2/16"',
                      '"192.168.0.1/16"', '"to": "192.168.0.2:5000"', '"destination": "203.0.113.10/32"',
                      '"command": [', '"value": "1"'):
            assert words in proc.stdout, words
        assert state_of(box) == before
    finally:
        box.destroy()
        internet.destroy()


def test_lab_report_idempotence_and_teardown_to_nothing(tmp_path):
    root = str(tmp_path / "sb")
    try:
        first = ansible_playbook(root, "playbooks/lab.yml")
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr
        report = first.stdout[first.stdout.index("FACT"):]
        for fact in ("host -> namespace", "namespace -> host", "namespace -> namespace",
                     "namespace -> internet", "outside -> published port", "namespace -> published port"):
            assert f"{fact}" in report
        assert "NOT reachable" not in report
        again = ansible_playbook(root, "playbooks/lab.yml")
        assert again.returncode == 0 and recap(again.stdout, "lab1")["changed"] == 0, again.stdout[-3000:]
        down = ansible_playbook(root, "playbooks/teardown.yml")
        assert down.returncode == 0, down.stdout[-3000:]
        assert not os.path.exists(root) or os.listdir(root) == []
        assert not Sandbox("lab1", root).exists() and not Internet(root).exists()
        down = ansible_playbook(root, "playbooks/teardown.yml")      # nothing left to remove
        assert down.returncode == 0 and "lab1" not in down.stdout.split("PLAY RECAP")[1]
    finally:
        for name in ("lab1", "nslab-internet"):
            Sandbox(name, root).destroy()
