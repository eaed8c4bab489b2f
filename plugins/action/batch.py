# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action of every nslab.net module that runs on a managed host: the task runs the batch module's payload.

Ansible builds each distinct module's payload once per ``ansible-playbook`` run, parsing every file the module
imports (Ansible's ``basic`` included): about a tenth of a second of the controller's CPU for each module a playbook
uses. ``meta/runtime.yml`` names this action for netns, veth, bridge_port, ns_route, ns_sysctl, nat_rule, ns_service,
ns_probe, netns_info, lab_check and sandbox, and batch has it by name: each of their tasks sends the batch module's
payload (one build for all of them) with the task's own options and the module the task named in
``_ansible_module_name``; on the host, ``module_utils/_entry/dispatch.py`` runs that module's entry point, which
imports only its own code. What the module does and returns is the same as with its own payload: the options are
checked against its own argument spec, in its own words.
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

#: the module whose payload every task of this action sends
PAYLOAD = "nslab.net.batch"


class ActionModule(ActionBase):

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp
        wrap_async = self._task.async_val and not getattr(self._connection, "has_native_async", False)
        result = merge_hash(result, self._execute_module(module_name=PAYLOAD, task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _update_module_args(self, module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any],
                            ignore_unknown_opts: bool = False) -> None:
        super()._update_module_args(module_name, module_args, task_vars, ignore_unknown_opts=ignore_unknown_opts)
        # the module the task named, as the task wrote it (as Ansible passes it to a module's own payload, for its
        # messages): nslab.net.veth, or veth under the collections keyword - always one of this collection's, since
        # only they have this action. The host runs that one (ansible-core 2.18 resolves the task's action to this
        # action plugin, so _task.resolved_action names the batch there)
        module_args["_ansible_module_name"] = self._task.action
