"""The results filters: the per-host report, the fleet summary, the records and JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from ansible_collections.nslab.net.plugins.filter import results as r


def probe(name, fact, ok=True, ms=0.1, detail="", **extra):
    return dict(name=name, fact=fact, ok=ok, ms=None if not ok else ms, detail=detail, attempts=1, **extra)


LAB1 = [probe("host -> netns1", "host -> namespace"),
        probe("host -> netns2", "host -> namespace", ok=False, detail="no answer within 2 s"),
        probe("netns1 -> netns2", "namespace -> namespace", ms=12.345),
        dict(probe("netns1 -> internet", "namespace -> internet", ms=2.8), attempts=3)]


def two_hosts(strict=True):
    """lab1 measured (one probe of host -> namespace NOT reachable), lab2 failed, lab3 never recorded."""
    records = [dict(host="lab1", state="present", check_mode=False, strict=strict, results=LAB1, failure=None),
               dict(host="lab2", state="present", check_mode=False, strict=True, results=None,
                    failure=dict(stage="build", task="Namespaces, veth pairs",
                                 msg="Task failed: Action failed: nslab_namespaces[0].name: at most 15 characters"))]
    return r.fleet_results(records, ["lab1", "lab2", "lab3"])


def test_report_table_is_one_string_with_rtt_column():
    table = r.report_table(LAB1)
    lines = table.splitlines()
    assert lines[0].split() == ["FACT", "PROBE", "RESULT", "RTT"]
    assert lines[1].split()[-2:] == ["0.1", "ms"]
    assert "NOT reachable  -" in lines[2] and lines[2].endswith("no answer within 2 s")
    assert "12.3 ms" in lines[3]
    assert lines[4].split()[-4:] == ["2.8", "ms", "(3", "attempts)"]
    assert lines[0].index("RESULT") == lines[1].index("reachable") == lines[2].index("NOT reachable")
    line = r.report_line(LAB1[1])
    assert line.startswith("host -> namespace ") and line.endswith("NOT reachable  -         no answer within 2 s")


def test_fleet_results_marks_failed_and_unreachable_hosts():
    fleet = two_hosts()
    assert [(h["host"], h["status"], h["stage"], h["measured"]) for h in fleet] == [
        ("lab1", "ok", "report", True), ("lab2", "failed", "build", False), ("lab3", "unreachable", "connect", False)]
    assert fleet[0]["results"][0] == dict(fact="host -> namespace", probe="host -> netns1", ok=True, detail="",
                                          ms=0.1, attempts=1, expected=True, as_expected=True)
    assert fleet[1]["failure"]["msg"].endswith("at most 15 characters")
    json.dumps(fleet)                                   # a JSON record per host


def test_fleet_summary_table_of_two_hosts_one_failed():
    summary = r.fleet_summary(two_hosts())
    lines = summary.splitlines()
    assert lines[0].split() == ["FACT", "lab1", "lab2", "lab3"]
    assert lines[1].startswith("host -> namespace") and "1/2 NOT reachable" in lines[1]
    assert lines[1].endswith("host failed  unreachable")
    assert lines[2].startswith("namespace -> namespace") and lines[2].split()[3:] == [
        "reachable", "host", "failed", "unreachable"]
    assert lines[3].startswith("namespace -> internet")
    assert lines[1].index("host failed") == lines[3].index("host failed")      # columns line up
    assert lines[4:] == ["lab1: 3/4 probes reachable",
                         "lab2: host failed: nslab_namespaces[0].name: at most 15 characters",
                         "lab3: unreachable: no result recorded"]


def test_fleet_problems_name_failed_hosts_and_not_reachable_facts():
    assert r.fleet_problems(two_hosts()) == ["lab1: host -> namespace 1/2 NOT reachable", "lab2: host failed",
                                             "lab3: unreachable"]
    assert r.fleet_problems(two_hosts(strict=False)) == ["lab2: host failed", "lab3: unreachable"]
    assert r.fleet_problems(r.fleet_results([dict(host="lab1", results=LAB1[:1])], ["lab1"])) == []


def test_summary_without_measurements_says_so():
    fleet = r.fleet_results([dict(host="lab1", check_mode=True, results=None),
                             dict(host="lab2", state="absent", results=None)], ["lab1", "lab2"])
    assert r.fleet_summary(fleet).splitlines() == ["No connectivity report: nothing was measured.",
                                                   "lab1: built, not measured (check mode)",
                                                   "lab2: removed, not measured (nslab_state=absent)"]
    assert r.fleet_problems(fleet) == []
    assert r.fleet_summary([]) == "No lab hosts."


def test_junit_xml_parses_with_a_testcase_per_probe_and_per_host():
    root = ET.fromstring(r.junit_xml(two_hosts()))
    assert root.tag == "testsuites" and (root.get("tests"), root.get("failures")) == ("7", "3")
    suites = {s.get("name"): s for s in root}
    assert list(suites) == ["lab1", "lab2", "lab3"]
    lab1 = suites["lab1"]
    assert (lab1.get("tests"), lab1.get("failures")) == ("5", "1")
    cases = {c.get("name"): c for c in lab1}
    assert list(cases) == ["lab host", "host -> namespace: host -> netns1", "host -> namespace: host -> netns2",
                           "namespace -> namespace: netns1 -> netns2", "namespace -> internet: netns1 -> internet"]
    assert all(c.get("classname") == "lab1" for c in lab1)
    assert cases["namespace -> namespace: netns1 -> netns2"].get("time") == "0.012345"
    failure = cases["host -> namespace: host -> netns2"].find("failure")
    assert failure.get("message") == "NOT reachable: no answer within 2 s" and failure.text == "no answer within 2 s"
    assert [c.find("failure") is None for c in lab1] == [True, True, False, True, True]
    for host, kind in (("lab2", "host failed"), ("lab3", "unreachable")):
        (case,) = suites[host]
        assert case.get("classname") == host and case.find("failure").get("type") == kind
    assert suites["lab2"][0].find("failure").get("message") == (
        "host failed: nslab_namespaces[0].name: at most 15 characters")
    assert "Namespaces, veth pairs" in suites["lab2"][0].find("failure").text


def test_junit_xml_escapes_odd_characters():
    odd = "<b>&amp; \"quoted\" 'single' \x1b[31mred\x00 \u00e9\u4e2d\n2nd line"
    fleet = r.fleet_results([dict(host="lab<1>&", results=[probe(f"x -> {odd}", "f&<", ok=False, detail=odd)]),
                             dict(host='lab"2', results=None, failure=dict(stage="report", task="t<", msg=odd))],
                            [])
    text = r.junit_xml(fleet)
    root = ET.fromstring(text)                     # well-formed despite markup, quotes and control characters
    lab1, lab2 = root
    assert lab1.get("name") == "lab<1>&" and lab2.get("name") == 'lab"2'
    case = lab1[1]
    assert case.get("name") == "f&<: x -> <b>&amp; \"quoted\" 'single' ?[31mred? \u00e9\u4e2d\n2nd line"
    assert case.find("failure").text == "<b>&amp; \"quoted\" 'single' ?[31mred? \u00e9\u4e2d\n2nd line"
    assert lab2[0].find("failure").get("message").startswith("host failed: <b>&amp; \"quoted\"")
    assert "\x1b" not in text and "\x00" not in text


def test_outside_probes_run_once_per_client_and_return_to_their_hosts():
    probe = {"name": "outside -> 203.0.113.11:5000", "fact": "outside -> published port", "kind": "http",
             "target": "203.0.113.11", "port": 5000}
    other = dict(probe, name="outside -> 203.0.113.12:5000", target="203.0.113.12")
    records = [dict(host="vm1", results=[], outside=[probe], outside_client="localhost"),
               dict(host="vm2", results=[], outside=[other], outside_client="localhost"),
               dict(host="vm3", results=None, outside=[], outside_client="localhost",
                    failure=dict(stage="build", task="t", msg="boom"))]
    runs = r.outside_runs(records)
    assert runs == [dict(client="localhost", probes=[probe, other], hosts=[["vm1", 1], ["vm2", 1]])]
    registered = [dict(item=runs[0], results=[dict(probe, ok=True, detail="hi", ms=1.0, attempts=1),
                                              dict(other, ok=False, detail="refused", ms=None, attempts=3)])]
    fleet = r.fleet_results(records, ["vm1", "vm2", "vm3"], registered)
    assert [p["ok"] for p in fleet[0]["results"]] == [True]
    assert [p["ok"] for p in fleet[1]["results"]] == [False] and fleet[1]["results"][0]["detail"] == "refused"
    assert fleet[2]["status"] == "failed" and fleet[2]["results"] == []
    failed_run = [dict(item=runs[0], failed=True, msg="no such host")]
    fleet = r.fleet_results(records, ["vm1", "vm2", "vm3"], failed_run)
    assert not fleet[0]["results"][0]["ok"] and "no such host" in fleet[0]["results"][0]["detail"]
