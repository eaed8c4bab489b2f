# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ns_sysctl resource: runtime values of (per-namespace) sysctls."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Resource
from ansible_collections.nslab.net.plugins.module_utils._host.errors import where
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Item, Plan

_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-/]+$")
_INTS = re.compile(r"^-?\d+( -?\d+)*$")


def sysctl_path(name: str) -> str:
    # dotted names (net.ipv4.ip_forward) or slash names (net/ipv4/conf/br0.10/forwarding)
    rel = name if "/" in name else name.replace(".", "/")
    return os.path.join("/proc/sys", rel)


def normalize_value(value: Any) -> str:
    return " ".join(str(value).split())


class SysctlResource(Resource):
    module_name = "ns_sysctl"
    options = dict(name=dict(type="str"), value=dict(type="raw"))
    result_key = "sysctls"
    states = ("present",)

    def normalize(self, item: dict, option: Callable[[str], str]) -> dict:
        name = v.required(option("name"), item.get("name"))
        if not _NAME_RE.match(name) or ".." in name.split("/") or name.startswith(("/", ".")):
            raise Invalid(option("name"), f"{name!r} is not a sysctl name (e.g. net.ipv4.ip_forward)")
        if item["netns"] is not None and not name.replace("/", ".").startswith("net."):
            raise Invalid(option("name"), f"{name} is not per-namespace: only net.* sysctls can be set inside a netns")
        value = item.get("value")
        if value is None or isinstance(value, (dict, list)):
            raise Invalid(option("value"), "is required: a string or number")
        if isinstance(value, bool):
            value = int(value)
        item["name"], item["value"] = name, normalize_value(value)
        if not item["value"]:
            raise Invalid(option("value"), "is empty: give the value to write")
        return item

    def key(self, item: dict) -> str:
        return f"{item['netns'] or '-'}/{item['name']}"

    def read(self, item: Item) -> str | None:
        if not self.ctx.readable(item["netns"]):
            return None
        with self.ctx.session.entered(item["netns"]):
            try:
                with open(sysctl_path(item["name"])) as fh:
                    return normalize_value(fh.read())
            except FileNotFoundError:
                if self.ctx.check_mode:
                    return None
                raise Invalid(item.option("name"), f"sysctl {item['name']} does not exist in "
                              f"{where(item['netns'])}") from None
            except IsADirectoryError:
                raise Invalid(item.option("name"), f"{item['name']} is a group of sysctls, not one") from None
            except OSError as exc:
                raise Invalid(item.option("name"), f"cannot read {item['name']}: {exc.strerror}") from None

    def plan(self, items: list[Any], plan: Plan) -> None:
        writes: list[tuple[Item, str | None]] = []
        for item in items:
            current = self.read(item)
            plan.state(self.key(item), dict(name=item["name"], netns=item["netns"], value=current),
                       dict(name=item["name"], netns=item["netns"], value=item["value"]))
            if current == item["value"]:
                continue
            if current is not None and _INTS.match(current) and \
                    not (_INTS.match(item["value"]) and len(item["value"].split()) == len(current.split())):
                count = len(current.split())
                raise Invalid(item.option("value"), f"{item['name']} takes {count} integer{'s' if count > 1 else ''}"
                              f" (it is {current!r} now), not {item['value']!r}")
            plan.actions.append(f"set {item['name']}={item['value']} in {where(item['netns'])}")
            writes.append((item, current))
        if writes:   # one operation: all values, or none (the ones written are put back)
            plan.ops.append(("set sysctls", lambda: self.write_all(writes)))

    def write_all(self, writes: list[tuple[Item, str | None]]) -> None:
        done: list[tuple[Item, str | None]] = []
        for item, old in writes:
            try:
                self.write(item, item["value"])
            except OSError as exc:
                for back, value in reversed(done):
                    try:
                        self.write(back, value)     # type: ignore[arg-type]  # None only when unreadable: check mode
                    except OSError:
                        pass
                raise Invalid(item.option("value"), f"the kernel refused {item['value']!r} for {item['name']} in "
                              f"{where(item['netns'])} ({exc.strerror}); nothing was changed") from None
            done.append((item, old))

    def write(self, item: dict, value: str) -> None:
        with self.ctx.session.entered(item["netns"]):
            with open(sysctl_path(item["name"]), "w") as fh:
                fh.write(value)

    def report(self, items: list[Any], plan: Plan) -> list:
        if self.ctx.check_mode:
            return super().report(items, plan)
        return [dict(name=item["name"], netns=item["netns"], value=self.read(item)) for item in items]
