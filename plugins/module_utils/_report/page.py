# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The class page: ``index.html`` of a grade (``playbooks/grade.yml``), one file with everything inline.

Lab VMs and classrooms are often offline: the page loads nothing from anywhere (no CDN, no font, no image
file), its style and its small sorting script are inside it. It shows the grid - a row per student, a
column per graded fact, a colour and a word per cell - and under it each student's details: the facts
with their cause, hint and evidence, when each first passed, and the picture of the student's lab as the grade
found it (an inline SVG, graph.py)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._report.graph import to_svg
from ansible_collections.nslab.net.plugins.module_utils._report.results import SHORT, _facts, fleet_facts, goal_progress
from ansible_collections.nslab.net.plugins.module_utils._report.grade import _grade_cell, grade_word

if TYPE_CHECKING:
    from typing import Any

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#1b1b1b}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left;white-space:nowrap}
th{background:#eee;cursor:pointer}
td.ok{background:#c8f0c8}td.no{background:#f6d0c8}td.na{color:#777}td.unknown{background:#f0e6b0}
td.DONE{background:#9fe09f;font-weight:bold}td.NOT{background:#f3b7aa;font-weight:bold}
td.FAILED{background:#e8d27a;font-weight:bold}
details{margin:.4em 0}code{background:#f4f4f4;padding:0 .2em}
.cause{margin-left:1.5em}
figure.picture{margin:.5em 0 1em 1.5em;overflow-x:auto}figure.picture svg{max-width:100%;height:auto}
"""

# sorting by a column's text, or by the number in data-sort (progress), on a click on its heading or from the
# address (index.html#sort=result, #sort=result-down: a link to the class sorted by progress); no library
_SCRIPT = """
function nslabSort(th, up) {
  var body = th.closest('table').tBodies[0], col = +th.dataset.col;
  var rows = Array.prototype.slice.call(body.rows);
  th.dataset.dir = up ? 'up' : 'down';
  rows.sort(function (a, b) {
    var x = a.cells[col].dataset.sort || a.cells[col].textContent;
    var y = b.cells[col].dataset.sort || b.cells[col].textContent;
    var n = (+x) - (+y), c = isNaN(n) ? x.localeCompare(y) : n;
    return up ? c : -c;
  });
  rows.forEach(function (r) { body.appendChild(r); });
}
document.querySelectorAll('th[data-col]').forEach(function (th) {
  th.addEventListener('click', function () { nslabSort(th, th.dataset.dir !== 'up'); });
});
var wanted = /^#sort=([a-z>]+?)(-down)?$/.exec(decodeURIComponent(location.hash));
if (wanted) {
  document.querySelectorAll('th[data-col]').forEach(function (th) {
    if (th.textContent === wanted[1]) { nslabSort(th, !wanted[2]); }
  });
}
"""


def _e(value: Any) -> str:
    return html.escape(str(value if value is not None else ""))


_CLASS = {"ok": "ok", "no": "no", "-": "na", "?": "unknown"}
_WORD = {"ok": "done", "no": "not yet", "-": "not graded", "?": "not checked"}


def _details(rec: dict, prog: dict | None) -> str:
    out = [f'<details id="{_e(rec["host"])}"><summary><b>{_e(rec["host"])}</b>: {_e(grade_word(rec))}'
           f'{" - goal " + _e(rec.get("goal")) if rec.get("goal") else ""}</summary>']
    if rec["status"] != "ok" or not rec["measured"]:
        out.append(f'<p class="cause">could not check: {_e((rec.get("failure") or {}).get("msg"))}</p>')
    first = (prog or {}).get("first_passed") or {}
    if prog and "check_runs" in prog:
        out.append(f'<p class="cause">checks run for this goal: {_e(prog["checks"])} ({_e(prog["check_runs"])} with '
                   f'check.yml, {_e(prog["host_checks"])} with nslab-check on the host, as its log says)</p>')
    out.append("<ul>")
    for fact, probes in _facts(rec).items():
        when = f' (first passed {_e(first[fact])})' if fact in first else ""
        out.append(f"<li>{_e(fact)}{when}<ul>")
        for p in probes:
            word = "not graded" if not p.get("graded", True) else ("as expected" if p["as_expected"] else "NOT YET")
            out.append(f"<li>{_e(p['probe'])}: {'reachable' if p['ok'] else 'NOT reachable'} - {word}")
            if not p["as_expected"]:
                if p.get("cause"):
                    out.append(f'<div class="cause">cause: {_e(p["cause"])}</div>')
                if p.get("hint"):
                    out.append(f'<div class="cause">hint: <code>{_e(p["hint"])}</code></div>')
                for line in p.get("evidence") or []:
                    out.append(f'<div class="cause">evidence: <code>{_e(line)}</code></div>')
            out.append("</li>")
        out.append("</ul></li>")
    out.append("</ul>")
    drawn = rec.get("picture") or {}
    if drawn.get("boxes") is not None:     # the lab as the grade found it on the host (lab_check's picture)
        out.append(f'<figure class="picture">{to_svg(drawn)}<figcaption>{_e(rec["host"])} as the grade found it'
                   "</figcaption></figure>")
    elif drawn.get("error"):
        out.append(f'<p class="cause">no picture: {_e(drawn["error"])}</p>')
    out.append("</details>")
    return "\n".join(out)


def class_page(fleet: list, progress: dict | None = None, title: str = "nslab.net class") -> str:
    """The page as one HTML string."""
    progress = progress or {}
    facts = fleet_facts(fleet)
    head = ["student", "result", "reached", "goal", *(SHORT.get(f, f) for f in facts), "checks", "faults"]
    rows = []
    for rec in fleet:
        word = grade_word(rec)
        done, graded = goal_progress(rec) if rec["status"] == "ok" and rec["measured"] else (0, 0)
        prog = progress.get(rec["host"]) or {}
        cells = [f'<td><a href="#{_e(rec["host"])}">{_e(rec["host"])}</a></td>',
                 f'<td class="{_e(word.split()[0])}" data-sort="{done / graded if graded else -1:.3f}">{_e(word)}</td>',
                 f'<td>{_e(rec.get("reached") or "-")}</td>', f'<td>{_e(rec.get("goal") or "-")}</td>']
        for fact in facts:
            cell = _grade_cell(rec, fact)
            cells.append(f'<td class="{_CLASS[cell]}" title="{_e(fact)}">{_WORD[cell]}</td>')
        cells.append(f'<td data-sort="{_e(prog.get("checks", 0))}">{_e(prog.get("checks", "-"))}</td>')
        cells.append(f'<td>{_e(", ".join(rec.get("faults") or []) or "-")}</td>')
        rows.append(f'<tr data-host="{_e(rec["host"])}">' + "".join(cells) + "</tr>")
    done = sum(grade_word(rec).startswith("DONE") for rec in fleet)
    legend = "; ".join(f"{_e(SHORT[f])}: {_e(f)}" for f in facts if f in SHORT)
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        # nothing may load from elsewhere: the page works offline, and a browser enforces it
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'\">",
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>", f'<p id="summary">{done} of {len(fleet)} students done. Click a heading to sort.</p>',
        '<table id="grid"><thead><tr>' + "".join(f'<th data-col="{i}">{_e(h)}</th>' for i, h in enumerate(head)) +
        "</tr></thead><tbody>", *rows, "</tbody></table>", f"<p>{legend}</p>", "<h2>Students</h2>",
        *(_details(rec, progress.get(rec["host"])) for rec in fleet),
        f"<script>{_SCRIPT}</script></body></html>", ""])
