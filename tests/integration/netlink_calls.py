"""Run inside a sandbox by test_netlink.py: every kind of netlink request the resources make, once through
pyroute2's IPRoute in one new namespace and once through the collection's Writer in another, then what the
kernel answered to each (done, or the errno) and what each namespace holds; prints both as JSON."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from ansible_collections.nslab.net.plugins.module_utils._host import session as nsmod
from ansible_collections.nslab.net.plugins.module_utils._host.readers import address_list, link_dict, route_dict


def calls(nl, index, fd: int, snapshot, ns: str) -> list:
    """The requests, in an order that exercises each answer the resources rely on (EEXIST, ENODEV, ESRCH...), in
    the namespace ``ns``; ``snapshot()`` is called once, when it holds the most."""
    answers = []

    def do(what, fn, *args, **kwargs):
        try:
            fn(*args, **kwargs)
            answers.append([what, 0])
        except Exception as exc:            # the errno is what the engine maps (engine.netlink)
            answers.append([what, getattr(exc, "code", None) or type(exc).__name__])

    do("add bridge", nl.link, "add", ifname="br0", kind="bridge")
    br = index("br0")
    do("mark and set up the bridge", nl.link, "set", index=br, ifalias="nslab:lab ünïcode", state="up")
    do("add veth with its peer in another namespace", nl.link, "add", ifname="v0", kind="veth",
       peer={"ifname": "p0", "net_ns_fd": fd})
    do("add veth with an mtu", nl.link, "add", ifname="v1", kind="veth", peer={"ifname": "p1"}, mtu=1400)
    do("add a link that exists", nl.link, "add", ifname="v1", kind="veth", peer={"ifname": "p9"})
    v0, v1, p1 = index("v0"), index("v1"), index("p1")
    do("set mtu", nl.link, "set", index=p1, mtu=1300)
    do("set alias and up", nl.link, "set", index=v0, ifalias="nslab:lab peer=p0@-", state="up")
    do("set down", nl.link, "set", index=v1, state="down")
    do("attach to the bridge", nl.link, "set", index=v0, master=br)
    do("attach another", nl.link, "set", index=v1, master=br)
    do("hairpin on", nl.brport, "set", index=v0, mode=1)
    do("detach", nl.link, "set", index=v1, master=0)
    do("add address", nl.addr, "add", index=p1, address="10.9.0.2", prefixlen=24, broadcast="10.9.0.255")
    do("add the address again", nl.addr, "add", index=p1, address="10.9.0.2", prefixlen=24, broadcast="10.9.0.255")
    do("add a /32", nl.addr, "add", index=p1, address="10.8.0.1", prefixlen=32)
    do("add an IPv6 address", nl.addr, "add", index=p1, address="fd00::2", prefixlen=64)
    do("set up", nl.link, "set", index=p1, state="up")
    do("set up the other end", nl.link, "set", index=v1, state="up")
    do("default route", nl.route, "replace", family=socket.AF_INET, dst_len=0, table=254, priority=0, proto=200,
       gateway="10.9.0.1")
    do("route over a device", nl.route, "replace", family=socket.AF_INET, dst_len=16, dst="10.7.0.0", table=100,
       priority=5, proto=200, oif=p1)
    do("route in a table past 255", nl.route, "replace", family=socket.AF_INET, dst_len=16, dst="10.6.0.0",
       table=1000, priority=5, proto=200, oif=p1)
    do("blackhole", nl.route, "replace", family=socket.AF_INET, dst_len=24, dst="10.5.0.0", table=254, priority=0,
       type=6, proto=200)
    do("IPv6 route", nl.route, "replace", family=socket.AF_INET6, dst_len=48, dst="fd01::", table=254, priority=0,
       proto=200, gateway="fd00::1")
    do("route via a missing gateway", nl.route, "replace", family=socket.AF_INET, dst_len=24, dst="10.4.0.0",
       table=254, priority=0, proto=200, gateway="10.3.0.1")
    do("replace the route over a device", nl.route, "replace", family=socket.AF_INET, dst_len=16, dst="10.7.0.0",
       table=100, priority=5, proto=200, gateway="10.9.0.1", oif=p1)
    subprocess.run(["ip", "-n", ns, "route", "add", "10.2.0.0/24", "proto", "200", "nexthop", "via", "10.9.0.1", "dev", "p1",
                    "nexthop", "via", "10.9.0.3", "dev", "p1", "weight", "2"], check=True)   # no IPRoute call makes one
    snapshot()
    do("delete the blackhole", nl.route, "del", family=socket.AF_INET, dst_len=24, dst="10.5.0.0", table=254,
       priority=0, type=6)
    do("delete the route past 255", nl.route, "del", family=socket.AF_INET, dst_len=16, dst="10.6.0.0", table=1000,
       priority=5)
    do("delete a missing route", nl.route, "del", family=socket.AF_INET, dst_len=24, dst="10.4.0.0", table=254,
       priority=0)
    do("forget a missing neighbour", nl.neigh, "del", dst="10.9.0.7", ifindex=p1, family=socket.AF_INET)
    do("delete the /32", nl.addr, "del", index=p1, address="10.8.0.1", prefixlen=32)
    do("delete a missing address", nl.addr, "del", index=p1, address="10.8.0.1", prefixlen=32)
    do("mark lo", nl.link, "set", index=1, ifalias="nslab:lab")
    do("set lo up", nl.link, "set", index=1, state="up")
    do("put a veth in a link group", nl.link, "set", index=v1, group=77)
    if hasattr(nl, "delete_group"):       # the Writer's name for IPRoute's link("del", group=...)
        do("delete the link group", nl.delete_group, 77)
    else:
        do("delete the link group", nl.link, "del", group=77)
    do("delete a veth", nl.link, "del", index=v0)
    do("delete it again", nl.link, "del", index=v0)
    do("set a missing link", nl.link, "set", index=v0, state="up")
    return answers


class Pyroute2Reader:
    """The same reads, each answer decoded by pyroute2's own message classes (ifinfmsg, ifaddrmsg, rtmsg)."""

    def __init__(self, reader):
        self.reader = reader

    def links(self):
        return self.reader.request(18, True)

    def addresses(self, family=0):
        return self.reader.request(22, True, {"family": family})

    def routes(self, family=0, kind=1):
        return self.reader.request(26, True, {"family": family, "type": kind})


def read(reader) -> dict:
    """What a namespace holds, as the readers read it through ``reader`` (global addresses only: a link-local one
    follows a random MAC address)."""
    links = [link_dict(msg) for msg in reader.links()]
    names = {link["index"]: link["name"] for link in links}
    routes = [dict(route_dict(msg, names), type=msg["type"], hops=[hop["oif"] for hop in msg.get_attr("RTA_MULTIPATH") or []])
              for family in (socket.AF_INET, socket.AF_INET6) for kind in (1, 6) for msg in reader.routes(family, kind)]
    return dict(links=links, addresses=sorted([index, cidr] for index, cidr, scope in address_list(reader) if scope == 0),
                routes=sorted(json.dumps(route, sort_keys=True) for route in routes))


def state(session: nsmod.Session, ns: str) -> dict:
    """What a namespace holds, read through the collection's decoders, and through pyroute2's (``decoded``)."""
    reader = session.reader(ns)
    return dict(read(reader), decoded=read(Pyroute2Reader(reader)))


def main() -> None:
    from pyroute2.iproute.linux import IPRoute

    out = {}
    with nsmod.Session() as session:
        for ns, way in (("by-iproute", "iproute"), ("by-writer", "writer")):
            nsmod.create_namespace(ns)
            with session.entered(ns):
                nl = IPRoute() if way == "iproute" else session.writer(ns)
            reader = session.reader(ns)
            out[way] = {}
            answers = calls(nl, lambda name, reader=reader: reader.link(name)["index"], session.fd(ns),
                            lambda ns=ns, way=way: out[way].update(middle=state(session, ns)), ns)
            out[way].update(state(session, ns), answers=answers)
            if way == "iproute":
                nl.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
