"""The egress and ingress roles in a user's own playbook: they build the same lab the lab playbook
builds (one is a no-change re-run of the other), report it, re-run with no change, look in check
mode, and tear it down to nothing."""

from __future__ import annotations

import os

from nslabtest import Sandbox, recaps
from test_lab_playbook import ansible_playbook

ROLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", "roles.yml")


def changed(out: str) -> dict:
    return {host: c["changed"] for host, c in recaps(out).items()}


def namespaces(root: str) -> str:
    return Sandbox("lab1", root).run("ip netns list", check=False).stdout


def test_roles_build_report_and_remove_the_lab_the_playbook_builds(tmp_path):
    root = str(tmp_path / "sb")
    try:
        built = ansible_playbook(root, ROLES)
        assert built.returncode == 0 and changed(built.stdout)["lab1"] == 2, built.stdout[-3000:]    # one batch per role
        report = built.stdout[built.stdout.index("TASK [nslab.net.ingress : Connectivity report]"):]
        assert "NOT reachable" not in report and report.count(" reachable ") == 12, report[:3000]
        for args in ((ROLES,), (ROLES, "--check", "--diff")):
            again = ansible_playbook(root, *args)
            assert again.returncode == 0 and changed(again.stdout)["lab1"] == 0, (args, again.stdout[-3000:])
        # lab.yml builds the same lab: it changes nothing but the hand-out record it leaves (the roles leave none)
        same = ansible_playbook(root, "playbooks/lab.yml", "--diff")
        assert same.returncode == 0 and changed(same.stdout)["lab1"] == 1, same.stdout[-3000:]
        assert "+++ after: /etc/nslab/labs/nslab.json" in same.stdout and "+++ after: steps[" not in same.stdout, \
            same.stdout[-3000:]
        assert changed(ansible_playbook(root, "playbooks/lab.yml").stdout)["lab1"] == 0
        assert "netns1" in namespaces(root) and "netns2" in namespaces(root)
        down = ansible_playbook(root, ROLES, "-e", "nslab_state=absent")
        assert down.returncode == 0 and changed(down.stdout)["lab1"] == 2, down.stdout[-3000:]
        assert namespaces(root).strip() == ""      # (teardown twice: test_reliability, test_lab_playbook)
    finally:
        ansible_playbook(root, "playbooks/teardown.yml")
        for name in ("lab1", "nslab-internet"):
            Sandbox(name, root).destroy()
