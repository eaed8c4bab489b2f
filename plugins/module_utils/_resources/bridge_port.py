# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bridge_port resource: a bridge, its addresses, and the links that are its ports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.nslab.net.plugins.module_utils._engine.engine import netlink
from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._host.errors import owner_tag, where
from ansible_collections.nslab.net.plugins.module_utils._host.readers import links_in
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid
from ansible_collections.nslab.net.plugins.module_utils._resources.links import LinkBase, index_of

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Item, Plan


class BridgePortResource(LinkBase):
    module_name = "bridge_port"
    options = dict(
        bridge=dict(type="str"),
        port=dict(type="str"),
        address=dict(type="list", elements="str"),
        hairpin=dict(type="bool"),
    )
    module_options = dict(allow_overlap=dict(type="bool", default=False))
    result_key = "bridges"

    def identity(self, item: dict) -> dict:
        return dict(bridge=item["bridge"], netns=item["netns"])

    def normalize(self, item: dict, option: Callable[[str], str]) -> dict:
        item["bridge"] = v.ifname(option("bridge"), item.get("bridge"))
        item["port"] = v.ifname(option("port"), item["port"]) if item.get("port") is not None else None
        if item["port"] == item["bridge"]:
            raise Invalid(option("port"), "a bridge cannot be its own port")
        item["address"] = v.interfaces(option("address"), item.get("address"))
        if item.get("hairpin") is not None and item["port"] is None:
            raise Invalid(option("hairpin"), "is a port flag: give 'port' too")
        return item

    def key(self, item: dict) -> str:
        base = f"{item['netns'] or '-'}/{item['bridge']}"
        return f"{base}/{item['port']}" if item["port"] else base

    def check_items(self, items: list[dict]) -> None:
        super().check_items(items)
        addresses: dict[tuple[str | None, str], tuple[int, list[str]]] = {}
        for index, item in enumerate(items):
            br = (item["netns"], item["bridge"])
            if item["address"] is not None:
                if br in addresses and addresses[br][1] != item["address"]:
                    raise Invalid(f"items[{index}].address", f"bridge {item['bridge']} is given other addresses "
                                  f"in items[{addresses[br][0]}]")
                addresses.setdefault(br, (index, item["address"]))

    def bridge_view(self, ns: str | None, br: dict | None, ports: dict[str, bool]) -> dict | None:
        if br is None:
            return None
        return dict(bridge=br["name"], netns=ns, address=br.get("addresses", []), up=br.get("up", True),
                    ports=sorted(ports), hairpin=sorted(p for p, on in ports.items() if on))

    def ports_of(self, ns: str | None, br: dict | None) -> dict[str, bool]:
        """{port name: hairpin flag} of a bridge, as the kernel has it."""
        if br is None or br.get("index") is None or not self.ctx.readable(ns):
            return {}
        ports: dict[str, bool] = {}
        for link in links_in(self.ctx.session, ns).values():
            if link["master"] == br["index"] and link["name"] != br["name"]:
                ports[link["name"]] = bool(link["hairpin"])
        return ports

    def plan(self, items: list[Any], plan: Plan) -> None:
        absent = self.params["state"] == "absent"
        bridges: dict[tuple[str | None, str], dict] = {}
        for item in items:
            ns, name = item["netns"], item["bridge"]
            if (ns, name) not in bridges:
                br = self.link(ns, name)
                if br is not None and br["kind"] != "bridge":
                    raise self.refuse(ns, br, f"bridge {name}")
                ports = self.ports_of(ns, br)
                bridges[(ns, name)] = dict(before=self.bridge_view(ns, br, ports), ports=dict(ports))
            entry = bridges[(ns, name)]
            if absent:
                self.plan_absent(item, entry, plan)
            else:
                self.plan_present(item, entry, plan)
        for (ns, name), entry in bridges.items():
            br = self.link(ns, name)
            plan.state(f"{ns or '-'}/{name}", entry["before"],
                       self.bridge_view(ns, br, entry["ports"]) if br else None)

    def plan_present(self, item: Item, entry: dict, plan: Plan) -> None:
        ns, name = item["netns"], item["bridge"]
        ctx = self.ctx
        br = self.link(ns, name)
        if br is None:
            text = f"add bridge {name} in {where(ns)}"

            def create(text: str = text) -> None:
                nl = ctx.writer(ns)
                netlink(text, nl.link, "add", ifname=name, kind="bridge")
                netlink(text, nl.link, "set", index=index_of(ctx, ns, name), ifalias=owner_tag(ctx.lab),
                        state="up")
            plan.do(text, create, touches=(ns,))
            br = dict(name=name, index=None, kind="bridge", alias=owner_tag(ctx.lab), up=True, mtu=1500,
                      master=None, addresses=[])
            self.project(ns, name, br)
        elif ("link", ns, name) not in ctx.planned:     # what was read stays as read ("have"): the plan writes a copy
            br = dict(br, addresses=list(br["addresses"]))
            self.project(ns, name, br)
        ours = self.owned(br)
        if item["address"] is not None and set(item["address"]) != set(br["addresses"]) and not ours:
            raise self.refuse(ns, br, f"set addresses {', '.join(item['address'])} on bridge {name}")
        if ours:
            if not br["up"]:
                self.op_set(ns, name, f"set bridge {name} up in {where(ns)}", plan, state="up")
                br["up"] = True
            br["addresses"] = self.plan_addresses(ns, name, br["addresses"], item["address"], plan,
                                                  item.option("address"))
        port = item["port"]
        if port is None:
            return
        link = self.link(ns, port)
        if link is None and not ctx.check_mode:
            raise Invalid(item.option("port"), f"link {port} does not exist in {where(ns)}; create it first "
                          "(nslab.net.veth)")
        if link is not None and (link.get("loopback") or link.get("kind") == "bridge"):
            raise Invalid(item.option("port"), f"{port} is a {'loopback' if link.get('loopback') else 'bridge'} "
                          "link: it cannot be a bridge port")
        if port not in entry["ports"]:
            self.op_set_master(ns, port, name, f"attach {port} to bridge {name} in {where(ns)}", plan)
            entry["ports"][port] = False        # a newly attached port starts with hairpin off
            self.renew_neighbours(br["addresses"], ns)     # the bridge's MAC follows its ports
        if item["hairpin"] is not None and entry["ports"][port] != item["hairpin"]:
            flag = item["hairpin"]
            text = f"set hairpin {'on' if flag else 'off'} on port {port} of {name} in {where(ns)}"

            def hairpin(text: str = text, flag: int = int(flag)) -> None:
                nl = ctx.writer(ns)
                netlink(text, nl.brport, "set", index=index_of(ctx, ns, port), mode=flag)
            plan.do(text, hairpin, touches=(ns,))
            entry["ports"][port] = flag

    def op_set_master(self, ns: str | None, port: str, bridge: str, text: str, plan: Plan) -> None:
        ctx = self.ctx

        def fn() -> None:
            nl = ctx.writer(ns)
            netlink(text, nl.link, "set", index=index_of(ctx, ns, port), master=index_of(ctx, ns, bridge))
        plan.do(text, fn, touches=(ns,))

    def plan_absent(self, item: dict, entry: dict, plan: Plan) -> None:
        ns, name, port = item["netns"], item["bridge"], item["port"]
        br = self.link(ns, name)
        if br is None:
            return
        if port is not None:
            if port in entry["ports"]:
                self.op_set(ns, port, f"detach {port} from bridge {name} in {where(ns)}", plan, master=0)
                del entry["ports"][port]
            return
        if not self.owned(br):
            raise self.refuse(ns, br, f"delete bridge {name}")
        self.op_delete(ns, name, f"delete bridge {name} in {where(ns)}", plan)
        self.project(ns, name, None)

    def purge(self, items: list[dict], plan: Plan) -> None:
        if self.params["state"] == "absent":
            return
        namespaces = self.purge_namespaces(items)
        listed_bridges = {(item["netns"], item["bridge"]) for item in items}
        listed_ports = {(item["netns"], item["bridge"], item["port"]) for item in items if item["port"]}
        for ns, br in self.scan_owned(namespaces, "bridge"):
            name = br["name"]
            if (ns, name) not in listed_bridges:
                self.op_delete(ns, name, f"delete bridge {name} in {where(ns)} (purge: no longer listed)", plan)
                full = self.link(ns, name) or br
                plan.state(f"{ns or '-'}/{name}", self.bridge_view(ns, full, self.ports_of(ns, full)), None)
                continue
            for port in self.ports_of(ns, br):
                if (ns, name, port) not in listed_ports:
                    self.op_set(ns, port, f"detach {port} from bridge {name} in {where(ns)} (purge: no longer listed)",
                                plan, master=0)
                    after = plan.after.get(f"{ns or '-'}/{name}")
                    if after and port in after["ports"]:
                        after["ports"] = [p for p in after["ports"] if p != port]
                        after["hairpin"] = [p for p in after["hairpin"] if p != port]

    def report(self, items: list[dict], plan: Plan) -> list:
        if self.ctx.check_mode:
            seen: dict[str, dict] = {}
            for item in items:
                seen.setdefault(f"{item['netns'] or '-'}/{item['bridge']}", item)
            return [plan.after.get(key) or self.absent(item) for key, item in seen.items()]
        out, done = [], set()
        for item in items:
            key = (item["netns"], item["bridge"])
            if key in done:
                continue
            done.add(key)
            br = self.link(*key)
            out.append(self.bridge_view(key[0], br, self.ports_of(key[0], br)) if br else self.absent(item))
        return out
