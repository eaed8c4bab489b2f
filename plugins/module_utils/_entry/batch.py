# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several module calls in one module run (the ``batch`` module).

Each step is exactly a call of one of the resource modules: its arguments are checked
against that module's argument spec and it runs through the same engine
(:class:`engine.Call`). What the steps share is what a run costs before any work: one
Python start, one import of Ansible's and pyroute2's code, one netlink socket per
namespace for all steps, one host lock. Every step is validated before the first one
changes anything; a failing step stops the batch and says which step it was.
"""

from __future__ import annotations

import re
import sys
import traceback
from typing import TYPE_CHECKING

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Call
from ansible_collections.nslab.net.plugins.module_utils._engine.spec import argument_spec
from ansible_collections.nslab.net.plugins.module_utils._engine.hostrun import exit_with_warnings, host_session, require_pyroute2
from ansible_collections.nslab.net.plugins.module_utils._resources.bridge_port import BridgePortResource
from ansible_collections.nslab.net.plugins.module_utils._resources.veth import VethResource
from ansible_collections.nslab.net.plugins.module_utils._resources.namespaces import NetnsResource
from ansible_collections.nslab.net.plugins.module_utils._nat.nat import NatResource
from ansible_collections.nslab.net.plugins.module_utils._persist.persist import SPEC as PERSIST_SPEC
from ansible_collections.nslab.net.plugins.module_utils._persist.persist import Persist, payload_zip
from ansible_collections.nslab.net.plugins.module_utils._report.probe import SPEC as PROBE_SPEC
from ansible_collections.nslab.net.plugins.module_utils._report.probe import ProbeCall
from ansible_collections.nslab.net.plugins.module_utils._persist.record import SPEC as RECORD_SPEC
from ansible_collections.nslab.net.plugins.module_utils._persist.record import Record
from ansible_collections.nslab.net.plugins.module_utils._resources.routes import RouteResource
from ansible_collections.nslab.net.plugins.module_utils._resources.services import ServiceResource
from ansible_collections.nslab.net.plugins.module_utils._resources.sysctl import SysctlResource
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid
from ansible_collections.nslab.net.plugins.module_utils._entry import zipmain
from ansible_collections.nslab.net.plugins.module_utils._host.errors import known

if TYPE_CHECKING:
    from typing import Callable

    from ansible_collections.nslab.net.plugins.module_utils._host.session import Session

#: the modules a step may name, and the resource each runs
MODULES = {cls.module_name: cls for cls in (
    NetnsResource, VethResource, BridgePortResource, RouteResource, SysctlResource, NatResource, ServiceResource)}

PROBE = "ns_probe"     # measures with real traffic, after the steps before it
#: the engine zip's entry point (persist.ENTRY names it): imported here so that this module's payload carries it
ENGINE_MAIN = zipmain.main

#: the argument spec of the batch module
SPEC = dict(steps=dict(type="list", elements="dict", required=True, options=dict(
    module=dict(type="str", required=True, choices=sorted([*MODULES, PROBE])),
    args=dict(type="dict", default={}),
    enabled=dict(type="bool", default=True),
    about=dict(type="dict", default={}),
)), persist=dict(type="dict", options=PERSIST_SPEC), record=dict(type="dict", options=RECORD_SPEC))


def check_step(index: int, step: dict) -> dict:
    """A step's arguments checked against its module's argument spec (before any step runs)."""
    name = step["module"]
    spec = PROBE_SPEC if name == PROBE else argument_spec(MODULES[name])
    checked = ArgumentSpecValidator(spec).validate(step["args"] or {})
    if checked.error_messages:
        raise Invalid(f"steps[{index}].args", f"({name}) " + "; ".join(checked.error_messages))
    params = checked.validated_parameters
    if name != PROBE:
        v.lab(f"steps[{index}].args.lab", params["lab"])
    return params


def in_words(module: AnsibleModule, index: int, name: str, msg: str, tail: str = "", plain: str = "") -> str:
    """A step's failure as the user reads it: a message that names an option the step's ``about`` maps (the option,
    an entry of it, or the whole step under "") in the words of the variable it was made from, with the step and its
    option as detail; any other message after ``plain`` (the step, by default)."""
    about = module.params["steps"][index].get("about") or {}
    found = re.match(r"([A-Za-z_][\w.\[\]]*): ", msg)
    path = found.group(1) if found else ""
    key = max((k for k in about if k == path or not k or path.startswith((k + ".", k + "["))), key=len, default=None)
    if key is None:
        return (plain or f"steps[{index}] ({name}): ") + msg + (f" ({tail})" if tail else "")
    detail = f"steps[{index}] {name}" + (f" {path}" if path else "")
    return f"{about[key]}: {msg[found.end():] if found else msg} ({detail}{'; ' + tail if tail else ''})"


def step_call(name: str, module: AnsibleModule, params: dict, session: Session, check_mode: bool | None = None,
              projected: dict | None = None) -> Call | ProbeCall:
    """The call a step makes: a resource module's (the engine's Call) or ns_probe's."""
    if name == PROBE:
        return ProbeCall(module, params, session)
    return Call(MODULES[name], module, params, session, check_mode, projected)


def rehearse(module: AnsibleModule, calls: list, session: Session) -> None:
    """All or nothing: plan the steps from the first one that would change something to the last in
    check mode, before that first change, and refuse the whole batch when one of them would be refused
    (a value, a foreign object in the way, an overlapping subnet, a namespace that does not exist and
    that no step before it creates). The steps before it were planned for real and change nothing, so a
    run with nothing to change is planned once. The namespaces the steps before each one would create or
    delete are carried from step to step; a check that needs an earlier step applied to the kernel (a
    link that must exist already) still runs with its step. Reads are shared with the real run."""
    projected: dict[str, set] = dict(created=set(), deleted=set())
    for index, name, prepared in calls:
        if name == PROBE:
            continue
        call = step_call(name, module, prepared.params, session, check_mode=True, projected=projected)
        try:
            call.execute()
        except Exception as exc:  # noqa: BLE001 - reported with the step, never a traceback
            failure = call.failure(exc)
            module.fail_json(**dict(failure, msg=in_words(module, index, name, failure["msg"], "nothing was changed"),
                                    changed=False, actions=[], failed_step=index, results=[]))


def prepare_calls(module: AnsibleModule, session: Session) -> list:
    """Every enabled step checked against its module's argument spec and prepared, before any step runs."""
    calls = []
    # check mode plans each step against what the steps before it would leave, as the rehearsal does
    projected: dict[str, set] | None = dict(created=set(), deleted=set()) if module.check_mode else None
    for index, step in enumerate(module.params["steps"]):
        if not step["enabled"]:
            continue
        name = step["module"]
        try:
            call = step_call(name, module, check_step(index, step), session, projected=projected)
            call.prepare()
        except Invalid as exc:
            plain = f"steps[{index}].args: ({name}) "
            msg = str(exc) if str(exc).startswith(f"steps[{index}]") else in_words(module, index, name, str(exc), plain=plain)
            module.fail_json(msg=msg, changed=False, actions=[])
        except Exception as exc:  # noqa: BLE001 - never a traceback
            module.fail_json(msg=f"steps[{index}] ({name}): unexpected error: {type(exc).__name__}: {exc}",
                             changed=False, actions=[], exception=traceback.format_exc())
        calls.append((index, name, call))
    return calls


def plan_persist(module: AnsibleModule, calls: list) -> Persist | None:
    """The ``persist`` option planned before any step runs (a refusal changes nothing), or None."""
    options = module.params["persist"]
    if options is None:
        return None
    lab = next((call.params["lab"] for _index, name, call in calls if name != PROBE), "nslab")
    try:
        return Persist(options, lab, module.params["steps"], payload=payload_zip()).plan()
    except Invalid as exc:
        module.fail_json(msg=f"{exc} (nothing was changed)", changed=False, actions=[])
    except OSError as exc:
        module.fail_json(msg=f"persist: cannot read the saved lab: {exc} (nothing was changed)", changed=False, actions=[])
    return None


def plan_record(module: AnsibleModule) -> Record | None:
    """The ``record`` option (the hand-out record, record.py) planned before any step runs, or None."""
    if module.params["record"] is None:
        return None
    try:
        # the student's nslab-check comes with the record: this run's own code as its engine, this Python to run it
        return Record(module.params["record"], payload=payload_zip(), python=sys.executable).plan()
    except Invalid as exc:
        module.fail_json(msg=f"{exc} (nothing was changed)", changed=False, actions=[])
    return None


def run_calls(module: AnsibleModule, calls: list, session: Session) -> tuple:
    """Each step in order, the rest rehearsed before the first change (:func:`rehearse`); a failing
    step stops the batch, reporting what was done."""
    results: list[dict] = []
    actions: list[str] = []
    diffs: list[dict] = []
    warnings: list[str] = []
    rehearsed = module.check_mode or len(calls) < 2
    for position, (index, name, call) in enumerate(calls):
        try:
            if not rehearsed and name != PROBE and call.make_plan().actions:
                rehearse(module, calls[position:], session)
                rehearsed = True
            result = call.execute()
        except Exception as exc:  # noqa: BLE001 - reported with the step, never a traceback
            failure = call.failure(exc)
            failure["msg"] = in_words(module, index, name, failure["msg"])
            failure["actions"] = actions + failure["actions"]
            failure["changed"] = any(r["changed"] for r in results) or failure["changed"]
            module.fail_json(results=results, failed_step=index, **failure)
        actions += result["actions"]
        warnings += result.pop("warnings", [])
        diff = result.pop("diff", None)
        if diff is not None:
            diffs.append(dict(diff, before_header=f"steps[{index}] {name}", after_header=f"steps[{index}] {name}"))
        results.append(dict(result, module=name, step=index))
    return results, actions, diffs, warnings


def finish_files(module: AnsibleModule, keeper: Persist | Record | None, key: str, out: dict, diffs: list,
                 apply: Callable[[], list[str]] | None, fix: str) -> None:
    """What ``persist`` or ``record`` (``keeper``, planned before the steps) saves or removes, once every step has
    run (``apply``); reported like a step, under ``key``."""
    if keeper is None:
        return
    done = keeper.actions
    if not module.check_mode:
        apply = known(apply)        # given with the keeper
        try:
            done = apply()
        except OSError as exc:
            module.fail_json(msg=f"{key}: {exc} (the lab itself was built; {fix})", changed=True,
                             actions=out["actions"], results=out["results"])
    out["actions"] += done
    out["changed"] = out["changed"] or bool(done)
    out[key] = keeper.report()
    header = getattr(keeper, "where", key)
    diffs.append(dict(before=keeper.before, after=keeper.after, before_header=header, after_header=header))


def run_batch() -> None:
    """Entry point of the batch module."""
    module = AnsibleModule(argument_spec=SPEC, supports_check_mode=True)
    require_pyroute2(module)
    with host_session(module) as session:
        calls = prepare_calls(module, session)
        keeper = plan_persist(module, calls)
        record = plan_record(module)
        results, actions, diffs, warnings = run_calls(module, calls, session)
        out = dict(changed=any(r["changed"] for r in results), actions=actions, results=results)
        finish_files(module, keeper, "persist", out, diffs, lambda: keeper.apply(module.run_command),  # type: ignore[union-attr]
                     "re-run to save it")
        finish_files(module, record, "record", out, diffs, record and record.apply, "re-run to record it")  # type: ignore[arg-type]
    if module._diff:
        out["diff"] = diffs
    exit_with_warnings(module, out, warnings)
