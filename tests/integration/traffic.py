"""Real-traffic checks, run inside a sandbox (the seeds' ping / curl / tcpdump / arp)."""

from __future__ import annotations

import time


def _ns(netns):
    return f"ip netns exec {netns} " if netns else ""


def ping(box, target, netns=None, count=1, timeout=2) -> bool:
    return box.run(f"{_ns(netns)}ping -c {count} -W {timeout} -q {target}", check=False).returncode == 0


def http(box, url, netns=None, timeout=3) -> str | None:
    proc = box.run(f"{_ns(netns)}curl -sS --max-time {timeout} {url}", check=False)
    return proc.stdout if proc.returncode == 0 else None


def serve(box, netns, address, port) -> None:
    """The seed's `python3 -m http.server --bind ADDR PORT`, inside netns (killed with the sandbox)."""
    box.run(f"cd /tmp && {_ns(netns)}setsid -f bash -c 'exec -a nslab-demo-test python3 -m http.server "
            f"--bind {address} {port}' </dev/null >/dev/null 2>&1")
    for _attempt in range(100):
        if box.run(f"{_ns(netns)}bash -c 'exec 3<>/dev/tcp/{address}/{port}'", check=False).returncode == 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"demo server on {address}:{port} in {netns} did not start")


def capture_sources(box, dev, trigger, netns=None) -> str:
    """tcpdump on ``dev`` while ``trigger`` runs; returns what tcpdump printed."""
    cmd = (f"{_ns(netns)}timeout 4 tcpdump -l -n -i {dev} -c 1 icmp 2>/dev/null & sleep 0.5; "
           f"{trigger} >/dev/null 2>&1; wait")
    return box.run(cmd, check=False).stdout


def neighbours(box, netns) -> str:
    return box.run(f"{_ns(netns)}ip neigh show", check=False).stdout
