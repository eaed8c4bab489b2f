#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lab_results
short_description: Write a lab run's results as one JSON file per lab host and one JUnit XML file
version_added: 1.1.0
description:
  - Writes C(HOST.json) for each record of O(fleet) and C(junit.xml) (a testsuite per lab host, a testcase per
    probe and one for the host itself) into the subdirectory O(kind) of O(directory), in one module run, so that
    C(playbooks/lab.yml), C(playbooks/check.yml) and C(playbooks/grade.yml) write distinct files. The playbooks run
    it once on the controller at the end of every run.
  - The C(HOST.json) of a host that O(hosts) does not name (a host no longer in the inventory) is removed, so what
    is left is never shown as if current.
  - For O(kind=check) and O(kind=grade) each measured host's outcome is added as a line to C(history/HOST.jsonl)
    (the time, the view, the goal, the stage reached, each graded fact's outcome), and the module returns each
    host's C(progress) read from it. O(kind=grade) also writes C(index.html), the class page - one file with no
    outside resource (no CDN, no network), the grid and each student's details.
  - The files are the run's results, not a change to any lab host, so it reports C(changed=false). In check mode
    it writes nothing.
options:
  fleet:
    description: The fleet's records, as the C(nslab.net.fleet_results) filter makes them.
    type: list
    elements: dict
    required: true
  directory:
    description: Where to write the files (created if missing).
    type: path
    required: true
  name:
    description: The name of the JUnit XML's C(testsuites) (C(playbooks/check.yml) says V(nslab.net lab check)).
    type: str
    default: nslab.net lab
    version_added: 1.2.0
  kind:
    description: Which playbook's results these are; the subdirectory of O(directory) they are written to.
    type: str
    choices: [lab, check, grade]
    default: lab
    version_added: 1.3.0
  hosts:
    description:
      - Every lab host of the inventory (C(groups['nslab_lab'])), including those a C(--limit) left out; the
        C(HOST.json) of any other host in the O(kind) subdirectory is removed. Unset, none is removed.
    type: list
    elements: str
    version_added: 1.3.0
attributes:
  check_mode:
    support: full
    description: Writes nothing; returns the files it would write.
  diff_mode:
    support: none
    description: Results are not lab state; there is no diff.
  idempotent:
    support: full
    description: Always C(changed=false); the same records give the same files (the history grows by a line per
      check or grade - it is the record of the runs).
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
- name: Results of the run on the controller
  nslab.net.lab_results:
    fleet: "{{ records | nslab.net.fleet_results(ansible_play_hosts_all) }}"
    directory: "{{ 'nslab-results' | realpath }}"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
files:
  description: The files written (or, in check mode, that would be written).
  returned: success
  type: list
  elements: str
  sample: ["/home/me/lab/nslab-results/lab/vm1.json", "/home/me/lab/nslab-results/lab/junit.xml"]
removed:
  description: The C(HOST.json) files removed (hosts not in O(hosts)).
  returned: success
  type: list
  elements: str
progress:
  description:
    - For O(kind=check) and O(kind=grade), each host's progress from its history lines of the same goal -
      C(checks) run (C(check_runs) of C(playbooks/check.yml) and C(host_checks), the student's C(nslab-check) runs
      on the host that M(nslab.net.lab_check) counted), C(grades) run, C(first_passed) (each fact's first time as
      expected), C(done_at) (the first time it was DONE).
  returned: success
  type: dict
  sample: {"student01": {"checks": 3, "check_runs": 2, "host_checks": 1, "grades": 1, "first_passed": {"namespace -> host": "2026-12-07T09:12:03Z"},
           "done_at": null}}
"""

import datetime
import glob
import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._report.page import class_page
from ansible_collections.nslab.net.plugins.module_utils._report.results import junit_xml
from ansible_collections.nslab.net.plugins.module_utils._report.grade import history_line, progress


def _write(path: str, text: str) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _history(directory: str, fleet: list, kind: str, write: bool) -> dict:
    """Each measured host's line added to history/<host>.jsonl (unless ``write`` is false); {host: progress}."""
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = {}
    for rec in fleet:
        path = os.path.join(directory, "history", f"{rec['host']}.jsonl")
        lines = []
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                for text in fh:
                    try:
                        lines.append(json.loads(text))
                    except ValueError:          # a line cut short (a full disk, a killed run): the others count
                        continue
        line = history_line(rec, kind, when)
        if write:
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(line, sort_keys=True) + "\n")
        out[rec["host"]] = progress(lines + [line], rec.get("goal"), rec.get("host_checks") or 0)
    return out


def main() -> None:
    module = AnsibleModule(argument_spec=dict(fleet=dict(type="list", elements="dict", required=True),
                                              directory=dict(type="path", required=True),
                                              name=dict(type="str", default="nslab.net lab"),
                                              kind=dict(type="str", choices=["lab", "check", "grade"], default="lab"),
                                              hosts=dict(type="list", elements="str")),
                           supports_check_mode=True)
    fleet, kind = module.params["fleet"], module.params["kind"]
    directory = os.path.join(module.params["directory"], kind)
    for index, rec in enumerate(fleet):
        host = rec.get("host")
        if not isinstance(host, str) or not host or "/" in host or host.startswith("."):
            module.fail_json(msg=f"fleet[{index}].host: {host!r} is not a host name a file can be named after")
    files = {os.path.join(directory, f"{rec['host']}.json"): json.dumps(rec, indent=2, sort_keys=True) + "\n"
             for rec in fleet}
    files[os.path.join(directory, "junit.xml")] = junit_xml(fleet, module.params["name"])
    keep = module.params["hosts"]
    gone = sorted(path for path in glob.glob(os.path.join(directory, "*.json"))
                  if keep is not None and os.path.basename(path)[:-len(".json")] not in keep and path not in files)
    out: dict = dict(changed=False, files=sorted(files), removed=gone, progress={})
    try:
        if kind != "lab":
            out["progress"] = _history(module.params["directory"], fleet, kind, not module.check_mode)
        if kind == "grade":
            files[os.path.join(module.params["directory"], "index.html")] = class_page(fleet, out["progress"])
            out["files"] = sorted(files)
        if not module.check_mode:
            os.makedirs(directory, mode=0o755, exist_ok=True)
            for path, text in files.items():
                _write(path, text)
            for path in gone:
                os.unlink(path)
    except OSError as exc:
        module.fail_json(msg=f"directory: cannot write the results into {module.params['directory']}: {exc.strerror} "
                             "(set nslab_results_dir to a directory you can write, or '' for none)")
    module.exit_json(**out)


if __name__ == "__main__":
    main()
