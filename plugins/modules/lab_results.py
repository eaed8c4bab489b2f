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
    probe and one for the host itself) into O(directory), in one module run. The lab playbook runs it once on the
    controller at the end of every run.
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
attributes:
  check_mode:
    support: full
    description: Writes nothing; returns the files it would write.
  diff_mode:
    support: none
    description: Results are not lab state; there is no diff.
  idempotent:
    support: full
    description: Always C(changed=false); the same records give the same files.
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
  sample: ["/home/me/lab/nslab-results/vm1.json", "/home/me/lab/nslab-results/junit.xml"]
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils.results import junit_xml


def _write(path: str, text: str) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main() -> None:
    module = AnsibleModule(argument_spec=dict(fleet=dict(type="list", elements="dict", required=True),
                                              directory=dict(type="path", required=True),
                                              name=dict(type="str", default="nslab.net lab")),
                           supports_check_mode=True)
    fleet, directory = module.params["fleet"], module.params["directory"]
    for index, rec in enumerate(fleet):
        host = rec.get("host")
        if not isinstance(host, str) or not host or "/" in host or host.startswith("."):
            module.fail_json(msg=f"fleet[{index}].host: {host!r} is not a host name a file can be named after")
    files = {os.path.join(directory, f"{rec['host']}.json"): json.dumps(rec, indent=2, sort_keys=True) + "\n"
             for rec in fleet}
    files[os.path.join(directory, "junit.xml")] = junit_xml(fleet, module.params["name"])
    if not module.check_mode:
        try:
            os.makedirs(directory, mode=0o755, exist_ok=True)
            for path, text in files.items():
                _write(path, text)
        except OSError as exc:
            module.fail_json(msg=f"directory: cannot write the results into {directory}: {exc.strerror} "
                                 "(set nslab_results_dir to a directory you can write, or '' for none)")
    module.exit_json(changed=False, files=sorted(files))


if __name__ == "__main__":
    main()
