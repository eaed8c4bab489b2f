# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each task's wall time, from its start to a host's result (one line per host's result: the benchmark runs one host),
as JSON lines appended to $NSLAB_TASK_TIMES (tests/perf/tasks.py; a playbook beside this directory loads it when
ANSIBLE_CALLBACKS_ENABLED names it)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: task_times
type: aggregate
short_description: Each task's wall time, for the benchmark (tests/perf/tasks.py)
description: Appends one JSON line per host's result of a task (name, action, status, seconds since the task started) to the file named by NSLAB_TASK_TIMES.
requirements: [NSLAB_TASK_TIMES set in the environment]
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.path = os.environ.get("NSLAB_TASK_TIMES")
        self.task = None
        self.started = 0.0

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.task, self.started = task, time.monotonic()

    def _done(self, result, status):
        if self.path and self.task is not None:
            with open(self.path, "a") as out:
                out.write(json.dumps(dict(name=self.task.get_name(), action=self.task.action, status=status,
                                          seconds=time.monotonic() - self.started)) + "\n")

    def v2_runner_on_ok(self, result):
        self._done(result, "ok")

    def v2_runner_on_skipped(self, result):
        self._done(result, "skipped")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._done(result, "failed")
