"""A wrong role variable, as a newcomer sees it: one message, naming the nslab_ variable they set
(and, for a misspelled key, the keys it takes), before any module runs; no argument spec dump and
no "Finalization of task args" preamble."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nslabtest import COLLECTIONS, REPO

PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  roles:
    - nslab.net.%s
"""


@pytest.mark.parametrize("role, extra, message", [
    ("egress", '{"nslab_namespaces": [{"name": "netns1", "adress": "192.168.0.2"}]}',
     "nslab_namespaces[0].adress: is not a key of nslab_namespaces entries (they take name, address, veth, peer)"),
    ("egress", '{"nslab_gateway": "192.168.0.0/16"}',
     "nslab_gateway: 192.168.0.0/16 is the subnet's network address, not a host address"),
    ("ingress", '{"nslab_published_ports": [{"namespace": "netns9", "port": 80}]}',
     "nslab_published_ports[0].namespace: 'netns9' is not one of nslab_namespaces"),
])
def test_a_wrong_variable_fails_once_by_its_name(tmp_path, role, extra, message):
    play = tmp_path / "play.yml"
    play.write_text(PLAY % role)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1",
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(play), "-e", extra],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert out.replace("\n        ", " ").replace("''", "'").count(message) == 1, out   # as YAML prints it
    for noise in ("Finalization of task args", "argument_spec_data", "egress_namespaces", "caused by"):
        assert noise not in out, out
    assert "nslab.net.batch" not in out and "changed=0" in out       # failed before any module ran


SANDBOX_PLAY = PLAY.replace("    - nslab.net.%s", """    - role: nslab.net.sandbox
      vars: {sandbox_root: "%s", sandbox_hosts: %s, sandbox_state: %s, sandbox_create: %s}""")


def test_the_sandbox_roles_uplink_address_is_needed_only_to_create_as_documented(tmp_path):
    """The sandbox role documents uplink_address as required to create a sandbox, not to find or remove it: an entry
    without it finds (sandbox_create false) and removes the sandbox made with it, and is refused only on creation."""
    from nslabtest import Sandbox

    root = str(tmp_path / "sb")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1",
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))

    def run(hosts: str, state: str = "present", create: str = "true") -> subprocess.CompletedProcess:
        play = tmp_path / "play.yml"
        play.write_text(SANDBOX_PLAY % (root, hosts, state, create))
        return subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(play)], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    try:
        refused = run("[{name: sbx1}]")
        assert refused.returncode != 0 and "items[0].uplink_address: is required" in refused.stdout, refused.stdout[-2000:]
        assert run("[{name: sbx1, uplink_address: 203.0.113.31}]").returncode == 0 and Sandbox("sbx1", root).exists()
        found = run("[{name: sbx1}]", create="false")
        assert found.returncode == 0 and "changed=0" in found.stdout, found.stdout[-2000:]
        removed = run("[{name: sbx1}]", state="absent")
        assert removed.returncode == 0 and not Sandbox("sbx1", root).exists(), removed.stdout[-2000:]
    finally:
        for name in ("sbx1", "nslab-internet"):
            Sandbox(name, root).destroy()
