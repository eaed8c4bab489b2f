# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ns_sysctl resource: runtime values of (per-namespace) sysctls."""

from __future__ import annotations

import os
import re

from ansible_collections.nslab.net.plugins.module_utils import validate as v
from ansible_collections.nslab.net.plugins.module_utils.engine import Failure, Resource, where
from ansible_collections.nslab.net.plugins.module_utils.validate import Invalid

_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-/]+$")


def sysctl_path(name: str) -> str:
    # dotted names (net.ipv4.ip_forward) or slash names (net/ipv4/conf/br0.10/forwarding)
    rel = name if "/" in name else name.replace(".", "/")
    return os.path.join("/proc/sys", rel)


def normalize_value(value) -> str:
    return " ".join(str(value).split())


class SysctlResource(Resource):
    module_name = "ns_sysctl"
    options = dict(name=dict(type="str"), value=dict(type="raw"))
    result_key = "sysctls"
    states = ("present",)

    def normalize(self, item, option):
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
        return item

    def key(self, item):
        return f"{item['netns'] or '-'}/{item['name']}"

    def read(self, item) -> str | None:
        if not self.ctx.readable(item["netns"]):
            return None
        with self.ctx.session.entered(item["netns"]):
            try:
                with open(sysctl_path(item["name"])) as fh:
                    return normalize_value(fh.read())
            except FileNotFoundError:
                if self.ctx.check_mode:
                    return None
                raise Invalid("name", f"sysctl {item['name']} does not exist in {where(item['netns'])}") from None

    def plan(self, items, plan):
        for item in items:
            current = self.read(item)
            plan.state(self.key(item), dict(name=item["name"], netns=item["netns"], value=current),
                       dict(name=item["name"], netns=item["netns"], value=item["value"]))
            if current == item["value"]:
                continue
            text = f"set {item['name']}={item['value']} in {where(item['netns'])}"
            plan.do(text, lambda item=item, text=text: self.write(item, text))

    def write(self, item, text):
        with self.ctx.session.entered(item["netns"]):
            try:
                with open(sysctl_path(item["name"]), "w") as fh:
                    fh.write(item["value"])
            except OSError as exc:
                raise Failure(f"{text}: {exc.strerror}") from None

    def report(self, items, plan):
        if self.ctx.check_mode:
            return [plan.after[self.key(item)] for item in items]
        return [dict(name=item["name"], netns=item["netns"], value=self.read(item)) for item in items]
