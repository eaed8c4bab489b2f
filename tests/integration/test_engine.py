"""The engine a persisted lab boots with (module_utils/_persist/persist.py, boot.py), made from the module payload
that this controller's ansible-core sends (2.21 here; 2.18 and 2.19 in the matrix cells), run by the
managed Python as its systemd unit runs it, against the real kernel inside a sandbox."""

from __future__ import annotations

import base64
import glob
import json
import os
import re
import subprocess
import sys

import pytest

from nslabtest import COLLECTIONS, PYTHON, REPO, ansible_only
from ansible_collections.nslab.net.plugins.module_utils._persist.persist import Engine, intent_text


def payload_zip(collections: str, tmp) -> str:
    """The batch module's real payload, as this controller's ansible-core sends it, from the collection under
    ``collections`` (kept by ANSIBLE_KEEP_REMOTE_FILES); its path."""
    env = dict(os.environ, ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_REMOTE_TMP=str(tmp / "remote"),
               ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_LOCALHOST_WARNING="False")
    subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local", "-e",
                    f"ansible_python_interpreter={sys.executable}", "-m", "nslab.net.batch", "-a", '{"steps": []}'],
                   env=env, capture_output=True, check=True)
    wrapper = open(glob.glob(str(tmp / "remote" / "*" / "AnsiballZ_batch.py"))[0]).read()
    data = re.search(r"^\s*(?:zip_data|ZIPDATA) ?= ?'([^']+)'", wrapper, re.M).group(1)
    (tmp / "payload.zip").write_bytes(base64.b64decode(data))
    return str(tmp / "payload.zip")


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> str:
    """nslab-engine.pyz made from a real payload of the batch module."""
    tmp = tmp_path_factory.mktemp("engine")
    path = tmp / "nslab-engine.pyz"
    path.write_bytes(Engine(payload_zip(COLLECTIONS, tmp)).data())
    return str(path)


#: main before plugins/module_utils moved into its layers' packages (issue "The engine in layers"): a lab persisted
#: by it carries that version's engine and intent, which must still boot, and which this version must find built
PREVIOUS = "11529a460edabd310116d6ef516fcdfa9fdc0ebd"


@pytest.fixture(scope="module")
def previous(tmp_path_factory) -> dict:
    """The previous version's collection (``git archive`` of PREVIOUS), the engine it persists and its intent_text,
    each made by that version's own code."""
    if subprocess.run(["git", "-C", REPO, "cat-file", "-e", PREVIOUS + "^{commit}"], capture_output=True, check=False).returncode:
        pytest.skip(f"the previous version {PREVIOUS[:7]} is not in this clone's history: git fetch --unshallow")
    tmp = tmp_path_factory.mktemp("previous")
    collection = tmp / "collections" / "ansible_collections" / "nslab" / "net"
    collection.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", REPO, "archive", PREVIOUS, "plugins", "galaxy.yml", "meta"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(collection)], input=archive, check=True)
    assert (collection / "plugins" / "module_utils" / "persist.py").exists(), "the previous version's layout"
    payload = payload_zip(str(tmp / "collections"), tmp)
    script = ("import json, sys\n"
              "from ansible_collections.nslab.net.plugins.module_utils.persist import Engine, intent_text\n"
              "open(sys.argv[2], 'wb').write(Engine(sys.argv[1]).data())\n"
              "print(intent_text('t', 'lab', json.loads(sys.argv[3])))\n")
    steps = [dict(module="netns", args=dict(lab="t", items=[dict(name="b1")])),
             dict(module="veth", args=dict(lab="t", items=[dict(name="bv1", peer="bc1", peer_netns="b1",
                                                                peer_address=["10.77.0.2/24"])]))]
    made = subprocess.run([sys.executable, "-c", script, payload, str(tmp / "nslab-engine.pyz"), json.dumps(steps)],
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp / "collections"), ansible_only()])),
                          capture_output=True, text=True, check=True)
    return dict(engine=str(tmp / "nslab-engine.pyz"), intent=made.stdout)


def save(tmp_path, steps: list) -> str:
    directory = tmp_path / "labs" / "t"
    directory.mkdir(parents=True)
    (directory / "lab.json").write_text(intent_text("t", "lab", steps))
    return str(directory)


def boot(box, engine: str, directory: str, *args: str, wait: str = "60"):
    """As the unit runs it: a clean environment with the unit's NSLAB_BOOT_WAIT."""
    return box.run(["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"NSLAB_BOOT_WAIT={wait}",
                    PYTHON, engine, *args, directory], check=False)


def test_the_engine_checks_then_builds_then_finds_the_lab_up(sandbox, engine, tmp_path):
    directory = save(tmp_path, [
        dict(module="netns", args=dict(lab="t", items=[dict(name="b1")])),
        dict(module="veth", args=dict(lab="t", items=[dict(name="bv1", peer="bc1", peer_netns="b1",
                                                           peer_address=["10.77.0.2/24"])]))])
    checked = boot(sandbox, engine, directory, "--check")
    assert checked.returncode == 0 and "lab t: would change" in checked.stdout, checked.stdout + checked.stderr
    assert "lab: add netns b1" in checked.stdout and sandbox.run("ip netns list").stdout == ""
    built = boot(sandbox, engine, directory)
    assert built.returncode == 0 and built.stdout.strip().endswith("lab t: built"), built.stdout + built.stderr
    assert "b1" in sandbox.run("ip netns list").stdout
    assert "10.77.0.2/24" in sandbox.run("ip -n b1 -o addr show bc1").stdout
    again = boot(sandbox, engine, directory)
    assert again.returncode == 0 and again.stdout.strip().endswith("lab t: already up"), again.stdout


def test_a_boot_with_no_uplink_fails_after_its_bound_having_built_nothing(sandbox, engine, tmp_path):
    directory = save(tmp_path, [
        dict(module="netns", args=dict(lab="t", items=[dict(name="b1")])),
        dict(module="nat_rule", args=dict(lab="t", items=[dict(type="masquerade", source="10.77.0.0/24", uplink=True)]))])
    failed = boot(sandbox, engine, directory, wait="1")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "lab t: FAILED: no uplink after 1 s" in failed.stderr and "nothing was built" in failed.stderr
    assert "waiting up to 1 s for the uplink" in failed.stdout
    assert sandbox.run("ip netns list").stdout == ""


def test_a_refused_saved_step_fails_the_boot_naming_the_step_and_the_unit(sandbox, engine, tmp_path):
    sandbox.run("ip link add bv1 type veth peer name bv1peer")     # someone else's link where the lab's veth goes
    directory = save(tmp_path, [
        dict(module="netns", args=dict(lab="t", items=[dict(name="b1")])),
        dict(module="veth", args=dict(lab="t", items=[dict(name="bv1", peer="bc1", peer_netns="b1")]))])
    failed = boot(sandbox, engine, directory)
    assert failed.returncode == 1 and "steps[1] (veth)" in failed.stderr, failed.stderr
    assert "nothing of this part was changed" in failed.stderr and "systemctl restart nslab-t.service" in failed.stderr
    assert sandbox.run("ip netns list").stdout == "", "all or nothing at boot too"
    assert json.loads(open(os.path.join(directory, "lab.json")).read())["steps"][1]["module"] == "veth"


def test_a_lab_persisted_by_the_previous_version_boots_with_its_engine_and_this_version_finds_it_built(
        sandbox, engine, previous, tmp_path):
    """A host upgraded after saving its lab still has the previous version's engine and intent on disk: at boot that
    engine builds the lab from that intent; this version's engine, given the same intent, finds the lab already up (the
    same marks, names and addresses), so the next lab.yml run only replaces the engine."""
    directory = tmp_path / "labs" / "t"
    directory.mkdir(parents=True)
    (directory / "lab.json").write_text(previous["intent"])
    built = boot(sandbox, previous["engine"], str(directory))
    assert built.returncode == 0 and built.stdout.strip().endswith("lab t: built"), built.stdout + built.stderr
    assert "10.77.0.2/24" in sandbox.run("ip -n b1 -o addr show bc1").stdout
    again = boot(sandbox, engine, str(directory))
    assert again.returncode == 0 and again.stdout.strip().endswith("lab t: already up"), again.stdout + again.stderr
