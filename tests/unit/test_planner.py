"""The engine's planner on a fake netlink session: what a module would do, and what it refuses, worked out
without root, without a kernel and without pyroute2 (ansible-test units runs without it). Every call here is
in check mode; the fake records any write, and none may happen."""

from __future__ import annotations

import pytest

from ansible_collections.nslab.net.plugins.module_utils._host import session as nsmod
from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Call
from ansible_collections.nslab.net.plugins.module_utils._engine.spec import argument_spec
from ansible_collections.nslab.net.plugins.module_utils._host.errors import Conflict
from ansible_collections.nslab.net.plugins.module_utils._resources.bridge_port import BridgePortResource
from ansible_collections.nslab.net.plugins.module_utils._resources.veth import VethResource
from ansible_collections.nslab.net.plugins.module_utils._host.readers import links_in
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid


class Msg(dict):
    """A netlink message: header fields as keys, attributes through get_attr."""

    def __init__(self, attrs: dict, **fields):
        super().__init__(fields)
        self.attrs = attrs

    def get_attr(self, name):
        return self.attrs.get(name)


def link(index, name, kind=None, alias=None, addresses=(), master=None, up=True):
    info = Msg({"IFLA_INFO_KIND": kind}, family=0) if kind else None      # a message, never empty
    msg = Msg({"IFLA_IFNAME": name, "IFLA_LINKINFO": info, "IFLA_IFALIAS": alias, "IFLA_MTU": 1500,
               "IFLA_MASTER": master}, index=index, flags=1 if up else 0)
    return msg, [Msg({"IFA_LOCAL": cidr.split("/")[0]}, index=index, prefixlen=int(cidr.split("/")[1]), scope=0)
                 for cidr in addresses]


class FakeIPRoute:
    """One namespace's links and addresses; any write is recorded (and must not happen)."""

    def __init__(self, *links, writes: list):
        self.links = [entry[0] for entry in links]
        self.addrs = [addr for entry in links for addr in entry[1]]
        self.writes = writes

    def get_links(self, *indexes):
        return [m for m in self.links if not indexes or m["index"] in indexes]

    def get_addr(self, family=None, index=None):
        return [a for a in self.addrs if index is None or a["index"] == index]

    def get_routes(self, family=None):
        return []

    def neigh(self, cmd, **kwargs):
        self.writes.append(("neigh", cmd, kwargs))
        return []

    def addr(self, cmd, **kwargs):
        self.writes.append(("addr", cmd, kwargs))

    def link(self, cmd, ifname=None, index=None, **kwargs):
        if cmd != "get":
            self.writes.append(("link", cmd, ifname or index, kwargs))
            return []
        raise AssertionError("the fake serves links from one dump (FakeSession.peek), never by a get")


class FakeReader:
    """reader.Reader over a FakeIPRoute: dumps only (a get would mean the dump was not shared)."""

    def __init__(self, ipr):
        self.ipr = ipr

    def links(self):
        return self.ipr.get_links()

    def addresses(self, family=0):
        return self.ipr.get_addr(family)

    def routes(self, family=0):
        return self.ipr.get_routes(family)

    def link(self, name=None, index=0):
        if index:
            return self.ipr.get_links(index)[0]
        raise AssertionError("the fake serves links by name from one dump (FakeSession.peek), never by a get")


class FakeSession(nsmod.Session):
    """nsmod.Session's shared reads over fake namespaces (None: the host)."""

    def __init__(self, namespaces: dict):     # pylint: disable=super-init-not-called
        self.namespaces, self._reads = namespaces, {}

    def writer(self, name):
        return self.namespaces[name]

    def reader(self, name):
        return FakeReader(self.namespaces[name])

    def peek(self, key):
        """Every namespace reads as dumped already: links by name come from the dump."""
        if key[0] == "links":
            return links_in(self, key[1])
        return super().peek(key)

    def entered(self, name):
        raise AssertionError("check mode enters no namespace")

    def close(self):
        pass


class FakeModule:
    check_mode, _diff = True, True


@pytest.fixture
def host(monkeypatch):
    """The host with an uplink eth0 (203.0.113.10/24, not the lab's) and an empty namespace p1."""
    writes: list = []
    namespaces = {None: FakeIPRoute(link(1, "lo"), link(2, "eth0", addresses=["203.0.113.10/24"]), writes=writes),
                  "p1": FakeIPRoute(link(1, "lo"), writes=writes)}
    monkeypatch.setattr(nsmod, "ns_exists", lambda name: name is None or name in namespaces)
    yield FakeSession(namespaces), writes
    assert writes == [], "check mode wrote nothing"


def plan(resource_cls, session, **args):
    """The module's result in check mode (Call.execute), as a playbook task in check mode would see it."""
    params = {name: spec.get("default") for name, spec in argument_spec(resource_cls).items()}
    params.update(args)
    call = Call(resource_cls, FakeModule(), params, session=session, check_mode=True)
    return call.execute()


def test_a_new_veth_pair_is_planned_with_its_addresses(host):
    session, _writes = host
    result = plan(VethResource, session, name="v0", peer="c0", peer_netns="p1", peer_address=["10.9.0.2/24"])
    assert result["changed"]
    assert result["actions"] == ["add veth v0 <-> c0@p1", "add address 10.9.0.2/24 to c0 in netns p1"]
    assert result["diff"]["before"] == {"-/v0": {"state": "absent"}}
    assert result["diff"]["after"]["-/v0"]["peer_address"] == ["10.9.0.2/24"]


def test_a_link_of_someone_else_is_refused_naming_it(host):
    session, _writes = host
    with pytest.raises(Conflict, match=r"link eth0 already exists in the host namespace .*not made by nslab\.net"):
        plan(BridgePortResource, session, bridge="eth0")


def test_an_address_in_the_uplink_s_subnet_is_refused_before_any_change(host):
    session, _writes = host
    with pytest.raises(Invalid, match=r"^items\[0\]\.address\[0\]: 203\.0\.113\.50/24 overlaps 203\.0\.113\.10/24 on eth0"):
        plan(BridgePortResource, session, items=[dict(bridge="br0", address=["203.0.113.50/24"])])


def test_an_mtu_too_small_for_the_ipv6_address_of_its_veth_is_refused_before_any_change(host):
    """The kernel refuses an IPv6 address on a link under 1280 bytes: found by the bad-input property (the link
    was made, then the address failed)."""
    session, writes = host
    with pytest.raises(Invalid, match=r"^items\[0\]\.mtu: 68 is below 1280, the least a link with an IPv6 address may "
                                      r"have \(the kernel refuses fd31::2/64 there\)"):
        plan(VethResource, session, items=[dict(name="v0", peer="c0", mtu=68, peer_address=["fd31::2/64"])])
    assert writes == []
    plan(VethResource, session, items=[dict(name="v0", peer="c0", mtu=576, address=["10.0.0.1/24"])])


def test_items_are_checked_by_ansible_s_validator_naming_the_option(host):
    session, _writes = host
    with pytest.raises(Invalid, match=r"^items\[1\]\.mtu: .*int"):
        plan(VethResource, session, items=[dict(name="v0", peer="c0"), dict(name="v1", peer="c1", mtu="big")])
    with pytest.raises(Invalid, match=r"^items\[0\]\.colour: unknown option"):
        plan(VethResource, session, items=[dict(name="v0", peer="c0", colour="red")])


def test_a_later_item_plans_on_what_the_earlier_ones_leave(host):
    """Two ports of one bridge: the bridge is planned once, the second port sees it as the first left it."""
    session, _writes = host
    result = plan(BridgePortResource, session, bridge="br0", items=[dict(address=["10.8.0.1/24"]), dict(port="eth0")])
    assert result["actions"][0] == "add bridge br0 in the host namespace"
    assert result["actions"].count("add bridge br0 in the host namespace") == 1
    assert result["diff"]["after"]["-/br0"]["ports"] == ["eth0"]


def test_a_write_drops_the_shared_reads_of_the_namespaces_it_changes_only():
    """After an operation the engine drops the reads of the namespaces it declared (a route in p1),
    and every read when it declared none (it may have changed any namespace: a deleted veth takes its
    peer in another namespace with it)."""
    session = nsmod.Session()
    try:
        reads = []

        def read(key):
            return session.cached(key, lambda: reads.append(key) or len(reads))
        for key in (("links", None), ("links", "p1"), ("routes", "p1"), ("routes", "p2")):
            read(key)
        session.changed({"p1"})
        assert [read(k) for k in (("links", None), ("routes", "p2"))] == [1, 4], "other namespaces keep theirs"
        read(("routes", "p1"))
        assert reads[-1] == ("routes", "p1"), "p1 is read again"
        session.changed()
        read(("links", None))
        assert reads[-1] == ("links", None) and len(reads) == 6
    finally:
        session.close()


def test_plan_records_what_each_operation_changes():
    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Plan

    plan = Plan()
    plan.do("add route", lambda: None, touches=("p1",))
    plan.do("delete veth", lambda: None)
    plan.op("forget neighbours", lambda: None, touches=())
    assert plan.actions == ["add route", "delete veth"] and len(plan.ops) == 3
    assert plan.touches == {0: {"p1"}, 2: set()}, "absent: it may change any namespace"


@pytest.mark.parametrize("together_works", [True, False])
def test_a_run_of_operations_is_done_in_one_call_or_each_alone(together_works):
    """Consecutive operations with the same ``together`` key (the deletes of one namespace's links) go to one call;
    when it says it could not, each is done alone, in order; either way each is done once and listed as done."""
    from types import SimpleNamespace

    from ansible_collections.nslab.net.plugins.module_utils._engine.engine import Plan

    log: list = []

    def run(names):
        log.append(("together", names))
        return together_works
    plan = Plan()
    for ns, name in ((None, "a"), (None, "b"), ("p1", "c"), (None, "d"), (None, "e")):
        plan.do(f"delete {name}", lambda name=name: log.append(name), together=(("links", ns), run, name))
    plan.do("add route", lambda: log.append("route"), touches=("p1",))
    plan.do("delete f", lambda: log.append("f"), together=(("links", None), run, "f"))
    assert [plan.run_of(n) for n in (0, 2, 3, 5, 6)] == [[0, 1], [2], [3, 4], [5], [6]]
    call = Call.__new__(Call)
    changed: list = []
    call.ctx = SimpleNamespace(session=SimpleNamespace(changed=changed.append), done=[])
    call.apply(plan)
    if together_works:
        assert log == [("together", ["a", "b"]), "c", ("together", ["d", "e"]), "route", "f"]
    else:
        assert log == [("together", ["a", "b"]), "a", "b", "c", ("together", ["d", "e"]), "d", "e", "route", "f"]
    assert call.ctx.done == ["delete a", "delete b", "delete c", "delete d", "delete e", "add route", "delete f"]
    assert {"p1"} in changed and None in changed, "each operation drops the reads it may have changed"


@pytest.mark.parametrize("refused", [False, True])
def test_links_deleted_together_go_in_a_free_group_and_back_when_refused(refused):
    """delete_together: the links found (a missing one skipped) go into the first group no link is in, then one
    delete of that group; when the kernel refuses it, each moved link gets its group back and the caller is told
    to delete each alone."""
    from types import SimpleNamespace

    pytest.importorskip("pyroute2")
    from pyroute2.netlink.exceptions import NetlinkError

    from ansible_collections.nslab.net.plugins.module_utils._resources.links import GROUP, delete_together

    class Msg(dict):
        def __init__(self, index, name, group):
            super().__init__(index=index)
            self.attrs = {"IFLA_IFNAME": name, "IFLA_GROUP": group}

        def get_attr(self, name):
            return self.attrs.get(name)
    calls: list = []

    class Writer:
        def link(self, command, index, group):
            calls.append((command, index, group))

        def delete_group(self, group):
            calls.append(("delete group", group))
            if refused:
                raise NetlinkError(1, "Operation not permitted")
    links = [Msg(1, "lo", 0), Msg(2, "v1", 0), Msg(3, "hand0", GROUP), Msg(4, "v2", 7), Msg(5, "hand1", GROUP + 1)]
    reader = SimpleNamespace(links=lambda: links)
    ctx = SimpleNamespace(indexes={("-", "v1"): 2}, reader=lambda ns: reader, writer=lambda ns: Writer())
    assert delete_together(ctx, None, ["v1", "gone", "v2"]) is not refused
    moved = [("set", 2, GROUP + 2), ("set", 4, GROUP + 2), ("delete group", GROUP + 2)]
    assert calls == moved + ([("set", 2, 0), ("set", 4, 7)] if refused else []), calls
    assert ctx.indexes == {}, "indexes are read again after a delete"


def test_planning_leaves_the_read_of_the_host_as_it_was_read(monkeypatch):
    """"Have" is never written to: planning a change of an existing bridge (its addresses, up) and of a veth keeps
    what the call read of the host - its cache, and the session's shared dumps - equal to a fresh read."""
    writes: list = []
    namespaces = {None: FakeIPRoute(link(1, "lo"), link(2, "eth0", addresses=["203.0.113.10/24"]),
                                    link(3, "br0", kind="bridge", alias="nslab:nslab", addresses=["10.8.0.1/24"], up=False),
                                    writes=writes)}
    monkeypatch.setattr(nsmod, "ns_exists", lambda name: name is None or name in namespaces)
    fresh = FakeSession(namespaces)
    before = ({name: dict(found) for name, found in links_in(fresh, None).items()})
    session = FakeSession(namespaces)
    for resource_cls, args in ((BridgePortResource, dict(bridge="br0", address=["10.8.0.1/24", "10.9.0.1/24"])),
                               (VethResource, dict(name="v0", peer="c0", address=["10.7.0.1/24"]))):
        params = {name: spec.get("default") for name, spec in argument_spec(resource_cls).items()}
        params.update(args)
        call = Call(resource_cls, FakeModule(), params, session=session, check_mode=True)
        result = call.execute()
        assert result["changed"]
        read = call.ctx.cache.get(("link", None, "br0"))
        if read is not None:                    # as read: down, one address (the plan's copy has both, up)
            assert (read["up"], read["addresses"]) == (False, ["10.8.0.1/24"]), read
        assert {name: dict(found) for name, found in links_in(session, None).items()} == before
    assert result["diff"]["after"]["-/v0"]["address"] == ["10.7.0.1/24"] and writes == []


def test_planning_a_nat_change_leaves_its_read_of_the_rules_as_read(monkeypatch):
    """nat_rule's read of a namespace (both backends' states, cached for the run) holds no plan: the rules to remove
    and to add, the conntrack flushes, live in the call (``NatResource.todo``), so a purge of one rule and a new one
    leave the read equal to a fresh read of the same host."""
    from contextlib import nullcontext

    from ansible_collections.nslab.net.plugins.module_utils._nat import nat, natread, rule
    from ansible_collections.nslab.net.plugins.module_utils._nat import nat_iptables
    from ansible_collections.nslab.net.plugins.module_utils._nat import nat_nftables
    from ansible_collections.nslab.net.plugins.module_utils._host import tools
    from ansible_collections.nslab.net.plugins.module_utils._nat.natstate import IptablesState

    kept = rule.Rule(dict(netns=None, type="masquerade", family=4, source="10.9.0.0/24", destination=None,
                          in_interface=None, out_interface="lo", protocol=None, port=None, to=None, comment=None), "nslab")
    saved = nat_iptables.IptablesBackend(None, 4, False).batch(IptablesState("", "nft", 4), set(), [kept], "nslab")

    def command(argv, data=None):
        if argv[0].endswith("-save"):
            return 0, saved if "/iptables" in argv[0] else "", ""
        return (0, '{"nftables": []}', "") if argv[0].endswith("nft") else (1, "", "not faked")
    for backend in (nat_iptables, nat_nftables):
        monkeypatch.setattr(backend, "which", lambda *names: f"/fake/{names[0]}")
    monkeypatch.setattr(tools, "command", command)
    monkeypatch.setattr(tools.Tools, "read_proc", lambda self, path: "")

    class Session(FakeSession):
        def entered(self, name):
            return nullcontext()
    writes: list = []
    namespaces = {None: FakeIPRoute(link(1, "lo"), link(2, "eth0", addresses=["203.0.113.10/24"]), writes=writes)}
    monkeypatch.setattr(nsmod, "ns_exists", lambda name: name is None)
    params = {name: spec.get("default") for name, spec in argument_spec(nat.NatResource).items()}
    params.update(purge=True, items=[dict(type="dnat", destination="203.0.113.10", protocol="tcp", port=5000,
                                          to="10.9.0.2:80")])
    call = Call(nat.NatResource, FakeModule(), params, session=Session(namespaces), check_mode=True)
    result = call.execute()
    assert result["changed"] and any(a.startswith("delete masquerade rule") for a in result["actions"]), result
    read = call.ctx.cache[("nat", None)]
    fresh = natread.read_nat(type(call.ctx)(FakeModule(), "nslab", Session(namespaces), check_mode=True), None)
    assert set(read) == set(fresh) == {"ns", "backend", "impl", "ipt", "ipt_state", "nft", "nft_state"}
    assert {k: (e["lab"], e["lines"]) for k, e in read["ipt_state"][4].ours.items()} == \
        {k: (e["lab"], e["lines"]) for k, e in fresh["ipt_state"][4].ours.items()} == {kept.key: ("nslab", [
            line for line in saved.splitlines() if kept.key in line])}
    assert call.resource.todo(read)["remove"] == {kept.key} and writes == []


def test_a_new_nat_backend_is_one_class_and_its_line_in_implementations(monkeypatch):
    """A NatBackend subclass registered in ``natread.IMPLEMENTATIONS`` is what ``backend: NAME`` gets: read_nat opens
    it from what it read, nothing else names a backend's class (the resource talks to it through NatBackend only),
    and a subclass that leaves out a method of the interface cannot be made."""
    import inspect

    import pytest

    from ansible_collections.nslab.net.plugins.module_utils._host import tools
    from ansible_collections.nslab.net.plugins.module_utils._nat import natread
    from ansible_collections.nslab.net.plugins.module_utils._nat.natbackend import NatBackend

    class EchoNat(NatBackend):
        name = "echo"

        @classmethod
        def open(cls, ns, read):
            made = cls()
            made.ns, made.read = ns, read
            return made

        def ours(self):
            return {}

        def rule_count(self, rule):
            return 1

        def render(self, remove, add, lab):
            return [(f"echo {len(add)} rules", lambda: None)]

        def forward_blockers(self, bridges):
            return []

        def cannot_open(self):
            return None

    class Incomplete(NatBackend):
        name = "incomplete"

        def ours(self):
            return {}

    monkeypatch.setitem(natread.IMPLEMENTATIONS, "echo", EchoNat)
    monkeypatch.setattr(natread.IptablesBackend, "available", lambda self: False)
    monkeypatch.setattr(natread.NftBackend, "available", lambda self: False)
    monkeypatch.setattr(tools.Tools, "read_proc", lambda self, path: "")
    ctx = type("Ctx", (), {"cache": {}, "session": None})()
    scope = natread.read_nat(ctx, None, "echo")
    assert scope["backend"] == "echo" and isinstance(scope["impl"], EchoNat) and scope["impl"].ns is None
    assert set(scope["impl"].read) == {"ipt", "ipt_state", "nft", "nft_state"}
    assert natread.BACKENDS == ("auto", "iptables", "nftables")       # the option's choices, from the same dict
    for name in ("IptablesNat", "NftNat"):
        assert name not in inspect.getsource(natread.read_nat), f"read_nat names {name}"
    with pytest.raises(TypeError):
        Incomplete()  # pylint: disable=abstract-class-instantiated


# ------------------------------------------------------------ every resource, and the batch's rehearsal
def test_a_namespace_is_planned_and_one_made_by_hand_is_refused_naming_it(host):
    from ansible_collections.nslab.net.plugins.module_utils._resources.namespaces import NetnsResource

    session, _writes = host
    result = plan(NetnsResource, session, name="p2")
    assert result["changed"] and result["actions"][0] == "add netns p2", result["actions"]
    assert result["diff"]["before"] == {"p2": {"state": "absent"}}
    with pytest.raises(Conflict, match=r"p1 .*not made by nslab\.net"):
        plan(NetnsResource, session, name="p1")


def test_a_route_is_planned_in_a_namespace_and_one_to_an_unreachable_gateway_is_refused(host):
    from ansible_collections.nslab.net.plugins.module_utils._resources.routes import RouteResource

    session, _writes = host
    session.namespaces["p1"] = FakeIPRoute(link(1, "lo"), link(2, "c0", alias="nslab:nslab", addresses=["10.9.0.2/24"]),
                                           writes=_writes)
    result = plan(RouteResource, session, netns="p1", dst="default", gateway="10.9.0.1")
    assert result["changed"] and any("default" in a and "10.9.0.1" in a and "p1" in a for a in result["actions"]), result
    key = "p1 table 254 0.0.0.0/0 metric 0"
    assert list(result["diff"]["after"]) == [key] and result["diff"]["before"] == {key: {"state": "absent"}}
    from ansible_collections.nslab.net.plugins.module_utils._resources.routes import lab_proto

    default = Msg({"RTA_GATEWAY": "10.9.0.1", "RTA_OIF": 2, "RTA_TABLE": 254}, family=2, dst_len=0, table=254,
                  proto=lab_proto("nslab"), type=1)
    session.namespaces["p1"].get_routes = lambda family=None: [default]      # the lab's route there already
    assert not plan(RouteResource, FakeSession(session.namespaces), netns="p1", dst="default", gateway="10.9.0.1")["changed"]
    default["proto"] = 4                                                        # the same route, made by hand
    with pytest.raises(Conflict, match=r"route default .* already exists in netns p1 via 10\.9\.0\.1 .*not made by nslab"):
        plan(RouteResource, FakeSession(session.namespaces), netns="p1", dst="default", gateway="10.9.0.2")


def test_a_sysctl_is_planned_from_its_value_and_a_value_of_the_wrong_shape_is_refused(host, tmp_path, monkeypatch):
    from contextlib import nullcontext

    from ansible_collections.nslab.net.plugins.module_utils._resources import sysctl

    session, _writes = host
    (tmp_path / "ip_forward").write_text("0\n")
    monkeypatch.setattr(sysctl, "sysctl_path", lambda name: str(tmp_path / name.split(".")[-1]))
    monkeypatch.setattr(session, "entered", lambda name: nullcontext(), raising=False)
    result = plan(sysctl.SysctlResource, session, netns="p1", name="net.ipv4.ip_forward", value="1")
    assert result["actions"] == ["set net.ipv4.ip_forward=1 in netns p1"]
    assert result["diff"]["before"]["p1/net.ipv4.ip_forward"]["value"] == "0"
    assert not plan(sysctl.SysctlResource, session, netns="p1", name="net.ipv4.ip_forward", value="0")["changed"]
    with pytest.raises(Invalid, match=r"^value: net\.ipv4\.ip_forward takes 1 integer \(it is '0' now\), not '1 2'"):
        plan(sysctl.SysctlResource, session, netns="p1", name="net.ipv4.ip_forward", value="1 2")
    assert (tmp_path / "ip_forward").read_text() == "0\n"


class Refused(Exception):
    pass


class BatchModule(FakeModule):
    """The batch module's AnsibleModule as the batch code uses it: its params, fail_json raising."""

    check_mode = False

    def __init__(self, steps):
        self.params = dict(steps=[dict(module=name, args=args, enabled=True, about={}) for name, args in steps])

    def fail_json(self, **result):
        raise Refused(result)

    def warn(self, text):
        pass


def test_the_batch_rehearses_every_step_before_the_first_change_and_refuses_all_of_it(host):
    """A batch whose third step would be refused is refused whole, before its first step changes anything: the
    rehearsal plans the steps from the first one that changes something, each against what the steps before it
    would leave (the veth's peer goes into the namespace the first step only plans to make)."""
    from ansible_collections.nslab.net.plugins.module_utils._entry import batch

    session, writes = host
    good = [("netns", dict(name="p2")), ("veth", dict(name="v0", peer="c0", peer_netns="p2", peer_address=["10.9.0.2/24"]))]
    module = BatchModule(good)
    calls = batch.prepare_calls(module, session)
    batch.rehearse(module, calls, session)          # nothing refused, nothing written
    module = BatchModule(good + [("bridge_port", dict(bridge="br0", address=["203.0.113.50/24"]))])
    with pytest.raises(Refused) as refused:
        batch.rehearse(module, batch.prepare_calls(module, session), session)
    result = refused.value.args[0]
    assert result["failed_step"] == 2 and result["changed"] is False and result["actions"] == []
    assert result["msg"].startswith("steps[2] (bridge_port): address[0]: 203.0.113.50/24 overlaps 203.0.113.10/24 on eth0"), \
        result["msg"]
    assert result["msg"].endswith("(nothing was changed)"), result["msg"]
    assert writes == []
