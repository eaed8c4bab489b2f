# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The netns resource: named namespaces, their loopback and their resolver."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._host import session as nsmod
from ansible_collections.nslab.net.plugins.module_utils._resources import services
from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Resource, netlink
from ansible_collections.nslab.net.plugins.module_utils._host.errors import Conflict, owner_tag, parse_owner
from ansible_collections.nslab.net.plugins.module_utils._host.readers import find_link, marker_lab
from ansible_collections.nslab.net.plugins.module_utils._host.files import read_text

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Plan

RESOLV_HEADER = "# written by nslab.net (lab {lab}): lookups answer or fail at once\n"


def resolv_path(name: str) -> str:
    return os.path.join(nsmod.NETNS_ETC_DIR, name, "resolv.conf")


def resolv_text(lab: str, servers: list[str]) -> str:
    lines = [RESOLV_HEADER.format(lab=lab)]
    lines += [f"nameserver {s}\n" for s in servers]
    lines.append("options timeout:1 attempts:1\n")
    return "".join(lines)


class NetnsResource(Resource):
    module_name = "netns"
    options = dict(
        name=dict(type="str"),
        loopback=dict(type="bool"),
        dns=dict(type="list", elements="str"),
    )
    result_key = "namespaces"
    netns_options = ()

    def normalize(self, item: dict, option: Callable[[str], str]) -> dict:
        item["name"] = v.netns_name(option("name"), v.required(option("name"), item.get("name")))
        if item.get("netns") is not None:
            raise v.Invalid(option("netns"), "does not apply to nslab.net.netns: use 'name'")
        item["loopback"] = True if item.get("loopback") is None else item["loopback"]
        dns = item.get("dns")
        item["dns"] = None if dns is None else [v.address(f"{option('dns')}[{i}]", v.required(f"{option('dns')}[{i}]", s))
                                                for i, s in enumerate(dns)]
        return item

    def key(self, item: dict) -> str:
        return item["name"]

    def view(self, name: str, exists: bool, lo_up: Any = None, dns: Any = None) -> dict | None:
        if not exists:
            return None
        return dict(name=name, loopback=lo_up, dns=dns)

    def current(self, name: str) -> dict | None:
        key = ("netns", name)
        if key not in self.ctx.cache:
            self.ctx.cache[key] = self.read(name)
        return self.ctx.cache[key]

    def read(self, name: str) -> dict | None:
        if not self.ctx.readable(name):
            return None
        lo = find_link(self.ctx.session, name, "lo")
        text = read_text(resolv_path(name))
        dns = None
        if text is not None:
            dns = [line.split()[1] for line in text.splitlines() if line.startswith("nameserver ") and len(line.split()) > 1]
        return dict(lab=parse_owner(lo["alias"] if lo else None)[0], lo_up=bool(lo and lo["up"]),
                    dns=dns, resolv=text)

    def refuse(self, name: str, lab_found: str | None, doing: str) -> Conflict:
        who = f"made by nslab lab {lab_found!r}, not {self.ctx.lab!r}" if lab_found else \
            "not made by nslab.net (no mark on its lo)"
        return Conflict(f"{doing}: namespace {name} already exists ({who}); it is left untouched: "
                        "delete it or choose another name")

    def plan(self, items: list[dict], plan: Plan) -> None:
        for item in items:
            if self.params["state"] == "absent":
                self.plan_delete(item["name"], plan)
            else:
                self.plan_present(item, plan)

    def plan_present(self, item: dict, plan: Plan) -> None:
        ctx, name = self.ctx, item["name"]
        cur = self.current(name)
        if cur is not None and cur["lab"] != ctx.lab:
            raise self.refuse(name, cur["lab"], f"netns {name}")
        before = self.view(name, cur is not None, cur and cur["lo_up"], cur and cur["dns"])
        if cur is None:
            def create(name: str = name) -> None:
                nsmod.create_namespace(name)
                nl = ctx.writer(name)
                netlink(f"mark netns {name}", nl.link, "set", index=1, ifalias=owner_tag(ctx.lab))
            plan.do(f"add netns {name}", create, touches=(name,))
            ctx.created_ns.add(name)
            cur = dict(lab=ctx.lab, lo_up=False, dns=None, resolv=None)
        if item["loopback"] != cur["lo_up"]:
            state = "up" if item["loopback"] else "down"
            plan.do(f"set lo {state} in netns {name}",
                    lambda name=name, state=state: netlink(f"set lo {state} in netns {name}",
                                                           ctx.writer(name).link, "set", index=1, state=state),
                    touches=(name,))
        dns = cur["dns"]
        if item["dns"] is not None:
            text = resolv_text(ctx.lab, item["dns"])
            if text != cur["resolv"]:
                plan.do(f"write {resolv_path(name)} (nameserver {', '.join(item['dns']) or 'none'})",
                        lambda name=name, text=text: _write_resolv(name, text), touches=())
            dns = item["dns"]
        plan.state(name, before, self.view(name, True, item["loopback"], dns))

    def plan_delete(self, name: str, plan: Plan, why: str = "") -> None:
        ctx = self.ctx
        cur = self.current(name)
        if cur is None:
            plan.state(name, None, None)
            return
        if cur["lab"] != ctx.lab:
            raise self.refuse(name, cur["lab"], f"delete netns {name}")

        for record in services.records():
            if record.get("netns") == name:
                plan.do(f"stop service {record['name']} in netns {name} (before deleting the namespace)",
                        lambda record=record: services.stop(record))

        def delete(name: str = name, ours_resolv: bool = bool(cur["resolv"] and cur["resolv"].startswith("# written by nslab.net"))) -> None:
            ctx.session.forget(name)
            nsmod.delete_namespace(name)
            if ours_resolv:
                _remove_resolv(name)
        plan.do(f"delete netns {name}{why}", delete)
        ctx.deleted_ns.add(name)
        plan.state(name, self.view(name, True, cur["lo_up"], cur["dns"]), None)

    def purge(self, items: list[dict], plan: Plan) -> None:
        if self.params["state"] == "absent":
            return
        listed = {item["name"] for item in items}
        for name in nsmod.list_namespaces():
            if name in listed or name in self.ctx.deleted_ns:
                continue
            if marker_lab(self.ctx, name) == self.ctx.lab:
                self.plan_delete(name, plan, " (purge: no longer listed)")

    def identity(self, item: dict) -> dict:
        return dict(name=item["name"])

    def report(self, items: list[dict], plan: Plan) -> list:
        out = []
        for item in items:
            if self.ctx.check_mode:
                view = plan.after.get(item["name"])
                cur = view and dict(lab=self.ctx.lab, lo_up=view["loopback"], dns=view["dns"])
            else:
                cur = self.current(item["name"])
            out.append(self.absent(item) if cur is None else
                       dict(name=item["name"], state="present", lab=cur["lab"], loopback=cur["lo_up"], dns=cur["dns"]))
        return out


def _write_resolv(name: str, text: str) -> None:
    path = resolv_path(name)
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    tmp = f"{path}.nslab-tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _remove_resolv(name: str) -> None:
    path = resolv_path(name)
    for remove, target in ((os.unlink, path), (os.rmdir, os.path.dirname(path)), (os.rmdir, nsmod.NETNS_ETC_DIR)):
        try:
            remove(target)
        except OSError:     # gone already, or holds files of someone else
            return
