"""ns_service: the demo service runs supervised, a re-run restarts it, and it is stopped
before its namespace is deleted."""

from __future__ import annotations

import json
import sys
import time

from traffic import http


def _record(mod, name, lab="nslab"):
    return json.loads(mod.sh(f"cat /run/nslab/services/{lab}/{name}.json").stdout)


def _wait_http(mod, url, netns=None, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out = http(mod.sandbox, url, netns=netns, timeout=1)
        if out:
            return out
        time.sleep(0.2)
    return None


def test_service_supervised_restarted_and_stopped_with_its_namespace(mod):
    mod("netns", name="a")
    mod("veth", name="v0", peer="c0", peer_netns="a", address=["10.8.0.1/24"], peer_address=["10.8.0.2/24"])
    mod.sh("mkdir -p /run/www && echo hello-from-a > /run/www/index.html")
    args = dict(name="web", netns="a", command=[sys.executable, "-m", "http.server", "--bind", "10.8.0.2", "8000"],
                directory="/run/www")
    r = mod.four("ns_service", **args)
    assert r["diff"]["after"]["web"]["running"] is True
    assert _wait_http(mod, "http://10.8.0.2:8000/") == "hello-from-a\n"
    # the command dies: the supervisor brings it back by itself
    mod.sh("pkill -f '^\\S+ -m http.server --bind 10.8.0.2'")   # the command, not its supervisor
    assert _wait_http(mod, "http://10.8.0.2:8000/") == "hello-from-a\n"
    # the supervisor dies: the next run restarts it
    mod.sh(f"kill -9 {_record(mod, 'web')['pid']}; pkill -f '^\\S+ -m http.server --bind 10.8.0.2' || true")
    r = mod("ns_service", **args)
    assert r["changed"] and r["actions"] == [f"start service web in netns a: {sys.executable} -m http.server --bind 10.8.0.2 8000"]
    assert _wait_http(mod, "http://10.8.0.2:8000/") == "hello-from-a\n"
    # deleting the namespace stops the service first, so the namespace really goes away
    r = mod("netns", name="a", state="absent")
    assert r["actions"][0] == "stop service web in netns a (before deleting the namespace)"
    assert "http.server" not in mod.sh("ps -eo args").stdout
    assert mod.sh("ip netns list").stdout == "" and "v0" not in mod.sh("ip link").stdout
    assert not mod("ns_service", name="web", state="absent")["changed"]
