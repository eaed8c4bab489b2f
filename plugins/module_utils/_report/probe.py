# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ns_probe: connectivity measured with real traffic, from inside namespaces."""

from __future__ import annotations

import errno
import re
import socket
import time
import traceback
import urllib.error
from contextlib import nullcontext
from typing import TYPE_CHECKING

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils._nat import firewalls
from ansible_collections.nslab.net.plugins.module_utils._host import session as nsmod
from ansible_collections.nslab.net.plugins.module_utils._host import validate as v
from ansible_collections.nslab.net.plugins.module_utils._engine.engine import read_only
from ansible_collections.nslab.net.plugins.module_utils._engine.spec import check_entry, item_validator
from ansible_collections.nslab.net.plugins.module_utils._host.tools import command
from ansible_collections.nslab.net.plugins.module_utils._host.validate import Invalid
from ansible_collections.nslab.net.plugins.module_utils._host.errors import known

if TYPE_CHECKING:
    from types import ModuleType
    from typing import IO, Any, Callable

KINDS = ("ping", "tcp", "http", "forwarded")

#: a refused or unreachable connection is tried again until the probe's deadline
RETRY_ERRNOS = (errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNRESET)
RETRY_PAUSE = 0.1

PING_RTT = re.compile(r"=\s*([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+)\s*ms")
PING_SENT = re.compile(r"(\d+)\s+packets transmitted")


def ping_summary(out: str) -> tuple[int, float | None]:
    """(echo requests sent, rtt in ms or None) from ping's statistics: the rtt is the
    average of ``rtt min/avg/max/mdev = a/b/c/d ms`` (one reply awaited: its rtt)."""
    sent = PING_SENT.search(out)
    rtt = PING_RTT.search(out)
    return (int(sent.group(1)) if sent else 0), (float(rtt.group(2)) if rtt else None)


def _ping_command(target: str, remaining: float) -> list[str]:
    """One echo request every 0.2 s until a reply or the deadline (whole seconds: ping's
    ``-w`` takes no fractions); under a second left, one request waited for that long."""
    if remaining >= 1:
        return ["ping", "-n", "-q", "-c", "1", "-w", str(int(remaining)), "-i", "0.2", target]
    return ["ping", "-n", "-q", "-c", "1", "-W", f"{max(remaining, 0.1):.1f}", target]


def _ping(target: str, timeout: float) -> tuple[bool, str, float | None, int]:
    """(ok, detail, rtt ms, attempts): ping again after an error (no route yet...) until the deadline."""
    deadline = time.monotonic() + timeout
    attempts, detail = 0, ""
    while True:
        rc, out, err = command(_ping_command(target, deadline - time.monotonic()))
        if rc in (126, 127) and not out:                  # no ping to run: no network cause to look for
            return False, f"{err.strip()} (the ping probes need ping: apt install iputils-ping)", None, attempts
        sent, rtt = ping_summary(out)
        attempts += max(sent, 1)
        lines = out.strip().splitlines() or err.strip().splitlines() or [f"ping exited with {rc}"]
        detail = lines[-1]
        if rc == 0:
            return True, detail, rtt, attempts
        if deadline - time.monotonic() < 0.1:
            return False, detail, None, attempts
        time.sleep(min(RETRY_PAUSE, max(deadline - time.monotonic() - 0.1, 0)))


#: how long a forwarded probe watches for its first packet to be forwarded (the kernel counts it at once)
FORWARD_WATCH = 0.5


def _forwarded_count(snmp: IO[str]) -> int:
    """Ip ForwDatagrams of the lab host: the packets its IP stack forwarded (``snmp``: /proc/net/snmp, opened in the
    host's namespace; re-read from the start each time, it stays that namespace's)."""
    snmp.seek(0)
    header, values = [line.split() for line in snmp.read().splitlines() if line.startswith("Ip:")][:2]
    return int(values[header.index("ForwDatagrams")])


def _forwarded(snmp: IO[str], target: str, timeout: float) -> tuple[bool, str, float | None, int]:
    """A ping from the probe's namespace whose packets the lab host forwards towards the uplink (the seed's
    ``tcpdump -i eth0`` after ``ip_forward=1``): ok when the host's count of forwarded packets grows while it runs;
    no answer is needed (without masquerade none comes back)."""
    import subprocess

    before, start = _forwarded_count(snmp), time.monotonic()
    # not run_command: the count is watched while ping runs, and ping is stopped once it grew
    ping = subprocess.Popen(["ping", "-n", "-q", "-c", "3", "-i", "0.1", "-W", "1", target],  # pylint: disable=ansible-bad-function
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while time.monotonic() - start < min(timeout, FORWARD_WATCH):
            if _forwarded_count(snmp) > before:
                return True, f"forwarded by the lab host towards {target}", round((time.monotonic() - start) * 1000, 3), 1
            if ping.poll() is not None and time.monotonic() - start > 0.05:
                break
            time.sleep(0.01)
    finally:
        if ping.poll() is None:
            ping.kill()
        err = ping.communicate()[1].decode(errors="replace").strip()
    return False, f"the lab host forwarded no packet to {target}" + (f" (ping: {err.splitlines()[-1]})" if err else ""), \
        None, 1


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, OSError):
        exc = exc.reason
    return isinstance(exc, OSError) and not isinstance(exc, socket.timeout) and exc.errno in RETRY_ERRNOS


def _attempts(deadline: float, attempt: Callable[[float], str]) -> tuple[bool, str, float | None, int]:
    """Call ``attempt(seconds left)`` -> detail until it succeeds, fails for good or the
    deadline passes; (ok, detail, ms of the successful attempt, attempts)."""
    count = 0
    while True:
        count += 1
        start = time.monotonic()
        try:
            detail = attempt(max(deadline - start, 0.01))
            return True, detail, round((time.monotonic() - start) * 1000, 3), count
        except Exception as exc:  # any failure is a measured 'unreachable'
            detail = _describe(exc)
            if not _retryable(exc) or deadline - time.monotonic() <= RETRY_PAUSE:
                return False, detail, None, count
        time.sleep(RETRY_PAUSE)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"{type(exc.reason).__name__}: {getattr(exc.reason, 'strerror', None) or exc.reason}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"


def _tcp(target: str, port: int, timeout: float) -> tuple[bool, str, float | None, int]:
    def connect(seconds: float) -> str:
        with socket.create_connection((target, port), timeout=seconds):
            return "connected"
    return _attempts(time.monotonic() + timeout, connect)


def _http(target: str, port: int, path: str, timeout: float) -> tuple[bool, str, float | None, int]:
    host = f"[{target}]" if ":" in target else target
    url = f"http://{host}:{port}{path}"
    import urllib.request   # http.client and email with it: only where an http probe runs

    # never via a proxy, and plain http only: build_opener's https handler loads the system's CA certificates
    # (about 30 ms of CPU) for each probe, and a probe never speaks TLS
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler({}), urllib.request.UnknownHandler(), urllib.request.HTTPHandler(),
                    urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPRedirectHandler(),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)

    def get(seconds: float) -> str:
        with opener.open(url, timeout=seconds) as resp:
            return resp.read(4096).decode(errors="replace")
    return _attempts(time.monotonic() + timeout, get)


def run_probe(session: nsmod.Session | None, probe: dict) -> dict:
    """One probe, from inside its namespace when it has one (``session`` is then a
    :class:`netns.Session`; None will do for probes without ``netns``)."""
    entered = session.entered(probe["netns"]) if probe["netns"] is not None else nullcontext()  # type: ignore[union-attr]
    snmp = open("/proc/self/net/snmp", encoding="ascii") if probe["kind"] == "forwarded" else None  # the host's
    with entered, (snmp or nullcontext()):
        if probe["kind"] == "forwarded":
            snmp = known(snmp)         # opened above
            ok, detail, ms, attempts = _forwarded(snmp, probe["target"], probe["timeout"])
        elif probe["kind"] == "ping":
            ok, detail, ms, attempts = _ping(probe["target"], probe["timeout"])
        elif probe["kind"] == "tcp":
            ok, detail, ms, attempts = _tcp(probe["target"], probe["port"], probe["timeout"])
        else:
            ok, detail, ms, attempts = _http(probe["target"], probe["port"], probe["path"], probe["timeout"])
    if ok and probe.get("expect") and probe["expect"] not in detail:
        ok, detail, ms = False, f"answered, but without {probe['expect']!r}: {detail.strip()[:200]}", None
    detail = detail.strip()[:300]
    if not ok and probe.get("when_refused") and probe["expected"] and "Connection refused" in detail:   # ECONNREFUSED
        detail = f"{detail}: {probe['when_refused']}"
    return dict(probe, ok=ok, detail=detail, ms=ms, attempts=attempts,
                as_expected=ok == probe["expected"] or not probe["graded"])


#: probes run at once, each in a thread of its own (a thread enters its namespace alone: setns is per thread)
PARALLEL = 16


def run_all(session: nsmod.Session | None, probes: list) -> list:
    """Every probe at the same time, so a report with facts that fail takes the longest probe's time, not their sum;
    the results in the probes' order. Forwarded probes run after the others, one at a time: each counts the
    host's forwarded packets, which another probe's traffic would add to."""
    forwarded = [p for p in probes if p["kind"] == "forwarded"]
    if forwarded:
        rest = run_all(session, [p for p in probes if p["kind"] != "forwarded"])
        done = {id(p): run_probe(session, p) for p in forwarded}
        rest_iter = iter(rest)
        return [done[id(p)] if id(p) in done else next(rest_iter) for p in probes]
    if len(probes) < 2:
        return [run_probe(session, p) for p in probes]
    for name in {p["netns"] for p in probes if p["netns"] is not None}:
        session = known(session)          # probes in namespaces need one
        session.fd(name)                    # opened here, once, not by the threads
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(probes))) as pool:
        return list(pool.map(lambda p: run_probe(session, p), probes))


def _timeout(option: str, value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise Invalid(option, f"{value!r} is not a number of seconds") from None
    if not 0.1 <= seconds <= 60:
        raise Invalid(option, f"{seconds:g} is outside 0.1-60 seconds")
    return seconds


#: the options of one probe (ns_probe's documentation describes them)
PROBE_OPTIONS = dict(name=dict(type="str"), fact=dict(type="str"), netns=dict(type="str"),
                     kind=dict(type="str", choices=list(KINDS)), target=dict(type="str"), port=dict(type="raw"),
                     timeout=dict(type="raw"), expect=dict(type="str"), path=dict(type="str"),
                     expected=dict(type="bool", default=True), graded=dict(type="bool", default=True),
                     when_refused=dict(type="str"))
PROBE_VALIDATOR = item_validator(PROBE_OPTIONS)


def normalize(index: int, probe: dict, present: bool = True) -> dict:
    """A probe's options checked (``present``: its namespace must exist now)."""
    opt = f"probes[{index}]"
    probe = check_entry(PROBE_VALIDATOR, opt, probe)
    out: dict[str, Any]
    out = dict(name=probe.get("name") or f"probe {index}", fact=probe.get("fact") or probe.get("name") or "",
               netns=v.netns_name(f"{opt}.netns", probe.get("netns")),
               kind=v.choice(f"{opt}.kind", probe.get("kind", "ping"), KINDS),
               target=v.address(f"{opt}.target", v.required(f"{opt}.target", probe.get("target"))),
               timeout=_timeout(f"{opt}.timeout", probe.get("timeout", 2)), expect=probe.get("expect"),
               path=str(probe.get("path", "/")), expected=probe.get("expected", True) is not False,
               graded=probe.get("graded", True) is not False)
    if probe.get("when_refused"):
        out["when_refused"] = str(probe["when_refused"])
    if out["kind"] in ("tcp", "http"):
        ports = v.port(f"{opt}.port", v.required(f"{opt}.port", probe.get("port")))
        ports = known(ports)    # required
        out["port"] = ports[0]
    if present and out["netns"] is not None and not nsmod.ns_exists(out["netns"]):
        raise Invalid(f"{opt}.netns", f"namespace {out['netns']!r} does not exist")
    return out


#: the options of ns_probe (and of a batch step that calls it)
SPEC = dict(probes=dict(type="list", elements="dict", required=True), uplink_address=dict(type="str"))


def _read_uplink(session: nsmod.Session) -> dict:
    from ansible_collections.nslab.net.plugins.module_utils._host.readers import read_uplink

    uplink = read_uplink(session)
    if not uplink["address"]:
        raise Invalid("probes", "{uplink} stands for the uplink address, but this host has no IPv4 default "
                                "route with an address on its device: set uplink_address")
    return uplink


def _topology() -> ModuleType:
    """module_utils.topology (``{uplink}`` in probes), imported when probes are run: a batch without a
    probe step never compiles it."""
    from ansible_collections.nslab.net.plugins.module_utils._lab import topology

    return topology


def needs_session(raw: list, address: str | None) -> bool:
    """Whether the probes enter namespaces or read the uplink (both need pyroute2 and root)."""
    return (address is None and _topology().uses_uplink(raw)) or any(
        isinstance(p, dict) and p.get("netns") is not None for p in raw)


def measure(session: nsmod.Session | None, raw: list, address: str | None) -> dict:
    """Run the probes (``session``: a netlink session, needed when ``needs_session``); raises Invalid."""
    uplink = None
    if address is None and _topology().uses_uplink(raw):
        session = known(session)      # needs_session
        uplink = _read_uplink(session)
        address = uplink["address"]
    probes = [normalize(i, p) for i, p in enumerate(_topology().with_uplink(raw, address))]
    results = run_all(session, probes)
    if session is not None and not all(r["ok"] for r in results):
        name_firewalls(results)
    return dict(changed=False, actions=[], results=results, ok=all(r["ok"] for r in results),
                as_expected=all(r["as_expected"] for r in results),
                uplink=uplink or dict(address=address))


def name_firewalls(results: list) -> None:
    """Each failed probe of the lab host names the firewalls on the host that can drop its traffic."""
    named = firewalls.present(lambda argv: command(argv)[:2])
    for result in results:
        if not result["ok"] and named:
            result["firewalls"] = named
            result["detail"] = f"{result['detail']} (firewalls on this host: {'; '.join(named)})".strip()


class ProbeCall:
    """ns_probe as a step of the batch module: after the steps before it, on the batch's session."""

    def __init__(self, module: AnsibleModule, params: dict, session: nsmod.Session | None):
        self.module, self.params, self.session = module, params, session

    def prepare(self) -> None:
        """Check every probe's options before any step runs ({uplink} stands in for the address; its
        namespace may be one that an earlier step creates)."""
        probes = _topology().with_uplink(self.params["probes"], self.params["uplink_address"] or "0.0.0.0")
        for index, probe in enumerate(probes):
            normalize(index, probe, present=False)

    def execute(self) -> dict:
        return measure(self.session, self.params["probes"], self.params["uplink_address"])

    @staticmethod
    def failure(exc: Exception) -> dict:
        if isinstance(exc, Invalid):
            return dict(msg=str(exc), changed=False, actions=[])
        return dict(msg=f"unexpected error: {type(exc).__name__}: {exc}", changed=False, actions=[],
                    exception=traceback.format_exc())


def main(module: AnsibleModule) -> None:
    """Run the probes. pyroute2 and root are needed only to enter namespaces or read the
    uplink: probes without ``netns`` (the report's outside probes, delegated to the
    controller, given ``uplink_address``) need neither."""
    raw, address = module.params["probes"], module.params.get("uplink_address")

    def work(session: nsmod.Session | None) -> dict:
        result = measure(session, raw, address)
        result.pop("actions")
        return result
    read_only(module, work, "probes with netns or {uplink} need", session=needs_session(raw, address),
              extra=dict(actions=[]))
