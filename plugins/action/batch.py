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

from ansible.plugins.action.normal import ActionModule as NormalAction

#: the module whose payload every task of this action sends
PAYLOAD = "nslab.net.batch"


class ActionModule(NormalAction):
    """Ansible's normal action (each version's own ``run``: check mode, async, the temporary directory), with the
    task's module run from the batch module's payload."""

    def _execute_module(self, module_name: str | None = None, *args: Any, **kwargs: Any) -> dict[str, Any]:
        # None: the task's own module (the normal action names no other); any module another caller names as it is
        return super()._execute_module(PAYLOAD if module_name is None else module_name, *args, **kwargs)

    def _update_module_args(self, module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any],
                            ignore_unknown_opts: bool = False) -> None:
        super()._update_module_args(module_name, module_args, task_vars, ignore_unknown_opts=ignore_unknown_opts)
        if module_name == PAYLOAD:
            # the module the task named, as the task wrote it (as Ansible passes it to a module's own payload, for its
            # messages): nslab.net.veth, or veth under the collections keyword - always one of this collection's, since
            # only they have this action. The host runs that one (ansible-core 2.18 resolves the task's action to this
            # action plugin, so _task.resolved_action names the batch there)
            module_args["_ansible_module_name"] = self._task.action
