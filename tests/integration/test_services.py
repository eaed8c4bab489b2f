"""ns_service: the demo service runs supervised, a re-run restarts it, and it is stopped
before its namespace is deleted; its page (index) is written and rewritten without a restart."""

from __future__ import annotations

import json
import os
import time

from traffic import http

#: a Python the unprivileged service user can run (the controller's venv lives under root's home)
SERVER = "/usr/bin/python3"


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
    args = dict(name="web", netns="a", command=[SERVER, "-m", "http.server", "--bind", "10.8.0.2", "8000"],
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
    assert r["changed"] and r["actions"] == [f"start service web in netns a as nobody: {SERVER} -m http.server --bind 10.8.0.2 8000"]
    assert _wait_http(mod, "http://10.8.0.2:8000/") == "hello-from-a\n"
    # deleting the namespace stops the service first, so the namespace really goes away
    r = mod("netns", name="a", state="absent")
    assert r["actions"][0] == "stop service web in netns a (before deleting the namespace)"
    assert "http.server" not in mod.sh("ps -eo args").stdout
    assert mod.sh("ip netns list").stdout == "" and "v0" not in mod.sh("ip link").stdout
    assert not mod("ns_service", name="web", state="absent")["changed"]


def test_a_demo_service_serves_when_the_module_returns(mod):
    """A demo service (python3 -m http.server ... PORT) slow to start, as on a loaded host: the module returns once it
    listens, so the play's next task (a probe, a check) finds it serving without retrying."""
    mod("netns", name="a")
    mod("veth", name="v0", peer="c0", peer_netns="a", address=["10.8.0.1/24"], peer_address=["10.8.0.2/24"])
    mod.sh("mkdir -p /run/www && echo slow-but-ready > /run/www/index.html")
    mod.sh("cat > /run/slowpython <<'EOF'\n#!/bin/sh\nsleep 3\nexec " + SERVER + ' "$@"\nEOF\nchmod 755 /run/slowpython')
    r = mod("ns_service", name="slow", netns="a", directory="/run/www",
            command=["/run/slowpython", "-m", "http.server", "--bind", "10.8.0.2", "8000"])
    assert r["changed"] and not r.get("warnings"), r
    assert http(mod.sandbox, "http://10.8.0.2:8000/", timeout=2) == "slow-but-ready\n"
    mod("netns", name="a", state="absent")


def _page(mod, path):
    """mode and type of the page's folders and the page, and its text."""
    folders = mod.sh(f"stat -c '%a %F' /run/nslab/www {os.path.dirname(path)} {path}").stdout.splitlines()
    return folders, mod.sh(f"cat {path}").stdout


def test_service_page_written_rewritten_without_a_restart(mod):
    mod("netns", name="a")
    mod("veth", name="v0", peer="c0", peer_netns="a", address=["10.8.0.1/24"], peer_address=["10.8.0.2/24"])
    directory, page = "/run/nslab/www/a-8000", "nslab demo service in a (10.8.0.2:8000)\n"
    path = f"{directory}/index.html"
    command = [SERVER, "-m", "http.server", "--bind", "10.8.0.2", "8000"]
    args = dict(name="demo-a-8000", netns="a", command=command, directory=directory, index=page)
    checked = mod("ns_service", check=True, **args)
    assert mod.sh("test -e /run/nslab/www", check=False).returncode != 0     # check mode writes nothing
    r = mod.four("ns_service", **args)
    assert r["actions"] == checked["actions"] == [f"write {path} for service demo-a-8000",
                                                  f"start service demo-a-8000 in netns a as nobody: {' '.join(command)}"]
    assert r["diff"]["before"] == {"demo-a-8000": {"state": "absent"}}
    assert r["diff"]["after"]["demo-a-8000"] == dict(name="demo-a-8000", netns="a", command=command,
                                                     directory=directory, user="nobody", running=True, index=page)
    assert r["services"] == [r["diff"]["after"]["demo-a-8000"]]
    assert _page(mod, path) == (["755 directory", "755 directory", "644 regular file"], page)
    assert _wait_http(mod, "http://10.8.0.2:8000/") == page
    pid = _record(mod, "demo-a-8000")["pid"]

    # a new page: rewritten (check, apply, check, apply), the service keeps running as it was
    new = "a new page\n"
    r = mod.four("ns_service", **dict(args, index=new))
    assert r["actions"] == [f"write {path} for service demo-a-8000"]
    assert (r["diff"]["before"]["demo-a-8000"]["index"], r["diff"]["after"]["demo-a-8000"]["index"]) == (page, new)
    assert {k: val for k, val in r["diff"]["before"]["demo-a-8000"].items() if k != "index"} == \
        {k: val for k, val in r["diff"]["after"]["demo-a-8000"].items() if k != "index"}
    assert _record(mod, "demo-a-8000")["pid"] == pid
    assert _page(mod, path) == (["755 directory", "755 directory", "644 regular file"], new)
    assert _wait_http(mod, "http://10.8.0.2:8000/") == new

    # a missing page is written again; without index the page is left alone
    mod.sh(f"rm {path}")
    r = mod("ns_service", **dict(args, index=new))
    assert r["changed"] and r["actions"] == [f"write {path} for service demo-a-8000"]
    assert "index" not in r["diff"]["before"]["demo-a-8000"]
    assert _record(mod, "demo-a-8000")["pid"] == pid
    mod.sh(f"echo by-hand > {path}")
    r = mod("ns_service", **{k: val for k, val in args.items() if k != "index"})
    assert not r["changed"] and "index" not in r["services"][0]
    assert mod.sh(f"cat {path}").stdout == "by-hand\n"

    # absent: the same shape of diff (the page stays where it is); the service stops at once (its
    # supervisor reaps it in its loop, not by a wait in its signal handler that could only time out)
    started = time.monotonic()
    r = mod("ns_service", name="demo-a-8000", state="absent")
    assert time.monotonic() - started < 2.5
    assert r["actions"] == ["stop service demo-a-8000 in netns a"]
    assert r["diff"]["after"] == {"demo-a-8000": {"state": "absent"}}
    assert r["diff"]["before"]["demo-a-8000"]["running"] is True
    assert "http.server" not in mod.sh("ps -eo args").stdout


def test_index_needs_a_directory(mod):
    mod("netns", name="a")
    command = [SERVER, "-m", "http.server", "--bind", "127.0.0.1", "8001"]
    for check in (True, False):
        r = mod("ns_service", check=check, expect_fail=True, name="web", netns="a", command=command, index="hi\n")
        assert r["msg"].startswith("index: needs directory") and not r["changed"], r
    good = dict(name="web", command=command, directory="/run/nslab/www/web", index="hi\n")
    r = mod("ns_service", expect_fail=True, netns="a", items=[good, dict(good, name="web2", directory="/")])
    assert r["msg"].startswith("items[1].index: needs directory (the service's own folder, not /)"), r
    mod.sh("touch /run/afile")
    r = mod("ns_service", expect_fail=True, netns="a", items=[good, dict(good, name="web2",
                                                                         directory="/run/afile/www")])
    assert r["msg"] == "items[1].directory: /run/afile is not a directory (the page goes to /run/afile/www/index.html)"
    # refused before any change: no page, no service
    assert mod.sh("test -e /run/nslab/www", check=False).returncode != 0
    assert mod.sh("ls /run/nslab/services/nslab 2>/dev/null || true").stdout == ""


def _uid(mod, pattern: str) -> str:
    return mod.sh(f"ps -o uid= -p $(pgrep -f '{pattern}' | head -1)").stdout.strip()


def test_a_service_runs_as_nobody_by_default_and_as_root_only_when_asked(mod):
    mod("netns", name="a")
    mod("veth", name="v0", peer="c0", peer_netns="a", address=["10.8.0.1/24"], peer_address=["10.8.0.2/24"])
    directory = "/run/nslab/www/a-80"
    args = dict(name="web80", netns="a", directory=directory, index="port 80 as nobody\n",
                command=[SERVER, "-m", "http.server", "--bind", "10.8.0.2", "--directory", directory, "80"])
    r = mod("ns_service", **args)
    assert r["services"][0]["user"] == "nobody" and r["actions"][-1].startswith("start service web80 in netns a as nobody:")
    assert _wait_http(mod, "http://10.8.0.2:80/") == "port 80 as nobody\n", "a port below 1024, unprivileged"
    assert _uid(mod, "^/usr/bin/python3 -m http.server --bind 10.8.0.2") == "65534"
    assert _uid(mod, "nslab-service:nslab:web80") == "0", "the supervisor stays root"
    r = mod.four("ns_service", **dict(args, user="root"))
    assert r["actions"][0] == "stop service web80 in netns a (its definition changed)"
    assert (r["diff"]["before"]["web80"]["user"], r["diff"]["after"]["web80"]["user"]) == ("nobody", "root")
    assert _wait_http(mod, "http://10.8.0.2:80/") and _uid(mod, "^/usr/bin/python3 -m http.server --bind 10.8.0.2") == "0"
    r = mod("ns_service", expect_fail=True, **dict(args, user="no-such-user"))
    assert r["msg"].startswith("user: user 'no-such-user' does not exist on the managed host") and not r["changed"], r


def test_a_demo_service_port_held_by_another_program_is_named_and_a_hand_started_copy_replaced(mod):
    """lab.yml's demo service on a port another program holds: refused before any change, naming the program and
    its PID; the check's hint typed by hand (the same command, started by the student) is stopped and replaced."""
    mod("netns", name="a")
    mod("veth", name="v0", peer="c0", peer_netns="a", address=["10.8.0.1/24"], peer_address=["10.8.0.2/24"])
    mod.sh("mkdir -p /run/www && echo hello-from-a > /run/www/index.html")
    command = ["python3", "-m", "http.server", "--bind", "10.8.0.2", "--directory", "/run/www", "8000"]
    holder = ("import socket, time; s = socket.socket(); s.bind(('10.8.0.2', 8000)); s.listen(); "
              "print('listening', flush=True); time.sleep(120)")
    pid = mod.sh(f"ip netns exec a setsid {SERVER} -c \"{holder}\" > /run/holder.log 2>&1 & echo $!").stdout.strip()
    try:
        mod.sh("for i in $(seq 50); do grep -q listening /run/holder.log && break; sleep 0.1; done")
        refused = mod("ns_service", expect_fail=True, name="demo", netns="a", command=command, directory="/run/www")
        assert f"service demo cannot listen on port 8000 in netns a: PID {pid} ({SERVER} -c import socket" in \
            refused["msg"], refused
        assert f"Stop that program (kill {pid})" in refused["msg"]
        assert not mod.sh("ls /run/nslab/services/nslab", check=False).stdout
    finally:
        mod.sh(f"kill -KILL {pid}")
    # the check's hint, typed by hand: the same command in the background; the hand-out stops it and starts its own
    copy = mod.sh("ip netns exec a setsid python3 -m http.server --bind 10.8.0.2 --directory /run/www 8000 "
                  ">/dev/null 2>&1 < /dev/null & echo $!").stdout.strip()
    assert _wait_http(mod, "http://10.8.0.2:8000/") == "hello-from-a\n"
    r = mod("ns_service", name="demo", netns="a", command=command, directory="/run/www", user="root")
    assert r["actions"][0].startswith(f"stop PID {copy} (") and r["actions"][0].endswith(
        " -m http.server --bind 10.8.0.2 --directory /run/www 8000): a copy of service demo started by hand, which "
        "holds port 8000"), r["actions"]
    left = mod.sh(f"cat /proc/{copy}/cmdline 2>/dev/null || true", check=False).stdout
    assert "http.server" not in left                    # gone (or a zombie, its command line empty)
    assert _wait_http(mod, "http://10.8.0.2:8000/") == "hello-from-a\n"
    assert _record(mod, "demo")["pid"] != int(copy)
    mod("netns", name="a", state="absent")
