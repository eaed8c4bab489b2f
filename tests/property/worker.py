"""Runs inside a sandbox: calls modules through their real entry point (``main()``
with the arguments AnsiballZ would hand over) and fingerprints the sandbox's kernel
state around each call. One JSON request per line on stdin, one answer per line; a
call's answer says how many operations of the engine's apply phase it ran
(``applied_operations``)."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import socket
import subprocess
import sys
import traceback

from ansible.module_utils.testing import patch_module_args

from ansible_collections.nslab.net.plugins.module_utils._engine import engine
from ansible_collections.nslab.net.plugins.module_utils._host import session as nsmod

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from hostnet import no_counters  # noqa: E402  (tests/: one way to leave out counters)

APPLIED = [0]        # operations of the engine's apply phase run since the worker started
_OP = engine.Plan.op


def _counted_op(plan, text, fn, touches=None, together=None):
    """Plan.op, with each operation counted when it runs, alone or with its neighbours in one call (``together``;
    when that call declines, each runs alone and counts then): a refusal must come before the first one."""
    def counted():
        APPLIED[0] += 1
        return fn()

    if together is not None:
        key, run, arg = together

        def counted_run(args):
            done = run(args)
            APPLIED[0] += len(args) if done else 0
            return done
        together = (key, counted_run, arg)
    _OP(plan, text, counted, touches, together)


engine.Plan.op = _counted_op

SYSCTLS = ("net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet", "net/ipv4/conf/all/forwarding",
           "net/ipv6/conf/all/forwarding", "net/ipv4/conf/all/rp_filter")


def _run(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False).stdout
    except OSError:
        return ""


def _sysctls(extra=()):
    out = {}
    for name in (*SYSCTLS, *extra):
        try:
            with open(f"/proc/sys/{name}") as fh:
                out[name] = fh.read().strip()
        except OSError:
            pass
    return out


def snapshot(extra_sysctls=()) -> dict:
    """Links, addresses, routes and sysctls of every namespace; netfilter; our state files."""
    namespaces = sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []
    state = dict(netns=namespaces)
    with nsmod.Session() as session:
        for ns in [None, *namespaces]:
            try:
                ipr = session.ipr(ns)
            except OSError:
                state[ns or "-"] = "unreadable"
                continue
            links = sorted(((m.get_attr("IFLA_IFNAME"), m.get_attr("IFLA_IFALIAS"), m.get_attr("IFLA_MASTER"),
                             m["flags"] & 1, m.get_attr("IFLA_MTU")) for m in ipr.get_links()), key=repr)
            # the kernel adds IPv6 link-local addresses and their routes on its own, a little later
            addrs = sorted(((m["index"], m.get_attr("IFA_ADDRESS"), m["prefixlen"]) for m in ipr.get_addr()
                            if not str(m.get_attr("IFA_ADDRESS")).startswith("fe80:")), key=repr)
            routes = sorted(((m["family"], m.get_attr("RTA_TABLE"), m.get_attr("RTA_DST"), m["dst_len"],
                             m.get_attr("RTA_GATEWAY"), m.get_attr("RTA_OIF"), m.get_attr("RTA_PRIORITY"),
                              m["proto"]) for m in ipr.get_routes(family=socket.AF_UNSPEC)
                             if not str(m.get_attr("RTA_DST")).startswith(("fe80:", "ff00:"))), key=repr)
            with session.entered(ns):
                sysctls = _sysctls(extra_sysctls)
            state[ns or "-"] = dict(links=links, addrs=addrs, routes=routes, sysctls=sysctls)
    for tool in ("iptables", "ip6tables"):     # rules and policies, without counters
        state[tool] = [line.split(" [")[0] for line in _run([f"{tool}-save"]).splitlines() if not line.startswith("#")]
    state["nft"] = no_counters(_run(["nft", "list", "ruleset"]))     # a packet through a chain is no change
    files = []
    for root in ("/run/nslab/services", "/run/nslab-sandbox"):
        for folder, _dirs, names in os.walk(root):
            files += [os.path.join(folder, name) for name in names if not name.endswith(".log")]
    state["files"] = sorted(files)
    return state


def call(module: str, args: dict) -> dict:
    """The module's main(), as AnsiballZ runs it; its JSON answer (or the traceback)."""
    mod = importlib.import_module(f"ansible_collections.nslab.net.plugins.modules.{module}")
    out = io.StringIO()
    try:
        with patch_module_args(args), contextlib.redirect_stdout(out):
            mod.main()
    except SystemExit:
        pass
    except BaseException:  # pylint: disable=broad-except
        return dict(traceback=traceback.format_exc(), stdout=out.getvalue())
    try:
        return json.loads(out.getvalue())
    except ValueError:
        return dict(traceback="no JSON answer", stdout=out.getvalue())


def main() -> None:
    answer = sys.__stdout__
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request.get("op") == "snapshot":
                reply = snapshot(request.get("sysctls", ()))
            else:
                applied = APPLIED[0]
                reply = call(request["module"], request["args"])
                reply["applied_operations"] = APPLIED[0] - applied
        except Exception:  # pylint: disable=broad-except
            reply = dict(traceback=traceback.format_exc(), worker=True)
        answer.write(json.dumps(reply, default=str) + "\n")
        answer.flush()


if __name__ == "__main__":
    main()
