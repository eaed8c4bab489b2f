# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's results: the per-host report, the fleet summary, per-host records and JUnit XML.

Used on the controller by the filters in plugins/filter/results.py and by the lab_results module."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._lab.exercises import reached

if TYPE_CHECKING:
    from typing import Any

_HEADER = ("FACT", "PROBE", "RESULT", "RTT")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Ansible's own words around an error (ansible-core >= 2.19 chains them): the cause comes after them.
_WRAPPER = re.compile(r"(?:Task failed|Action failed|Finalization of task args for '[^']*' failed"
                      r"|Error while resolving value for '[^']*'|The filter plugin '[^']*' failed): "
                      # ansible-core <= 2.18
                      r"|An unhandled exception occurred while templating '.*?'\. Error was a <class '[^']*'>, "
                      r"original message: ")


def _rtt(ms: float | str | None) -> str:
    return "-" if ms is None else f"{float(ms):.1f} ms"


def one_line(text: Any, limit: int = 160) -> str:
    """An error message on one line, without Ansible's wrapping, cut to ``limit`` characters."""
    text = " ".join(str(text or "").split())
    while _WRAPPER.match(text):
        text = text[_WRAPPER.match(text).end():]  # type: ignore[union-attr]  # it matches: the loop's test
    return text if len(text) <= limit else text[:limit - 3] + "..."


def columns(rows: list) -> list:
    """Rows of cells as lines, every column but the last padded to its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def _as_expected(result: dict) -> bool:
    """Whether a probe came out as its stage expects (a probe without ``expected`` is expected to get through; one
    not graded, a fact the student's goal does not need, always is)."""
    return bool(result.get("ok")) == (result.get("expected", True) is not False) or result.get("graded") is False


def result_word(result: dict) -> str:
    """reachable / NOT reachable, marked when the stage expects otherwise or expects it so, or when not graded."""
    ok, expected = bool(result.get("ok")), result.get("expected", True) is not False
    word = "reachable" if ok else "NOT reachable"
    if result.get("graded") is False:
        word += " (not graded)"
    elif not expected:
        word += " (NOT expected)" if ok else " (expected)"
    return word


def _cells(result: dict) -> tuple:
    """FACT, PROBE, RESULT, RTT and a note (the cause or the detail of a fact not as expected, the attempts of a
    retry)."""
    note = "" if _as_expected(result) else str(result.get("cause") or result.get("detail") or "")
    if (result.get("attempts") or 1) > 1:
        note = f"{note} ({result['attempts']} attempts)".strip()
    return (str(result.get("fact", "")), str(result.get("probe", result.get("name", ""))),
            result_word(result), _rtt(result.get("ms")), note)


def report_line(result: dict) -> str:
    """One probe result (as ns_probe returns it) as a line of the connectivity report."""
    fact, probe, state, rtt, note = _cells(result)
    return f"{fact:<28} {probe:<34} {state:<13}  {rtt:<9} {note}".rstrip()


def report_table(results: list) -> str:
    """One host's probe results as one multi-line string: a header and a line per probe."""
    return "\n".join(columns([(*_HEADER, ""), *map(_cells, results or [])]))


def check_table(results: list) -> str:
    """One host's checked facts (lab_check's results) as a multi-line table: FACT, PROBE, RESULT, then for each fact
    not as expected its CAUSE and a HINT (the command that fixes it), each on a line of its own below."""
    lines = []
    for cells, result in zip(columns([("FACT", "PROBE", "RESULT", "")] + [_cells(r)[:3] + ("",) for r in results or []]),
                             [None] + list(results or [])):
        lines.append(cells + ("" if result is None or _as_expected(result) else "   <- NOT as expected"))
        if result is not None and not _as_expected(result):
            lines.append(f"    cause: {result.get('cause') or result.get('detail') or '?'}")
            if result.get("hint"):
                lines.append(f"    hint:  {result['hint']}")
    return "\n".join(lines)


def _probe(result: dict) -> dict:
    out = dict(fact=result.get("fact", ""), probe=result.get("name", result.get("probe", "")), ok=bool(result.get("ok")),
               expected=result.get("expected", True) is not False, as_expected=_as_expected(result),
               detail=result.get("detail", ""), ms=result.get("ms"), attempts=result.get("attempts"))
    out.update((k, result[k]) for k in ("netns", "kind", "target", "port", "expect", "cause", "hint", "evidence",
                                        "when_refused") if result.get(k) is not None)
    if result.get("graded") is False:           # a fact the student's goal does not need
        out["graded"] = False
    return out


def outside_runs(records: list) -> list:
    """The outside probes the lab hosts left to the controller (their records' ``outside``), as
    one ns_probe run per outside client: ``[{client, probes, hosts: [[host, count], ...]}]``."""
    runs: dict = {}
    for rec in records or []:
        probes = rec.get("outside") or []
        if probes and not rec.get("failure"):
            run = runs.setdefault(rec["outside_client"], dict(probes=[], hosts=[]))
            run["probes"] = run["probes"] + list(probes)
            run["hosts"].append([rec["host"], len(probes)])
    return [dict(client=client, **run) for client, run in runs.items()]


def _outside_results(runs: list | None) -> dict:
    """{host: [results]} from the registered loop results of the outside runs (a failed run
    makes each of its probes NOT reachable, with the run's error as the detail)."""
    out: dict = {}
    for run in runs or []:
        item = run.get("item") or {}
        results = run.get("results")
        if not isinstance(results, list) or run.get("failed"):
            detail = f"outside probe run on {item.get('client')} failed: {one_line(run.get('msg'))}"
            results = [dict(probe, ok=False, detail=detail, ms=None) for probe in item.get("probes", [])]
        start = 0
        for host, count in item.get("hosts", []):
            out.setdefault(host, []).extend(results[start:start + count])
            start += count
    return out


def checked_outside(hosts: list, hostvars: Any) -> list:
    """The records :func:`outside_runs` takes, from each checked lab host's ``nslab_checked`` (lab_check's result)
    and ``nslab_outside_client`` (default the controller)."""
    out = []
    for host in hosts or []:
        checked = (hostvars.get(host) or {}).get("nslab_checked") or {}
        if isinstance(checked.get("results"), list):
            out.append(dict(host=host, outside=checked.get("outside") or [],
                            outside_client=hostvars[host].get("nslab_outside_client") or "localhost"))
    return out


def outside_of(runs: list, host: str) -> list:
    """One lab host's results of the outside runs (:func:`outside_runs`, registered as a loop)."""
    return _outside_results(runs).get(host, [])


def fleet_results(records: list, hosts: list | None = None, outside: list | None = None) -> list:
    """One record per lab host, in the order of ``hosts`` (then any other recorded host); a host
    of ``hosts`` without a record was unreachable (Ansible dropped it from the play). ``outside``:
    the registered results of the :func:`outside_runs`, added to their hosts' results."""
    hosts = list(hosts or [])
    extra = _outside_results(outside)
    by_host = {rec["host"]: dict(rec, results=(rec["results"] + extra.get(rec["host"], []))
                                 if isinstance(rec.get("results"), list) else rec.get("results"))
               for rec in records or []}
    out = []
    for host in hosts + [h for h in by_host if h not in hosts]:
        rec = by_host.get(host) or dict(host=host, state=None, results=None, failure=dict(
            stage="connect", task="", msg="no result recorded", unreachable=True))
        failure = rec.get("failure") or None
        measured = isinstance(rec.get("results"), list) and failure is None     # ansible-core < 2.19 makes none ''
        state = rec.get("state", "present")
        stage = "report" if measured else ("teardown" if state == "absent" else "build")
        out.append(dict(
            host=host, state=state, check_mode=bool(rec.get("check_mode")), strict=bool(rec.get("strict", True)),
            status="ok" if failure is None else ("unreachable" if failure.get("unreachable") else "failed"),
            stage=failure["stage"] if failure else stage, measured=measured,
            lab_stage=rec.get("lab_stage"), faults=list(rec.get("faults") or []),
            **{key: rec[key] for key in ("seed", "goal") if rec.get(key) not in (None, "")},
            **({"reached": reached(list(rec["stages"]), dict(rec.get("fact_stages") or {}), rec["results"])}
               if measured and rec.get("stages") else {}),
            results=[_probe(r) for r in rec.get("results") or []], failure=failure,
            **({"picture": rec["picture"]} if isinstance(rec.get("picture"), dict) else {}),
            **({"host_checks": int(rec["host_checks"])} if str(rec.get("host_checks", "")).isdigit() else {})))
    return out


def _facts(rec: dict) -> dict:
    facts: dict = {}
    for probe in rec["results"]:
        facts.setdefault(probe["fact"], []).append(probe)
    return facts


def graded_facts(rec: dict) -> dict:
    """{fact: its graded probes} of a record, the facts without one left out (the student's goal does not need them)."""
    graded = {fact: [p for p in probes if p.get("graded", True)] for fact, probes in _facts(rec).items()}
    return {fact: probes for fact, probes in graded.items() if probes}


def fleet_facts(fleet: list) -> list:
    """The facts the measured records of a fleet have, the known ones first (in SHORT's order): the grade's columns."""
    found = list(dict.fromkeys(p["fact"] for rec in fleet if rec["measured"] for p in rec["results"]))
    return [f for f in SHORT if f in found] + [f for f in found if f not in SHORT]


def _unexpected(rec: dict, fact: str) -> bool:
    return any(not p["as_expected"] for p in _facts(rec).get(fact, []))


def _cell(rec: dict, fact: str) -> str:
    if rec["status"] != "ok":
        return "host failed" if rec["status"] == "failed" else "unreachable"
    if not rec["measured"]:
        return "not measured"
    probes = _facts(rec).get(fact)
    if not probes:
        return "-"
    if fact not in graded_facts(rec):
        return "not graded"
    probes = graded_facts(rec)[fact]
    bad = [p for p in probes if not p["as_expected"]]
    if not bad:
        oks = [p["ok"] for p in probes]
        return "reachable" if all(oks) else ("NOT reachable (expected)" if not any(oks) else "as expected")
    if all(p["expected"] for p in bad):
        return "NOT reachable" if len(probes) == 1 else f"{len(bad)}/{len(probes)} NOT reachable"
    return f"{len(bad)}/{len(probes)} NOT as expected"


def _host_line(rec: dict) -> str:
    failure = rec.get("failure") or {}
    if rec["status"] == "unreachable":
        return f"{rec['host']}: unreachable: {one_line(failure.get('msg'))}"
    if rec["status"] == "failed":
        return f"{rec['host']}: host failed: {one_line(failure.get('msg'))}"
    if not rec["measured"]:
        why = "check mode" if rec.get("check_mode") else f"nslab_state={rec.get('state')}"
        return f"{rec['host']}: {'removed' if rec.get('state') == 'absent' else 'built'}, not measured ({why})"
    if rec.get("goal") and rec["goal"] != rec.get("lab_stage"):
        done, graded = goal_progress(rec)
        return (f"{rec['host']}: {'DONE' if done == graded else 'NOT YET'}, {done} of {graded} facts of goal "
                f"{rec['goal']} (handed out at stage {rec.get('lab_stage')})")
    oks = [p["ok"] for p in rec["results"]]
    line = f"{rec['host']}: {oks.count(True)}/{len(oks)} probes reachable"
    if not all(p["expected"] for p in rec["results"]):
        line += f", {sum(p['as_expected'] for p in rec['results'])}/{len(oks)} as expected at stage {rec.get('lab_stage')}"
    if rec.get("faults"):
        line += f" (faults injected: {', '.join(rec['faults'])})"
    return line


def goal_progress(rec: dict) -> tuple[int, int]:
    """(facts done, facts graded) of a measured record: a fact is done when each of its graded probes is as
    expected; a fact with no graded probe is not counted."""
    graded = graded_facts(rec)
    return sum(all(p["as_expected"] for p in probes) for probes in graded.values()), len(graded)


def fleet_summary(fleet: list) -> str:
    """The fleet as one multi-line string: a row per fact, a column per host, then a line per host."""
    if not fleet:
        return "No lab hosts."
    facts = list(dict.fromkeys(p["fact"] for rec in fleet if rec["measured"] for p in rec["results"]))
    lines = []
    if facts:
        rows = [("FACT", *(rec["host"] for rec in fleet))]
        rows += [(fact, *(_cell(rec, fact) for rec in fleet)) for fact in facts]
        lines += columns(rows)
    else:
        lines.append("No connectivity report: nothing was measured.")
    return "\n".join(lines + [_host_line(rec) for rec in fleet])


#: the grade's short column heading of each fact (the legend under the table spells them out)
SHORT = {"host -> namespace": "h>ns", "namespace -> host": "ns>h", "namespace -> namespace": "ns>ns",
         "namespace -> uplink": "ns>up", "namespace -> internet": "ns>net", "namespace -> published port": "ns>pub", "outside -> published port": "out>pub"}


def fleet_problems(fleet: list) -> list:
    """What makes the run fail: failed and unreachable hosts, and NOT reachable facts of strict hosts."""
    out = []
    for rec in fleet:
        if rec["status"] != "ok":
            out.append(f"{rec['host']}: {_cell(rec, '')}")
        elif rec["measured"] and rec.get("strict", True):
            for fact, probes in _facts(rec).items():
                if _unexpected(rec, fact):         # with what the lab's variables say of a refused connection
                    said = list(dict.fromkeys(p["when_refused"] for p in probes if not p["as_expected"]
                                              and p.get("when_refused") and p["when_refused"] in str(p.get("detail"))))
                    out.append(f"{rec['host']}: {fact} {_cell(rec, fact)}" + "".join(f" ({text})" for text in said))
    return out


def _xml_text(value: Any) -> str:
    return _NOT_XML.sub("?", str(value if value is not None else ""))


def junit_xml(fleet: list, name: str = "nslab.net lab") -> str:
    """The fleet as JUnit XML: a testsuite per host, a testcase per probe, one for the host itself."""
    suites = ET.Element("testsuites", name=_xml_text(name))
    totals = [0, 0]
    for rec in fleet:
        host = _xml_text(rec["host"])
        suite = ET.SubElement(suites, "testsuite", name=host)
        cases = []
        failure = rec.get("failure") or {}
        case = ET.Element("testcase", classname=host, name="lab host")
        if rec["status"] != "ok":
            kind = "host failed" if rec["status"] == "failed" else "unreachable"
            where = f"{failure.get('stage')}: {failure.get('task')}" if failure.get("task") else ""
            text = "\n".join(x for x in (where, str(failure.get("msg") or "")) if x)
            ET.SubElement(case, "failure", message=_xml_text(f"{kind}: {one_line(failure.get('msg'))}"),
                          type=kind).text = _xml_text(text)
        cases.append(case)
        for probe in rec["results"]:
            case = ET.Element("testcase", classname=host, name=_xml_text(f"{probe['fact']}: {probe['probe']}"))
            if probe.get("ms") is not None:
                case.set("time", f"{float(probe['ms']) / 1000:.6f}")
            if not probe["as_expected"]:
                word = result_word(probe)
                why = probe.get("cause") or probe["detail"]
                lines = (why, probe.get("hint") and f"hint: {probe['hint']}", *(probe.get("evidence") or []),
                         probe.get("cause") and probe["detail"])
                text = "\n".join(str(x) for x in lines if x)
                ET.SubElement(case, "failure", message=_xml_text(f"{word}: {one_line(why, 300)}"),
                              type=word).text = _xml_text(text)
            cases.append(case)
        failures = sum(1 for c in cases if c.find("failure") is not None)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.extend(cases)
        totals[0] += len(cases)
        totals[1] += failures
    suites.set("tests", str(totals[0]))
    suites.set("failures", str(totals[1]))
    suites.set("errors", "0")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
