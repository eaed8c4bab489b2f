"""ns_probe without a namespace: neither root nor pyroute2 (the lab report delegates its
outside probes to a controller that has neither), retries within the timeout, and ``ms``
is the successful attempt's round-trip time. Traffic only to 127.0.0.1, to listeners the
tests open."""

from __future__ import annotations

import http.server
import importlib.abc
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.nslab.net.plugins.module_utils._report import probe as pm

PING_OK = """PING 192.168.0.2 (192.168.0.2) 56(84) bytes of data.

--- 192.168.0.2 ping statistics ---
3 packets transmitted, 1 received, 66.6667% packet loss, time 404ms
rtt min/avg/max/mdev = 0.061/0.061/0.061/0.000 ms
"""


class Exit(Exception):
    def __init__(self, failed: bool, result: dict):
        super().__init__(result.get("msg", ""))
        self.failed, self.result = failed, result


class FakeModule:
    """The parts of AnsibleModule that probe.main uses."""

    def __init__(self, probes):
        self.params = dict(probes=probes)
        self.check_mode = False

    def fail_json(self, **result):
        raise Exit(True, result)

    def exit_json(self, **result):
        raise Exit(False, result)


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "pyroute2" or name.startswith("pyroute2."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


@pytest.fixture
def bare_controller(monkeypatch):
    """No pyroute2 importable and not root: a controller the report delegates to."""
    for name in [n for n in sys.modules if n == "pyroute2" or n.startswith("pyroute2.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_Blocker(), *sys.meta_path])
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ImportError):
        import pyroute2  # noqa: F401
    return monkeypatch


@pytest.fixture
def listener():
    """A TCP port on 127.0.0.1 that is bound but listens only when ``listen()`` is called."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def probe_of(**kwargs) -> dict:
    return pm.normalize(0, dict(kwargs))


def run_main(probes) -> Exit:
    with pytest.raises(Exit) as exc:
        pm.main(FakeModule(probes))
    return exc.value


def test_tcp_to_a_listener_needs_neither_root_nor_pyroute2(bare_controller, listener):
    listener.listen()
    port = listener.getsockname()[1]
    out = run_main([{"name": "published", "kind": "tcp", "target": "127.0.0.1", "port": port, "timeout": 2}])
    assert not out.failed, out.result
    assert out.result["ok"] is True and out.result["changed"] is False
    result = out.result["results"][0]
    assert result["ok"] and result["detail"] == "connected" and result["attempts"] == 1
    assert isinstance(result["ms"], float) and 0 <= result["ms"] < 1000
    assert "pyroute2" not in sys.modules


def test_refused_port_retries_until_the_timeout(bare_controller, listener):
    port = listener.getsockname()[1]             # bound, not listening: refused
    start = time.monotonic()
    out = run_main([{"kind": "tcp", "target": "127.0.0.1", "port": port, "timeout": 0.5}])
    took = time.monotonic() - start
    result = out.result["results"][0]
    assert not out.failed and out.result["ok"] is False
    assert result["ok"] is False and result["ms"] is None and result["detail"] == "Connection refused"
    assert result["attempts"] >= 3, result
    assert 0.4 <= took < 2, took


def test_tcp_gets_through_once_the_port_listens_and_ms_is_that_connect(listener):
    port = listener.getsockname()[1]
    timer = threading.Timer(0.4, listener.listen)
    timer.start()
    start = time.monotonic()
    try:
        result = pm.run_probe(None, probe_of(kind="tcp", target="127.0.0.1", port=port, timeout=5))
    finally:
        timer.join()
    took = (time.monotonic() - start) * 1000
    assert result["ok"] and result["attempts"] >= 2, result
    assert took >= 350 and result["ms"] < took - 250, (took, result["ms"])     # not the probe's duration


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"seen-from 127.0.0.1\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def web():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_http_expect_and_mismatch(bare_controller, web, listener):
    port = listener.getsockname()[1]
    out = run_main([{"name": "page", "kind": "http", "target": "127.0.0.1", "port": web, "expect": "seen-from"},
                    {"name": "other", "kind": "http", "target": "127.0.0.1", "port": web, "expect": "nope"},
                    {"name": "closed", "kind": "http", "target": "127.0.0.1", "port": port, "timeout": 0.3}])
    page, other, closed = out.result["results"]
    assert page["ok"] and page["attempts"] == 1 and isinstance(page["ms"], float)
    assert "seen-from 127.0.0.1" in page["detail"]
    assert not other["ok"] and other["ms"] is None and "without 'nope'" in other["detail"]
    assert not closed["ok"] and closed["ms"] is None and closed["attempts"] >= 2
    assert "Connection refused" in closed["detail"]
    assert out.result["ok"] is False


def test_a_probe_with_netns_still_requires_pyroute2(bare_controller):
    bare_controller.setattr(pm.nsmod, "ns_exists", lambda name: True)
    out = run_main([{"kind": "tcp", "target": "127.0.0.1", "port": 9}, {"netns": "netns1", "target": "192.168.0.1"}])
    assert out.failed
    assert out.result["msg"].startswith("pyroute2 is not installed for the Python that runs this module")


def test_ping_retries_after_errors_and_reports_the_rtt(monkeypatch):
    calls = []

    def command(args):
        calls.append(args)
        if len(calls) < 3:
            return 2, "", "ping: connect: Network is unreachable"
        return 0, PING_OK, ""
    monkeypatch.setattr(pm, "command", command)
    result = pm.run_probe(None, probe_of(target="192.168.0.2", timeout=3))
    assert result["ok"] and result["ms"] == 0.061 and result["attempts"] == 2 + 3
    assert calls[0][:9] == ["ping", "-n", "-q", "-c", "1", "-w", "2", "-i", "0.2"]
    assert calls[0][-1] == "192.168.0.2"


def test_ping_without_reply_fails_with_ms_null(monkeypatch):
    def command(args):
        time.sleep(0.05)
        return 1, PING_OK.replace("1 received", "0 received").rsplit("rtt", 1)[0], ""
    monkeypatch.setattr(pm, "command", command)
    result = pm.run_probe(None, probe_of(target="192.168.0.2", timeout=0.3))
    assert not result["ok"] and result["ms"] is None and result["attempts"] >= 3
    assert "0 received" in result["detail"]


@pytest.mark.parametrize("out, want", [(PING_OK, (3, 0.061)), ("", (0, None)),
                                       ("1 packets transmitted, 0 received, 100% packet loss", (1, None))])
def test_ping_summary(out, want):
    assert pm.ping_summary(out) == want


def test_importing_probe_does_not_import_pyroute2():
    code = ("import sys; import ansible_collections.nslab.net.plugins.module_utils._report.probe; "
            "sys.exit(1 if any(m.split('.')[0] == 'pyroute2' for m in sys.modules) else 0)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0


def test_a_batch_without_probes_does_not_import_http_or_the_topology():
    """Every module run pays for its imports (from the AnsiballZ zip, compiled each time): the batch of a
    role, which has no probe step, imports neither urllib.request (http.client, email) nor the topology."""
    code = ("import sys; import ansible_collections.nslab.net.plugins.module_utils._entry.batch; "
            "heavy = [m for m in ('urllib.request', 'http.client', 'concurrent.futures', "
            "'ansible_collections.nslab.net.plugins.module_utils._lab.topology') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, "-c", code], env=env, check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_uplink_placeholder_is_replaced_in_name_target_and_expect():
    probes = [dict(name="outside -> {uplink}:5000", target="{uplink}", kind="http", port=5000, expect="seen-from {uplink}"),
              dict(name="host -> netns1", target="192.168.0.2")]
    from ansible_collections.nslab.net.plugins.module_utils._lab.topology import with_uplink

    out = with_uplink(probes, "203.0.113.10")
    assert out[0]["name"] == "outside -> 203.0.113.10:5000" and out[0]["target"] == "203.0.113.10"
    assert out[0]["expect"] == "seen-from 203.0.113.10" and out[0]["port"] == 5000
    assert out[1] == probes[1]
    assert with_uplink(probes, None) is probes


def test_given_uplink_address_needs_neither_pyroute2_nor_root(bare_controller, listener):
    listener.listen()
    port = listener.getsockname()[1]
    module = FakeModule([dict(name="outside -> {uplink}", kind="tcp", target="{uplink}", port=port)])
    module.params["uplink_address"] = "127.0.0.1"
    with pytest.raises(Exit) as exited:
        pm.main(module)
    assert not exited.value.failed, exited.value.result
    result = exited.value.result
    assert result["ok"] and result["results"][0]["name"] == "outside -> 127.0.0.1"
    assert result["uplink"] == {"address": "127.0.0.1"}


def test_uplink_placeholder_without_an_address_needs_pyroute2(bare_controller):
    module = FakeModule([dict(kind="tcp", target="{uplink}", port=5000)])
    with pytest.raises(Exit) as exited:
        pm.main(module)
    assert exited.value.failed and "pyroute2" in exited.value.result["msg"]


def test_a_command_gives_what_run_command_gives_and_127_when_it_is_missing():
    from ansible_collections.nslab.net.plugins.module_utils._host.tools import command

    assert command(["sh", "-c", "cat; echo err >&2; exit 3"], "in\nput") == (3, "in\nput", "err\n")  # data as is
    rc, out, err = command(["nslab-no-such-program"])
    assert rc == 127 and out == "" and "nslab-no-such-program" in err
