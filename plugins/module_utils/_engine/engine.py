# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one engine every module runs on.

read the current state once -> compute the wanted state -> plan operations ->
apply them unless in check mode -> re-read and report.

A module describes its resource with a :class:`Resource` subclass; :func:`run`
does the rest: argument handling (module-level options are defaults for every
entry of ``items``), validation before any change, check mode, diff mode,
``actions`` and error mapping.
"""

from __future__ import annotations

import errno
import os
import traceback
from typing import TYPE_CHECKING

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._host import session as nsmod
from ansible_collections.nslab.net.plugins.module_utils._host.errors import Conflict, Failure, known
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid
from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._engine.hostrun import exit_with_warnings, host_session, pause_here, require_pyroute2, test_pause
from ansible_collections.nslab.net.plugins.module_utils._engine.spec import merge_items, argument_spec

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, Callable

    from ansible_collections.nslab.net.plugins.module_utils._host.reader import Reader
    from ansible_collections.nslab.net.plugins.module_utils._host.writer import Writer


GONE = (errno.ENODEV, errno.ENOENT, errno.ESRCH, errno.EADDRNOTAVAIL)


def netlink(text: str, fn: Callable[..., Any], *args: Any, exists_ok: bool = False, gone_ok: bool = False, **kwargs: Any) -> Any:
    """Run one pyroute2 call and map its errors once, for every module."""
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        return fn(*args, **kwargs)
    except NetlinkError as exc:
        if exists_ok and exc.code == errno.EEXIST:
            return None
        if gone_ok and exc.code in GONE:
            return None
        raise Failure(f"{text}: {os.strerror(exc.code) if exc.code else exc} (errno {exc.code})") from None


class Plan:
    """Actions in words, the callables that perform them, and the diff."""

    def __init__(self) -> None:
        self.actions: list[str] = []
        self.ops: list[tuple[str, Callable[..., Any]]] = []
        self.before: dict = {}
        self.after: dict = {}
        self.warnings: list[str] = []
        self.touches: dict[int, set[str | None]] = {}       # operation number -> the namespaces it changes (absent: it may change any)
        self.together: dict[int, tuple] = {}            # operation number -> how it may be done with its neighbours

    def do(self, text: str, fn: Callable[..., Any] | None = None, touches: Iterable[str | None] | None = None,
           together: tuple | None = None) -> None:
        """An action, and the operation that performs it (see :meth:`op`)."""
        self.actions.append(text)
        if fn is not None:
            self.op(text, fn, touches, together)

    def op(self, text: str, fn: Callable[..., Any], touches: Iterable[str | None] | None = None,
           together: tuple | None = None) -> None:
        """An operation; ``touches``: the namespaces whose links, addresses or routes it changes (the shared reads
        of only those are dropped after it), None when it may change any namespace's. ``together``: (key, run, arg):
        consecutive operations with one key may be done by one ``run([arg, ...])``; False from it: each ``fn`` alone."""
        self.ops.append((text, fn))
        if touches is not None:
            self.touches[len(self.ops) - 1] = set(touches)
        if together is not None:
            self.together[len(self.ops) - 1] = together

    def run_of(self, count: int) -> list[int]:
        """The operations from ``count`` on that :meth:`op`'s ``together`` lets be done in one call."""
        key, end = self.together.get(count, (None,))[0], count + 1
        while key is not None and self.together.get(end, (None,))[0] == key:
            end += 1
        return list(range(count, end))

    def state(self, key: str, before: dict | None, after: dict | None) -> None:
        """Record a resource's before/after for diff mode (None = absent)."""
        self.before[key] = before
        self.after[key] = after


class Context:
    """What one module run shares: the netlink session, check mode, caches."""

    def __init__(self, module: AnsibleModule, lab: str, session: nsmod.Session | None = None, check_mode: bool | None = None,
                 projected: dict | None = None):
        self.module = module
        self.check_mode = module.check_mode if check_mode is None else check_mode
        self.lab = lab
        self.session = session if session is not None else nsmod.Session()
        # a batch's rehearsal: the namespaces the steps before this one would create or delete
        self.rehearsal = projected is not None
        projected = projected if projected is not None else dict(created=set(), deleted=set())
        self.created_ns: set = projected["created"]   # namespaces this run creates (check mode: would)
        self.deleted_ns: set = projected["deleted"]
        self.projected = projected      # and what else the steps before would leave (nat.py: firewalld's)
        self.cache: dict = {}         # the host as read ("have"), once per key until a write
        self.planned: dict = {}       # what this call's plan leaves ("after"), for its later items (links.py)
        self.indexes: dict = {}       # (ns, link name) -> ifindex, learnt while applying (links.index_of)
        self.done: list[str] = []     # actions applied so far (reported on failure)

    def ns_exists(self, ns: str | None) -> bool:
        if ns in self.deleted_ns:
            return False
        return ns in self.created_ns or nsmod.ns_exists(ns)

    def readable(self, ns: str | None) -> bool:
        """Can we look inside? In check mode a namespace that does not exist yet
        (an earlier task would create it) reads as empty."""
        return ns not in self.deleted_ns and nsmod.ns_exists(ns)

    def writer(self, ns: str | None) -> Writer:
        """The namespace's netlink changes (writer.Writer)."""
        return self.session.writer(ns)

    def reader(self, ns: str | None) -> Reader:
        """The namespace's netlink reads (reader.Reader)."""
        return self.session.reader(ns)


class Resource:
    """Describe one module's resource; subclasses fill these in."""

    #: per-item options (Ansible argument spec without defaults)
    options: dict = {}
    #: module options that are not per item
    module_options: dict = {}
    #: key of the returned list of resources
    result_key = "resources"
    #: per-item options that must name an existing namespace outside check mode
    netns_options: tuple[str, ...] = ("netns",)
    #: allowed states
    states: tuple[str, ...] = ("present", "absent")
    #: the module's short name (the test hook NSLAB_TEST_PAUSE names modules by it)
    module_name = ""

    def __init__(self, ctx: Context, params: dict):
        self.ctx = ctx
        self.params = params

    def normalize(self, item: dict, option: Callable[[str], str]) -> dict:
        """Validate and canonicalise one item. ``option(name)`` gives the
        user-facing option path ("items[2].port") for error messages."""
        return item

    def check_items(self, items: list[dict]) -> None:
        """Cross-item validation (conflicting duplicates...)."""
        keys: dict[str, int] = {}
        for index, item in enumerate(items):
            key = self.key(item)
            if key in keys:
                raise Invalid(f"items[{index}]", f"describes the same resource ({key}) as items[{keys[key]}]")
            keys[key] = index

    def key(self, item: dict) -> str:
        raise NotImplementedError

    def plan(self, items: list[dict], plan: Plan) -> None:
        raise NotImplementedError

    def purge(self, items: list[dict], plan: Plan) -> None:
        raise Invalid("purge", "is not supported by this module")

    def purge_namespaces(self, items: list[dict], *options: str) -> set:
        """The namespaces purge looks in: those the items name (in ``options``),
        and the module-level netns (so ``items: []`` purges there)."""
        found = {self.params.get("netns")}
        for item in items:
            found.update(item.get(opt) for opt in options or ("netns",))
        return found

    def finish(self, plan: Plan) -> None:
        """Turn what plan/purge collected into batched operations (NAT)."""

    def report(self, items: list[dict], plan: Plan) -> list:
        """The resources' state after the run (re-read unless in check mode)."""
        return [plan.after.get(self.key(item)) or self.absent(item) for item in items]

    def identity(self, item: dict) -> dict:
        """What names one resource in the result (its name, its namespace...)."""
        return dict(name=item.get("name"), netns=item.get("netns"))

    def absent(self, item: dict) -> dict:
        """The one way a result says a resource is not there, in check mode and in a real run alike."""
        return dict(self.identity(item), state="absent")


class Item(dict):
    """One resource of a call: its options, normalized, as keys; ``option`` names one of them in an
    error (``item.option("dev")`` is ``items[2].dev``, or ``dev`` for a call without ``items``). What a
    resource works out from the options is kept as an attribute (nat_rule's ``rule``), never as a key."""

    def __init__(self, values: dict, option: Callable[[str], str]):
        super().__init__(values)
        self.option = option


class Call:
    """One module call: validate, read, plan, apply unless in check mode, report.

    ``run()`` makes one per module run; the batch module makes several that share one
    netlink session (one socket per namespace for the whole batch) and one host lock.
    """

    def __init__(self, resource_cls: type[Resource], module: AnsibleModule, params: dict, session: nsmod.Session | None = None,
                 check_mode: bool | None = None, projected: dict | None = None):
        self.resource_cls = resource_cls
        self.module = module
        self.params = params
        self.session = session
        self.check_mode = check_mode      # None: the module's (a batch rehearses its steps in check mode)
        self.projected = projected
        self.plan = Plan()
        self.planned = False
        self.ctx: Context | None = None

    def prepare(self) -> None:
        """Validate the options, changing nothing (nat_rule's ``uplink`` reads the default
        route it refers to); raises Invalid. The batch module prepares every step before
        the first one runs."""
        params, resource_cls = self.params, self.resource_cls
        lab = v.lab("lab", params["lab"])
        ctx = self.ctx = Context(self.module, lab, self.session, self.check_mode, self.projected)
        self.resource = resource_cls(ctx, params)
        raw, listed = merge_items(params, resource_cls.options)
        if params.get("purge") and not listed:
            raise Invalid("purge", "needs 'items': it removes what the list no longer names")
        if params.get("reset") and not params.get("purge"):     # ns_route's and nat_rule's reset
            raise Invalid("reset", "needs purge: true (with the items, it also removes what was made by hand)")

        def option_path(index: int) -> Callable[[str], str]:
            return (lambda name: f"items[{index}].{name}") if listed else (lambda name: name)

        self.option_path = option_path
        self.items: list[dict] = []
        for index, values in enumerate(raw):
            path = option_path(index)
            item = Item(values, path)
            item["netns"] = v.netns_name(path("netns"), item.get("netns"))
            self.items.append(self.resource.normalize(item, path))
        self.resource.check_items(self.items)

    def make_plan(self) -> Plan:
        """Read and plan, once, applying nothing: every refusal (Invalid, Conflict) is raised here."""
        if self.planned:
            return self.plan
        if self.ctx is None:
            self.prepare()
        params, plan, ctx, resource, items = self.params, self.plan, self.ctx, self.resource, self.items
        ctx = known(ctx)
        if (not ctx.check_mode or ctx.rehearsal) and params["state"] != "absent":
            for index, item in enumerate(items):
                for opt in resource.netns_options:
                    if opt in item and not ctx.ns_exists(item[opt]):
                        raise Invalid(self.option_path(index)(opt), f"namespace {item[opt]!r} does not exist"
                                      " (nothing is created implicitly; create it with nslab.net.netns first)")
        resource.plan(items, plan)
        if params.get("purge"):
            resource.purge(items, plan)
        resource.finish(plan)
        self.planned = True
        return plan

    def execute(self) -> dict:
        """The module's result; raises Invalid (nothing changed), Conflict or Failure
        (``self.done()`` lists what was applied before it)."""
        plan = self.make_plan()
        ctx, resource, items = self.ctx, self.resource, self.items
        ctx = known(ctx)
        pause = test_pause(self.resource_cls.module_name)
        if not ctx.check_mode:
            self.apply(plan, pause)
            if pause and pause[0] >= len(plan.ops):
                pause_here(pause[1], ctx.done)
            if plan.ops:              # the report re-reads what a change may have moved
                ctx.cache.clear()
            ctx.planned.clear()
        result = dict(changed=bool(plan.actions), actions=plan.actions)
        result[resource.result_key] = resource.report(items, plan)
        if self.module._diff:
            result["diff"] = dict(before=_clean(plan.before), after=_clean(plan.after))
        if plan.warnings:
            result["warnings"] = plan.warnings
        return result

    def apply(self, plan: Plan, pause: tuple | None = None) -> None:
        """The plan's operations in order, a run that may be done together (:meth:`Plan.op`) in one call."""
        count = 0
        while count < len(plan.ops):
            run = [count] if pause else plan.run_of(count)     # a test's pause counts operations one by one
            if len(run) == 1 or not self.together(plan, run):
                for number in run:
                    self.perform(plan, number, pause)
            count = run[-1] + 1

    def perform(self, plan: Plan, count: int, pause: tuple | None) -> None:
        """Operation ``count`` of the plan, its errors worded for the action it performs."""
        ctx = known(self.ctx)
        text, fn = plan.ops[count]
        if pause and pause[0] == count:
            pause_here(pause[1], ctx.done)
        try:
            fn()
        except Invalid as exc:       # refused by the kernel, worded for the option at fault
            raise Failure(str(exc)) from None
        except (Failure, Conflict) as exc:
            raise Failure(f"{text}: {exc}" if not str(exc).startswith(text) else str(exc)) from None
        except OSError as exc:
            raise Failure(f"{text}: {exc}") from None
        finally:
            ctx.session.changed(plan.touches.get(count))
        ctx.done.append(text)

    def together(self, plan: Plan, run: list[int]) -> bool:
        """The operations of ``run`` in one call (:meth:`Plan.op`'s ``together``); False: none is done yet."""
        ctx = known(self.ctx)
        try:
            done = plan.together[run[0]][1]([plan.together[number][2] for number in run])
        except (Failure, Conflict, Invalid, OSError):      # each alone then, its error worded for its action
            done = False
        for number in run:
            ctx.session.changed(plan.touches.get(number))
        ctx.done.extend(plan.ops[number][0] for number in run if done)
        return done

    def done(self) -> list[str]:
        return self.ctx.done if self.ctx is not None else []

    def failure(self, exc: Exception) -> dict:
        """fail_json arguments for an exception out of ``execute``: never a traceback."""
        if isinstance(exc, Invalid):
            return dict(msg=str(exc), changed=False, actions=[])
        if isinstance(exc, (Conflict, Failure)):
            done = self.done()
            return dict(msg=str(exc), changed=bool(done), actions=done if done else self.plan.actions,
                        failed_in=type(exc).__name__)
        return dict(msg=f"unexpected error: {type(exc).__name__}: {exc}", changed=bool(self.done()),
                    actions=self.done() or self.plan.actions, exception=traceback.format_exc())


def run(resource_cls: type[Resource]) -> None:
    """Entry point of every module."""
    module = AnsibleModule(argument_spec=argument_spec(resource_cls), supports_check_mode=True)
    require_pyroute2(module)
    try:
        v.lab("lab", module.params["lab"])
    except Invalid as exc:
        module.fail_json(msg=str(exc), changed=False)
    with host_session(module) as session:
        call = Call(resource_cls, module, module.params, session)
        try:
            result = call.execute()
        except Exception as exc:  # noqa: BLE001 - every failure is reported, never a traceback
            module.fail_json(**call.failure(exc))
    exit_with_warnings(module, result, result.pop("warnings", []))


def read_only(module: AnsibleModule, work: Callable[[Any], dict], needs: str | None = "nslab.net modules need", session: bool = True,
              extra: dict | None = None) -> None:
    """The entry point of the modules that change nothing (lab_check, netns_info, ns_probe): pyroute2 and root checked
    (``needs``: who needs them, for the message; None with ``session`` False: neither is needed), one netlink session
    (or None), ``work(session)`` -> the result; a wrong value fails naming its option, anything else as an unexpected
    error with its traceback in ``exception`` (never on the screen); the session closed whatever happens. ``extra``:
    keys every failure carries (``actions`` for ns_probe)."""
    if session:
        require_pyroute2(module, needs)  # type: ignore[arg-type]  # None only without a session (see above)
    opened = nsmod.Session() if session else None
    extra = dict(changed=False, **(extra or {}))
    try:
        result = work(opened)
    except Invalid as exc:
        module.fail_json(msg=str(exc), **extra)
    except Exception as exc:  # noqa: BLE001 - every failure is reported, never a traceback
        module.fail_json(msg=f"unexpected error: {type(exc).__name__}: {exc}", exception=traceback.format_exc(), **extra)
    finally:                  # fail_json exits through here too
        if opened is not None:
            opened.close()
    module.exit_json(**result)


def _clean(state: dict) -> dict:
    """Diff dicts: drop resources that are absent on both sides; absent = {}."""
    return {k: (val if val is not None else {"state": "absent"}) for k, val in sorted(state.items())}
