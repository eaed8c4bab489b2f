"""The README's command blocks, run the way a newcomer copies them.

Every ```sh block of the sections "Quickstart", "Install" and "The lab" runs, command by command
in README order, in one bash session (so `. .venv/bin/activate` carries over), in a fresh clone of
this repository, on a machine whose only Python >= 3.11 is pyenv's 3.12 (a restricted PATH and a
pyenv root holding only that version: Ubuntu 24.04's situation). It runs in a private mount
namespace with its own /run, so the sandbox it makes (/run/nslab-sandbox, the README's default)
is not the one of a lab you may have running. Any failing command fails the test; then the
README's promises are checked in the commands' output.
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from nslabtest import REPO, recaps  # noqa: E402

SECTIONS = ("Quickstart", "Install", "The lab")
PYENV = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
PATH_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def commands(readme: str) -> list[str]:
    """The commands of the ```sh blocks in SECTIONS, in README order."""
    out, section = [], None
    for part in re.split(r"^(## .*)$", readme, flags=re.M):
        if part.startswith("## "):
            section = part[3:].strip()
        elif section in SECTIONS:
            for block in re.findall(r"^```sh\n(.*?)^```$", part, flags=re.M | re.S):
                out += [line for line in block.splitlines() if line.strip()]
    return out


def restricted_path(tmp) -> tuple[str, str]:
    """A PATH with every program of the system's bin directories but no Python, and a pyenv root
    with only 3.12."""
    versions = sorted(glob.glob(os.path.join(PYENV, "versions", "3.12*")))
    if not versions:
        pytest.fail(f"the README test needs pyenv's Python 3.12 under {PYENV}/versions")
    bindir, pyenv = tmp / "bin", tmp / "pyenv" / "versions"
    bindir.mkdir()
    pyenv.mkdir(parents=True)
    os.symlink(versions[-1], pyenv / os.path.basename(versions[-1]))
    for d in PATH_DIRS:
        for name in os.listdir(d) if os.path.isdir(d) else []:
            if re.match(r"python", name) or (bindir / name).exists() or not os.access(os.path.join(d, name), os.X_OK):
                continue
            os.symlink(os.path.join(d, name), bindir / name)
    return str(bindir), str(tmp / "pyenv")


RUNNER = r'''
set -o pipefail
mount -t tmpfs -o mode=755 nslab-readme /run          # this namespace's own /run
cd "$CLONE"
cleanup() { [ -x .venv/bin/ansible-playbook ] && .venv/bin/ansible-playbook playbooks/teardown.yml -e nslab_sandbox_purge=true >/dev/null 2>&1; true; }
trap cleanup EXIT
n=0
while IFS= read -r cmd; do
  n=$((n + 1))
  printf '%s\n' "$cmd" > "$LOGS/$n.cmd"
  eval "$cmd" > "$LOGS/$n.log" 2>&1 < /dev/null || { echo "README command $n failed (exit $?): $cmd"; tail -n 80 "$LOGS/$n.log"; exit 1; }
done < "$LOGS/commands"
echo "all $n README commands passed"
'''


def test_every_readme_command_works_from_a_fresh_clone_with_python_312_only(tmp_path):
    with open(os.path.join(REPO, "README.md")) as fh:
        cmds = commands(fh.read())
    assert "make lab" in cmds and ". .venv/bin/activate" in cmds, cmds
    clone, logs, home = tmp_path / "clone", tmp_path / "logs", tmp_path / "home"
    logs.mkdir()
    home.mkdir()
    subprocess.run(["git", "clone", "-q", REPO, str(clone)], check=True)
    (logs / "commands").write_text("\n".join(cmds) + "\n")
    bindir, pyenv = restricted_path(tmp_path)
    env = dict(PATH=bindir, HOME=str(home), PYENV_ROOT=pyenv, CLONE=str(clone), LOGS=str(logs), LANG="C.UTF-8",
               PIP_CACHE_DIR=os.path.expanduser("~/.cache/pip"), NO_COLOR="1", ANSIBLE_NOCOLOR="1",
               NSLAB_RUN_ID=os.environ.get("NSLAB_RUN_ID", ""), TERM="dumb")
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", RUNNER], env=env,
                          capture_output=True, text=True, timeout=1500, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]

    out = {(logs / f"{i + 1}.cmd").read_text().strip(): (logs / f"{i + 1}.log").read_text() for i in range(len(cmds))}
    venv = json.loads(subprocess.run([str(clone / ".venv/bin/python"), "-c",
                                      "import json, sys, ansible.release; print(json.dumps([sys.version_info[:2], "
                                      "ansible.release.__version__]))"], capture_output=True, text=True,
                                     check=True).stdout)
    assert venv[0] == [3, 12] and venv[1].startswith("2.21."), venv          # the newest Python there, its ansible-core
    assert "NOT reachable" not in out["make lab"] and "12/12 probes reachable" in out["make lab"]
    for start in ("ansible-playbook --version", "ansible-doc nslab.net.veth ", "ansible-doc -t role -l nslab.net "):
        cmd = next(cmd for cmd in out if cmd.startswith(start))
        assert "warning" not in out[cmd].lower(), (cmd, out[cmd][:3000])          # none to misread
    again = next(text for cmd, text in out.items() if cmd.startswith("ansible-playbook playbooks/lab.yml  "))
    assert {h: c["changed"] for h, c in recaps(again).items()} == {"lab1": 0, "localhost": 0}
    check = next(text for cmd, text in out.items() if cmd.startswith("ansible-playbook playbooks/lab.yml --check --diff  "))
    assert {h: c["changed"] for h, c in recaps(check).items()} == {"lab1": 0, "localhost": 0}
    assert "12/12 probes reachable" in out["(cd ~ && ansible-playbook nslab.net.lab)"]
    staged, faulted = [text for cmd, text in out.items() if cmd.startswith("ansible-playbook playbooks/check.yml ||")]
    # the student's check with no -e: the host's record says route, goal forward
    assert "lab1: NOT YET, 3 of 4 facts of goal forward (handed out at stage route)" in staged, staged[-3000:]
    assert "hint:  sysctl -w net.ipv4.ip_forward=1" in staged and "check.yml: exit 2" in staged
    graded = next(text for cmd, text in out.items() if cmd.startswith("ansible-playbook playbooks/grade.yml"))
    assert re.search(r"lab1 +NOT YET 3/4 +route +forward ", graded) and "grade.yml: exit 2" in graded, graded[-3000:]
    assert (clone / "nslab-results" / "index.html").exists()
    assert "hint:  sysctl -w net.ipv4.ip_forward=1" in faulted and "check.yml: exit 2" in faulted
    assert "no-forwarding" not in faulted                                  # the fault's name is the teacher's
    listed = subprocess.run([str(clone / ".venv/bin/ansible-playbook"), "nslab.net.lab", "--list-tasks"], cwd=home,
                            env=dict(env, PATH=f"{clone}/.venv/bin:{bindir}"), capture_output=True, text=True, check=True)
    assert f"playbook: {home}/.ansible/collections/ansible_collections/nslab/net/playbooks/lab.yml" in listed.stdout
    assert (clone / "nslab-graph" / "lab1.svg").exists()
    classed = next(text for cmd, text in out.items() if cmd.startswith("make class STUDENTS=3"))
    assert all(f"student0{i}: 6/12 probes reachable, 12/12 as expected at stage route" in classed for i in (1, 2, 3)), \
        classed[-3000:]
    torn = next(text for cmd, text in out.items() if cmd.startswith("make teardown               #"))
    assert all(f"destroy sandbox student0{i} (purge: no longer listed)" in torn for i in (1, 2, 3)), torn[-3000:]
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True)
    assert status.stdout == "", status.stdout                              # make graph and the rest leave the tree clean
