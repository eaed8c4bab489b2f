# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resource behind the nslab.net.sandbox module: sandbox hosts under a root, and the simulated
internet they share (the connection plugin uses module_utils/_sandbox/sandbox.py without this engine)."""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._host.errors import known
from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Resource
from ansible_collections.nslab.net.plugins.module_utils._sandbox.sandbox import (
    DEFAULT_ROOT, INTERNET, WAN_GATEWAY, WAN_PREFIX, Internet, Sandbox, uplink_of, list_sandboxes)

if TYPE_CHECKING:
    from typing import Callable

    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Plan

WAN = ipaddress.ip_network(f"{WAN_GATEWAY}/{WAN_PREFIX}", strict=False)


class SandboxResource(Resource):
    """Sandbox hosts, each with an uplink on the simulated internet."""

    module_name = "sandbox"
    options = dict(name=dict(type="str"), uplink_address=dict(type="str"))
    module_options = dict(root=dict(type="str", default=DEFAULT_ROOT))
    result_key = "sandboxes"
    netns_options = ()

    def normalize(self, item: dict, option: Callable[[str], str]) -> dict:
        if not os.path.isabs(self.params["root"] or ""):
            raise v.Invalid("root", f"{self.params['root']!r} must be an absolute path")
        name = v.required(option("name"), item.get("name"))
        if not isinstance(name, str) or not all(c.isascii() and (c.isalnum() or c in "-_") for c in name) \
                or not 1 <= len(name) <= 12 or name == INTERNET or name.startswith("-"):
            raise v.Invalid(option("name"), f"sandbox name {name!r} must be 1-12 ASCII letters, digits, '-' or '_' "
                            "(it is also the host name), not starting with '-'")
        item["name"] = name
        if item.get("netns") is not None:
            raise v.Invalid(option("netns"), "does not apply to nslab.net.sandbox")
        if self.params["state"] == "present":
            given = item.get("uplink_address")
            if given in (None, "") and Sandbox(name, self.params["root"]).exists():
                given = uplink_of(Sandbox(name, self.params["root"]))      # an existing sandbox keeps its address
            addr = v.address(option("uplink_address"), v.required(option("uplink_address"), given))
            addr = known(addr)            # required: never None nor empty
            ip = ipaddress.ip_address(addr)
            if ip not in WAN or ip in (WAN.network_address, WAN.broadcast_address, ipaddress.ip_address(WAN_GATEWAY)):
                raise v.Invalid(option("uplink_address"), f"{addr} must be a host address in {WAN} other than "
                                f"the simulated internet's gateway {WAN_GATEWAY}")
            item["uplink_address"] = addr
        return item

    def check_items(self, items: list[dict]) -> None:
        super().check_items(items)
        seen: dict[str | None, int] = {}
        for index, item in enumerate(items):
            addr = item.get("uplink_address")
            if addr and addr in seen:
                raise v.Invalid(f"items[{index}].uplink_address", f"{addr} is also given to items[{seen[addr]}]")
            seen[addr] = index

    def key(self, item: dict) -> str:
        return item["name"]

    def plan(self, items: list[dict], plan: Plan) -> None:
        root = self.params["root"]
        internet = Internet(root)
        for item in items:
            box = Sandbox(item["name"], root)
            current = dict(name=box.name, uplink_address=uplink_of(box)) if box.exists() else None
            if self.params["state"] == "absent":
                plan.state(box.name, current, None)
                if current:
                    plan.do(f"destroy sandbox {box.name}", lambda box=box: self.destroy(internet, box))
                continue
            want = dict(name=box.name, uplink_address=item["uplink_address"])
            plan.state(box.name, current, want)
            if current == want:
                continue
            if not internet.exists() and "create the simulated internet" not in plan.actions:
                plan.do("create the simulated internet", internet.create)
            if current is not None:
                plan.do(f"destroy sandbox {box.name} (uplink address changes)",
                        lambda box=box: self.destroy(internet, box))
            plan.do(f"create sandbox {box.name} with uplink eth0 {item['uplink_address']}/{WAN_PREFIX}",
                    lambda box=box, addr=item["uplink_address"]: (box.create(), internet.attach(box, addr)))  # type: ignore[func-returns-value]
        if self.params["state"] == "absent":
            names = {item["name"] for item in items}
            if internet.exists() and not [n for n in list_sandboxes(root) if n != INTERNET and n not in names]:
                plan.do("destroy the simulated internet", internet.destroy)

    @staticmethod
    def destroy(internet: Internet, box: Sandbox) -> None:
        if internet.exists():
            internet.detach(box)
        box.destroy()

    def purge(self, items: list[dict], plan: Plan) -> None:
        root = self.params["root"]
        listed = {item["name"] for item in items}
        internet = Internet(root)
        for name in list_sandboxes(root):
            if name != INTERNET and name not in listed:
                box = Sandbox(name, root)
                plan.state(name, dict(name=name, uplink_address=uplink_of(box)), None)
                plan.do(f"destroy sandbox {name} (purge: no longer listed)",
                        lambda box=box: self.destroy(internet, box))
        if not listed and internet.exists():
            plan.do("destroy the simulated internet", internet.destroy)

    def report(self, items: list[dict], plan: Plan) -> list[dict]:
        root = self.params["root"]
        out = []
        for item in items:
            box = Sandbox(item["name"], root)
            exists = box.exists()
            if self.ctx.check_mode:
                after = plan.after.get(item["name"]) or {}
                out.append(dict(name=box.name, exists=exists, root=root, pid=box.pid if exists else None,
                                uplink_address=after.get("uplink_address")))
            else:
                out.append(dict(name=box.name, exists=exists, root=root, pid=box.pid,
                                uplink_address=uplink_of(box) if exists else None))
        return out
