# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's results: the per-host report, the fleet summary, per-host records and JUnit XML."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._report.results import (check_table, checked_outside, fleet_problems,
                                                                                fleet_results, fleet_summary, junit_xml, outside_of,
                                                                                outside_runs, report_line, report_table)
from ansible_collections.nslab.net.plugins.module_utils._report.grade import grade_problems, grade_table

if TYPE_CHECKING:
    from typing import Any, Callable

DOCUMENTATION = r"""
name: fleet_summary
short_description: The lab playbook's results as a readable table, records and JUnit XML
version_added: 1.1.0
description:
  - Takes the fleet's records, one per lab host, as C(nslab.net.fleet_results) makes them, and returns one
    multi-line string, a table with a row per fact and a column per host, then a line per host.
  - A cell is C(reachable) when every probe of that fact got through, C(N/M NOT reachable) otherwise,
    C(host failed) or C(unreachable) for a host that did not get that far, and C(-) for a fact not probed there.
  - Also provides C(nslab.net.fleet_results) (the records, from the lab hosts' C(nslab_result) facts and the
    names of the run's lab hosts; a host without a record is unreachable), C(nslab.net.fleet_problems) (the failed and
    unreachable hosts and the NOT reachable facts, as a list of strings), C(nslab.net.junit_xml) (the records as
    JUnit XML), C(nslab.net.report_table) (one host's probe results as a multi-line table), C(nslab.net.check_table)
    (one host's checked facts, from M(nslab.net.lab_check), with the cause and hint of each fact not as expected) and
    C(nslab.net.report_line) (one probe result as a line).
  - Also C(nslab.net.grade_table) (the teacher's grade of C(playbooks/grade.yml) - a row per student with DONE, NOT YET
    or FAILED TO CHECK and x of y facts of the student's goal, the stage reached, a column per graded fact and, given
    the C(progress) that M(nslab.net.lab_results) returns, the checks each student ran) and C(nslab.net.grade_problems)
    (the students not done, and those that could not be checked; with V(false), only the latter), and
    C(nslab.net.outside_of) (one lab host's results of the outside probe runs of C(nslab.net.outside_runs), given the
    registered loop and the host's name) and C(nslab.net.checked_outside) (the records C(nslab.net.outside_runs) takes,
    from the lab hosts' registered C(nslab_checked), given C(ansible_play_hosts_all) and C(hostvars)).
positional: _input
options:
  _input:
    description: The fleet's records, each with C(host), C(status) (V(ok), V(failed) or V(unreachable)),
      C(measured), C(results) (the probes, each with C(fact), C(probe), C(ok), C(detail), C(ms)) and C(failure).
    type: list
    elements: dict
    required: true
author:
  - nslab.net contributors (@nslab-net)
"""

EXAMPLES = r"""
- name: One summary for the whole fleet
  ansible.builtin.debug:
    msg: "{{ records | nslab.net.fleet_results(groups['nslab_lab']) | nslab.net.fleet_summary }}"

- name: The same as JUnit XML
  ansible.builtin.copy:
    content: "{{ records | nslab.net.fleet_results(groups['nslab_lab']) | nslab.net.junit_xml }}"
    dest: /tmp/junit.xml
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The summary table, one line per fact and one line per host.
  type: str
"""


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return dict(report_line=report_line, report_table=report_table, fleet_results=fleet_results,
                    fleet_summary=fleet_summary, fleet_problems=fleet_problems, junit_xml=junit_xml,
                    outside_runs=outside_runs, check_table=check_table, grade_table=grade_table,
                    grade_problems=grade_problems, outside_of=outside_of, checked_outside=checked_outside)
