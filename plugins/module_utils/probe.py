# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ns_probe: connectivity measured with real traffic, from inside namespaces."""

from __future__ import annotations

import socket
import time
import traceback
import urllib.request

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nslab.net.plugins.module_utils import netns as nsmod
from ansible_collections.nslab.net.plugins.module_utils import validate as v
from ansible_collections.nslab.net.plugins.module_utils.engine import require_pyroute2
from ansible_collections.nslab.net.plugins.module_utils.validate import Invalid

KINDS = ("ping", "tcp", "http")


def _ping(module, target: str, timeout: float) -> tuple[bool, str]:
    rc, out, err = module.run_command(["ping", "-c", "1", "-W", str(max(1, int(timeout))), "-q", target])
    return rc == 0, (out.strip().splitlines() or [err.strip()])[-1]


def _tcp(target: str, port: int, timeout: float) -> tuple[bool, str]:
    try:
        with socket.create_connection((target, port), timeout=timeout):
            return True, "connected"
    except OSError as exc:
        return False, exc.strerror or str(exc)


def _http(target: str, port: int, path: str, timeout: float) -> tuple[bool, str]:
    host = f"[{target}]" if ":" in target else target
    url = f"http://{host}:{port}{path}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # never via a proxy
    try:
        with opener.open(url, timeout=timeout) as resp:
            return True, resp.read(4096).decode(errors="replace")
    except Exception as exc:  # any failure is a measured 'unreachable'
        return False, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"


def run_probe(module, session, probe: dict) -> dict:
    start = time.monotonic()
    with session.entered(probe["netns"]):
        if probe["kind"] == "ping":
            ok, detail = _ping(module, probe["target"], probe["timeout"])
        elif probe["kind"] == "tcp":
            ok, detail = _tcp(probe["target"], probe["port"], probe["timeout"])
        else:
            ok, detail = _http(probe["target"], probe["port"], probe["path"], probe["timeout"])
    if ok and probe.get("expect") and probe["expect"] not in detail:
        ok, detail = False, f"answered, but without {probe['expect']!r}: {detail.strip()[:200]}"
    return dict(probe, ok=ok, detail=detail.strip()[:300], ms=round((time.monotonic() - start) * 1000, 1))


def _timeout(option: str, value) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise Invalid(option, f"{value!r} is not a number of seconds") from None
    if not 0.1 <= seconds <= 60:
        raise Invalid(option, f"{seconds:g} is outside 0.1-60 seconds")
    return seconds


def normalize(index: int, probe: dict) -> dict:
    opt = f"probes[{index}]"
    if not isinstance(probe, dict):
        raise Invalid(opt, "must be a dictionary with at least target")
    out = dict(name=probe.get("name") or f"probe {index}", fact=probe.get("fact") or probe.get("name") or "",
               netns=v.netns_name(f"{opt}.netns", probe.get("netns")),
               kind=v.choice(f"{opt}.kind", probe.get("kind", "ping"), KINDS),
               target=v.address(f"{opt}.target", v.required(f"{opt}.target", probe.get("target"))),
               timeout=_timeout(f"{opt}.timeout", probe.get("timeout", 2)), expect=probe.get("expect"),
               path=str(probe.get("path", "/")))
    if out["kind"] != "ping":
        out["port"] = v.port(f"{opt}.port", v.required(f"{opt}.port", probe.get("port")))[0]
    if out["netns"] is not None and not nsmod.ns_exists(out["netns"]):
        raise Invalid(f"{opt}.netns", f"namespace {out['netns']!r} does not exist")
    for key in probe:
        if key not in ("name", "fact", "netns", "kind", "target", "port", "timeout", "expect", "path"):
            raise Invalid(f"{opt}.{key}", "unknown option")
    return out


def main(module: AnsibleModule) -> None:
    require_pyroute2(module)
    session = nsmod.Session()
    try:
        probes = [normalize(i, p) for i, p in enumerate(module.params["probes"])]
        results = [run_probe(module, session, p) for p in probes]
    except Invalid as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:
        module.fail_json(msg=f"unexpected error: {type(exc).__name__}: {exc}", exception=traceback.format_exc())
    finally:                  # fail_json exits through here too
        session.close()
    module.exit_json(changed=False, results=results, ok=all(r["ok"] for r in results))
