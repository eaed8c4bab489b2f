# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module's argument spec (the options every module shares, then its resource's), and each entry of ``items`` (or
``probes``) checked by Ansible's own ArgumentSpecValidator, the module-level options as its defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

if TYPE_CHECKING:
    from typing import Any

COMMON_OPTIONS = dict(
    netns=dict(type="str"),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    lab=dict(type="str", default="nslab"),
    purge=dict(type="bool", default=False),
)


def item_validator(item_options: dict) -> ArgumentSpecValidator:
    """Ansible's own validator for one entry of ``items``: each option's type, elements and choices, as Ansible
    checks a module option. Defaults and required options are the module-level options' (merged before)."""
    spec = {name: {key: val for key, val in opt.items() if key not in ("default", "required")}
            for name, opt in item_options.items()}
    return ArgumentSpecValidator(dict(spec, netns=dict(type="str")))


def check_entry(validator: ArgumentSpecValidator, where: str, entry: Any) -> dict:
    """One entry of a list option (``items[3]``, ``probes[0]``) validated: the options it gives (not None), typed;
    raises Invalid naming the option."""
    if not isinstance(entry, dict):
        raise Invalid(where, "must be a dictionary of per-resource options")
    spec = validator.argument_spec
    for name in entry:
        if name not in spec:
            raise Invalid(f"{where}.{name}", f"unknown option; an item takes: {', '.join(sorted(spec))}")
    given = {name: value for name, value in entry.items() if value is not None}
    result = validator.validate(given)
    if result.error_messages:
        for name in given:        # which option: each one alone (only on this error path)
            alone = ArgumentSpecValidator({name: spec[name]}).validate({name: given[name]})
            if alone.error_messages:
                raise Invalid(f"{where}.{name}", alone.error_messages[0])
        raise Invalid(where, result.error_messages[0])
    return {name: result.validated_parameters[name] for name in given}


def merge_items(params: dict, item_options: dict) -> tuple[list[dict], bool]:
    """Module-level options are the defaults of every entry of ``items``."""
    validator = item_validator(item_options)
    defaults = {name: params.get(name) for name in validator.argument_spec}
    if params.get("items") is None:
        return [dict(defaults)], False
    return [dict(defaults, **check_entry(validator, f"items[{index}]", entry))
            for index, entry in enumerate(params["items"])], True


def argument_spec(resource_cls: Any) -> dict:
    """The Ansible argument spec of a module built on ``resource_cls``."""
    spec = dict(COMMON_OPTIONS)
    if tuple(resource_cls.states) != ("present", "absent"):
        spec["state"] = dict(type="str", default=resource_cls.states[0], choices=list(resource_cls.states))
    spec.update(resource_cls.options)
    spec.update(resource_cls.module_options)
    spec["items"] = dict(type="list", elements="dict")
    return spec
