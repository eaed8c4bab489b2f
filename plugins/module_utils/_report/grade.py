# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The teacher's view of a class: a student's word (DONE, NOT YET, FAILED TO CHECK), the grade table (a row per student,
a column per fact of the goal), the problems to look at, a student's history line and progress."""

from __future__ import annotations

from ansible_collections.nslab.net.plugins.module_utils._report.results import SHORT, columns, fleet_facts, goal_progress, graded_facts, one_line


def grade_word(rec: dict) -> str:
    """DONE / NOT YET / FAILED TO CHECK: a student's word, with x of y facts of the goal."""
    if rec["status"] != "ok" or not rec["measured"]:
        return "FAILED TO CHECK"
    done, graded = goal_progress(rec)
    return f"{'DONE' if done == graded else 'NOT YET'} {done}/{graded}"


def _grade_cell(rec: dict, fact: str) -> str:
    if rec["status"] != "ok" or not rec["measured"]:
        return "?"
    probes = graded_facts(rec).get(fact)
    if not probes:
        return "-"
    return "ok" if all(p["as_expected"] for p in probes) else "no"


def grade_table(fleet: list, progress: dict | None = None) -> str:
    """The teacher's grade: a row per student (the word, x of y facts of the goal, the stage reached, the goal, a
    column per graded fact - ok, no, - not graded, ? could not check -, the checks the student ran, the faults
    handed out), then a line per student not done (what is not yet, or why it could not be checked)."""
    if not fleet:
        return "No lab hosts."
    progress = progress or {}
    facts = fleet_facts(fleet)
    rows = [("STUDENT", "RESULT", "REACHED", "GOAL", *(SHORT.get(f, f) for f in facts), "CHECKS", "FAULTS")]
    for rec in fleet:
        rows.append((rec["host"], grade_word(rec), str(rec.get("reached") or "-"), str(rec.get("goal") or "-"),
                     *(_grade_cell(rec, f) for f in facts), str((progress.get(rec["host"]) or {}).get("checks", "-")),
                     ", ".join(rec.get("faults") or []) or "-"))
    lines = columns(rows)
    done = sum(grade_word(rec).startswith("DONE") for rec in fleet)
    lines.append(f"{done} of {len(fleet)} students done. Cells: ok, no (not yet), - (not graded), ? (not checked).")
    legend = [f"{SHORT[f]} {f}" for f in facts if f in SHORT]
    for start in range(0, len(legend), 4):                     # a 120-column terminal
        lines.append("  " + ";  ".join(legend[start:start + 4]))
    for rec in fleet:
        word = grade_word(rec)
        if word.startswith("FAILED"):
            lines.append(f"{rec['host']}: could not check: {one_line((rec.get('failure') or {}).get('msg'), 100)}")
        elif word.startswith("NOT YET"):
            todo = [SHORT.get(f, f) for f in facts if _grade_cell(rec, f) == "no"]
            first = next(p for p in rec["results"] if not p["as_expected"])
            why = one_line(first.get("cause") or first.get("detail"), 90)
            lines.append(f"{rec['host']}: not yet: {', '.join(todo)} ({first['probe']}{': ' + why if why else ''})")
    return "\n".join(lines)


def grade_problems(fleet: list, strict: bool = True) -> list:
    """What fails a grade: each student not done (``strict``), each host that could not be checked."""
    out = []
    for rec in fleet:
        word = grade_word(rec)
        if word.startswith("FAILED") or (strict and not word.startswith("DONE")):
            out.append(f"{rec['host']}: {word}")
    return out


def history_line(rec: dict, kind: str, when: str) -> dict:
    """One line of a student's history (history/<host>.jsonl): when, which view, the goal, each graded fact's
    outcome (true: as expected), and the word."""
    facts = {}
    if rec["status"] == "ok" and rec["measured"]:
        facts = {fact: all(p["as_expected"] for p in probes) for fact, probes in graded_facts(rec).items()}
    return dict(time=when, kind=kind, goal=rec.get("goal"), reached=rec.get("reached"), word=grade_word(rec),
                facts=facts)


def progress(lines: list, goal: str | None = None, host_checks: int = 0) -> dict:
    """A student's progress from their history's lines (those of ``goal`` when given: an earlier assignment's do not
    count): the checks run (``checks``: check.yml's, ``check_runs``, and the ``host_checks`` nslab-check runs on the
    host that lab_check counted), the grades, when each fact first came out as expected, and the first time the
    student was DONE."""
    first: dict = {}
    done_at = None
    lines = [line for line in lines if isinstance(line, dict) and (goal is None or line.get("goal") == goal)]
    for line in lines:
        for fact, ok in (line.get("facts") or {}).items():
            if ok and fact not in first:
                first[fact] = line.get("time")
        if done_at is None and str(line.get("word", "")).startswith("DONE"):
            done_at = line.get("time")
    runs = sum(1 for line in lines if line.get("kind") == "check")
    return dict(checks=runs + host_checks, check_runs=runs, host_checks=host_checks,
                grades=sum(1 for line in lines if line.get("kind") == "grade"), first_passed=first, done_at=done_at)
