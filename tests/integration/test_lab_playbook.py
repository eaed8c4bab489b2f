"""playbooks/lab.yml and teardown.yml as users run them, with sandbox hosts under a
private root: check mode builds nothing, the report is measured, the fleet summary and the
results files name every host (failed and unreachable ones too), teardown leaves nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

from nslabtest import COLLECTIONS, REPO, Internet, Sandbox, recaps, state_of

FACTS = ("host -> namespace", "namespace -> host", "namespace -> namespace", "namespace -> uplink",
         "namespace -> internet", "namespace -> published port", "outside -> published port")      # in the order they are probed


def ansible_playbook(root, *args):
    """ansible-playbook with the repository's ansible.cfg, run in the directory above ``root`` (a
    test's tmp_path), so the results files (nslab-results/ there by default) stay out of the repository."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1",
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    args = [os.path.join(REPO, a) if a.startswith("playbooks/") else a for a in args]
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), *args,
            "-e", f"nslab_sandbox_root={root}"]
    return subprocess.run(argv, cwd=os.path.dirname(root), env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def sandbox_inventory(tmp_path, root, hosts: dict) -> str:
    """An inventory of sandbox hosts under ``root`` as lab hosts (``hosts``: name -> host vars), with the
    simulated internet as their outside client; its path."""
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {
        "vars": {"ansible_connection": "nslab.net.sandbox", "ansible_python_interpreter": sys.executable,
                 "nslab_sandbox_root": root},
        "hosts": {"nslab-internet": {}},
        "children": {"nslab_lab": {
            "vars": {"nslab_outside_client": "nslab-internet", "nslab_requirements": "skip",
                     "nslab_report_internet": {"target": "198.51.100.10", "kind": "http", "port": 80}},
            "hosts": hosts}}}}))
    return str(inventory)


def block(out, task):
    """The multi-line ``msg`` a debug task printed (callback_result_format = yaml shows it as a block)."""
    head = out.index(f"TASK [{task}]")
    body = out[out.index("msg: |-\n", head) + len("msg: |-\n"):]
    lines = []
    for line in body.splitlines():
        if not line.startswith("        "):
            break
        lines.append(line[8:])
    return lines


def recap(out, host):
    return recaps(out)[host]


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
        assert recap(proc.stdout, "lab1")["changed"] == 1     # the one batch of the lab host
        # the diffs, as callback_result_format = yaml prints them
        for words in ("netns1:\n-        state: absent", "+        peer_netns: netns1", "+        - 192.168.0.2/16",
                      "+        - 192.168.0.1/16", "+        to: 192.168.0.2:5000",
                      "+        destination: 203.0.113.10/32", "+        command:\n", "+        value: '1'"):
            assert words in proc.stdout, words
        summary = block(proc.stdout, "Fleet summary")
        assert summary == ["No connectivity report: nothing was measured.", "lab1: built, not measured (check mode)"]
        assert not (tmp_path / "nslab-results").exists()          # check mode writes nothing
        assert state_of(box) == before
    finally:
        box.destroy()
        internet.destroy()


def test_lab_report_idempotence_and_teardown_to_nothing(tmp_path):
    root = str(tmp_path / "sb")
    try:
        first = ansible_playbook(root, "playbooks/lab.yml")
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr
        report = block(first.stdout, "Connectivity report")
        # the lab host's own probes; the outside probes of the whole fleet run once, for the summary
        assert report[0].split() == ["FACT", "PROBE", "RESULT", "RTT"] and len(report) == 12, report
        assert {line.split("  ")[0] for line in report[1:]} == set(FACTS) - {"outside -> published port"}
        # a probe that needed a second ping under load says so after its RTT: "(2 attempts)"
        assert all(re.search(r" reachable +\d+\.\d ms( +\(\d+ attempts\))?$", line) for line in report[1:]), report
        summary = block(first.stdout, "Fleet summary")
        assert summary[0].split() == ["FACT", "lab1"], summary
        assert [line.split("  ")[0] for line in summary[1:8]] == list(FACTS)
        assert all(line.endswith("  reachable") for line in summary[1:8]), summary
        assert summary[8:] == ["lab1: 12/12 probes reachable"], summary
        assert "NOT reachable" not in first.stdout
        again = ansible_playbook(root, "playbooks/lab.yml")
        assert again.returncode == 0, again.stdout[-3000:]
        assert {host: c["changed"] for host, c in recaps(again.stdout).items()} == {"lab1": 0, "localhost": 0}
        # all or nothing: a lab whose subnet overlaps the uplink is refused (by the bridge step, after steps that
        # would delete netns2 and re-address ceth0) before anything changes
        before = state_of(Sandbox("lab1", root))
        overlap = ansible_playbook(root, "playbooks/lab.yml", "-e", json.dumps(dict(
            nslab_gateway="203.0.113.50/24", nslab_namespaces=[dict(name="netns1", address="203.0.113.51", veth="veth0",
                                                                    peer="ceth0")], nslab_published_ports=[],
            nslab_demo_services=[])))
        assert overlap.returncode != 0 and "nothing was changed" in " ".join(overlap.stdout.split()), overlap.stdout[-3000:]
        assert recaps(overlap.stdout)["lab1"]["changed"] == 0
        with open(tmp_path / "nslab-results" / "lab" / "lab1.json") as fh:     # in the user's words, the step as detail
            said = json.load(fh)["failure"]["msg"]
        assert said.startswith("nslab_gateway: 203.0.113.50/24 overlaps 203.0.113.10/24 on eth0 in the host namespace "
                               "(not made by nslab.net)"), said
        assert said.endswith("(steps[2] bridge_port items[0].address[0]; nothing was changed)"), said
        assert state_of(Sandbox("lab1", root)) == before
        # a published port that no demo service serves: said so, naming the variables
        unserved = ansible_playbook(root, "playbooks/lab.yml", "-e", '{"nslab_demo_services": []}')
        words = " ".join(unserved.stdout.split())
        assert unserved.returncode != 0, unserved.stdout[-3000:]
        assert ("lab1: outside -> published port NOT reachable (nothing serves netns1's 192.168.0.2:5000, which "
                "nslab_published_ports[0] publishes: nslab_demo_services has no service there - add {namespace: "
                "netns1, port: 5000} to it, or start your own)") in words.replace("''", "'"), words[-3000:]
        down = ansible_playbook(root, "playbooks/teardown.yml")
        assert down.returncode == 0, down.stdout[-3000:]
        assert not os.path.exists(root) or os.listdir(root) == []
        assert not Sandbox("lab1", root).exists() and not Internet(root).exists()
        down = ansible_playbook(root, "playbooks/teardown.yml")      # nothing left to remove
        assert down.returncode == 0 and {host: c["changed"] for host, c in recaps(down.stdout).items()} == {"localhost": 0}
    finally:
        for name in ("lab1", "nslab-internet"):
            Sandbox(name, root).destroy()


def test_lab_writes_a_record_per_host_and_junit_xml(tmp_path):
    root = str(tmp_path / "sb")
    try:
        proc = ansible_playbook(root, "playbooks/lab.yml")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
        results = tmp_path / "nslab-results" / "lab"     # the default: relative to where ansible-playbook runs
        record = json.loads((results / "lab1.json").read_text())
        assert (record["host"], record["status"], record["stage"], record["failure"]) == ("lab1", "ok", "report", None)
        assert {p["fact"] for p in record["results"]} == set(FACTS) and len(record["results"]) == 12
        for p in record["results"]:
            assert p["ok"] and p["probe"] and isinstance(p["ms"], (int, float)), p
        suites = ET.parse(results / "junit.xml").getroot()
        cases = suites.findall("./testsuite/testcase")
        assert [c.get("name") for c in cases] == ["lab host"] + [f"{p['fact']}: {p['probe']}" for p in record["results"]]
        assert {c.get("classname") for c in cases} == {"lab1"}
        assert suites.find(".//failure") is None and suites.get("failures") == "0"
    finally:
        ansible_playbook(root, "playbooks/teardown.yml")
        for name in ("lab1", "nslab-internet"):
            Sandbox(name, root).destroy()


def test_a_failed_and_an_unreachable_host_do_not_stop_the_others(tmp_path):
    """lab2's variables are wrong, lab3 renamed the default namespace but not the default published port, and ghost
    has no sandbox: lab1 is still built and measured, the summary and the results name the others (lab3's error
    saying that the port is the default's and what overrides it), and the run fails at the end."""
    root = str(tmp_path / "sb")
    internet, boxes = Internet(root), [Sandbox("lab1", root), Sandbox("lab2", root), Sandbox("lab3", root)]
    renamed = {"nslab_namespaces": [{"name": "web", "address": "192.168.0.9"}]}
    inventory = sandbox_inventory(tmp_path, root, {"lab1": {}, "lab2": {"nslab_gateway": "192.168.0.1"}, "lab3": renamed,
                                                   "ghost": {}})
    try:
        internet.create()
        for box, address in zip(boxes, ("203.0.113.10", "203.0.113.11", "203.0.113.12")):
            box.create()
            internet.attach(box, address)
        proc = ansible_playbook(root, "-i", str(inventory), "playbooks/lab.yml")
        assert proc.returncode != 0, proc.stdout[-3000:]
        assert recap(proc.stdout, "lab1")["changed"] > 0 and recap(proc.stdout, "lab2")["rescued"] == 1
        summary = block(proc.stdout, "Fleet summary")
        assert summary[0].split() == ["FACT", "lab1", "lab2", "lab3", "ghost"], summary
        assert all(line.endswith("reachable  host failed  host failed  unreachable") for line in summary[1:8]), summary
        assert summary[8] == "lab1: 12/12 probes reachable"
        assert summary[9].startswith("lab2: host failed: ") and "nslab_gateway" in summary[9], summary
        assert summary[10].startswith("lab3: host failed: "), summary
        assert summary[11].startswith("ghost: unreachable: sandbox 'ghost' is not running"), summary
        # (ansible-core 2.18's YAML output folds a long message: compared word by word)
        assert "Failed lab hosts or NOT reachable facts: lab2: host failed; lab3: host failed; ghost: unreachable" \
            in " ".join(proc.stdout.split())
        results = tmp_path / "nslab-results" / "lab"
        lab1, lab2, lab3, ghost = (json.loads((results / f"{h}.json").read_text()) for h in ("lab1", "lab2", "lab3", "ghost"))
        assert lab1["status"] == "ok" and all(p["ok"] for p in lab1["results"]) and len(lab1["results"]) == 12
        assert lab2["status"] == "failed" and lab2["failure"]["stage"] == "build" and lab2["results"] == []
        assert "nslab_gateway" in lab2["failure"]["msg"]
        assert lab3["failure"]["msg"] == (
            "nslab_published_ports[0].namespace: 'netns1' is not one of nslab_namespaces (web): this is the default "
            "lab's entry, used because nslab_published_ports is not set; set nslab_published_ports (with "
            "nslab_demo_services for the services behind them) for your namespaces, or [] for none"), lab3["failure"]
        assert ghost["status"] == "unreachable" and ghost["failure"]["stage"] == "connect"
        suites = ET.parse(results / "junit.xml").getroot()
        failures = [(c.get("classname"), c.get("name"), c.find("failure").get("type"))
                    for c in suites.iter("testcase") if c.find("failure") is not None]
        assert failures == [("lab2", "lab host", "host failed"), ("lab3", "lab host", "host failed"),
                            ("ghost", "lab host", "unreachable")]
    finally:
        for box in boxes:
            box.destroy()
        internet.destroy()


def test_a_mistyped_variable_fails_every_playbook_before_anything_is_made(tmp_path):
    """-e nslab_stgae=route: a typo would hand out the whole lab instead of the stage; each playbook stops at
    once, naming the variable it meant, and no sandbox is made."""
    root = str(tmp_path / "sb")
    for playbook in ("lab", "check", "teardown", "graph"):
        proc = ansible_playbook(root, f"playbooks/{playbook}.yml", "-e", "nslab_stgae=route")
        assert proc.returncode != 0, (playbook, proc.stdout[-2000:])
        assert "nslab_stgae: not a variable of nslab.net; did you mean nslab_stage?" in proc.stdout, proc.stdout[-2000:]
        counters = recaps(proc.stdout)
        assert list(counters) == ["localhost"] and (counters["localhost"]["failed"], counters["localhost"]["changed"]) \
            == (1, 0), (playbook, counters)
        assert not os.path.exists(root) or not os.listdir(root), playbook
