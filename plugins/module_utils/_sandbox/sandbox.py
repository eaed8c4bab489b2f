# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sandbox hosts on the local machine (controller side).

A sandbox is a holder process in its own network, mount, UTS and PID namespaces
with a private ``/run`` (so a private ``/run/netns``) and a private copy-on-write
view of ``/etc`` (so a private ``/etc/netns`` and ``/etc/resolv.conf``). Commands
run inside with ``nsenter``. The machine's own network is never touched.
The holder is PID 1 of its PID namespace: killing it (SIGKILL: a PID-namespace
init ignores SIGTERM) ends every process started inside.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import time

from ansible_collections.nslab.net.plugins.module_utils._host.session import Session
from ansible_collections.nslab.net.plugins.module_utils._host.errors import known

DEFAULT_ROOT = "/run/nslab-sandbox"
#: the directories the setup script (below) gives a sandbox of its own: the machine's are not what it sees there
PRIVATE_DIRS = ("/run", "/etc")
MARKER = "nslab-sandbox"
RESOLV = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"

_SETUP = r"""
set -e
mount -t overlay overlay -o lowerdir=/etc,upperdir="$1/etc-upper",workdir="$1/etc-work" /etc
mount -t tmpfs -o mode=0755 nslab-run /run
mkdir -p /run/netns /run/lock
: > /run/nslab-sandbox-host  # persist (module_utils/_persist/persist.py) refuses a host that a reboot ends
rm -f /etc/resolv.conf
printf '%s' "$2" > /etc/resolv.conf
rm -rf /etc/netns
hostname "$3"
# no IPv6 duplicate address detection: addresses are usable at once and stay stable
echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad
echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad
echo ready
exec -a "$4" sleep infinity
"""


class SandboxError(Exception):
    pass


class Sandbox:
    #: the holder's setup script: it gets setup_args() then the marker, prints "ready", then
    #: execs the holder (a subclass may set up another filesystem view, e.g. a chroot's)
    setup_script = _SETUP

    def __init__(self, name: str, root: str = DEFAULT_ROOT):
        self.name = name
        self.root = root
        self.dir = os.path.join(root, name)

    # -- state ----------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """PID (in our PID namespace) of the holder, if it is alive."""
        try:
            with open(os.path.join(self.dir, "pid")) as fh:
                pid = int(fh.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if not fh.read().startswith(f"{MARKER}:{self.name}".encode()):
                    return None
            return pid
        except (OSError, ValueError):
            return None

    def exists(self) -> bool:
        return self.pid is not None

    # -- life cycle -----------------------------------------------------
    def create(self, hostname: str | None = None, resolv: str = RESOLV, timeout: float = 10.0) -> bool:
        """Start the holder; False if it was already running."""
        if self.exists():
            return False
        if os.path.isdir(self.dir):
            shutil.rmtree(self.dir)
        argv = ["unshare", "--net", "--mount", "--uts", "--pid", "--fork", "--mount-proc",
                "--propagation", "private", "--", "/bin/bash", "-c", self.setup_script, "nslab-sandbox-setup",
                *self.setup_args(hostname or self.name, resolv), f"{MARKER}:{self.name}"]
        # the holder outlives this process (sandboxes persist between runs): run_command cannot start it
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,  # pylint: disable=ansible-bad-function
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        stdout, stderr = known(proc.stdout), known(proc.stderr)
        line = stdout.readline().decode().strip()
        if line != "ready":
            err = stderr.read().decode() if proc.poll() is not None else ""
            proc.kill()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise SandboxError(f"sandbox {self.name} did not start: {line} {err}".strip())
        stdout.close()
        stderr.close()
        deadline = time.monotonic() + timeout
        holder = None
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as fh:
                    kids = fh.read().split()
                if kids:
                    holder = int(kids[0])
                    with open(f"/proc/{holder}/cmdline", "rb") as fh:
                        if fh.read().startswith(MARKER.encode()):
                            break
            except OSError:
                pass
            time.sleep(0.01)
        else:
            proc.kill()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise SandboxError(f"sandbox {self.name}: holder process not found")
        with open(os.path.join(self.dir, "pid"), "w") as fh:
            fh.write(str(holder))
        self._unshare = proc
        with Session() as session:
            session.ipr(self.netns).link("set", index=1, state="up")
        return True

    def setup_args(self, hostname: str, resolv: str) -> list[str]:
        """The setup script's arguments (before the marker); makes what it needs on disk."""
        os.makedirs(os.path.join(self.dir, "etc-upper"))
        os.makedirs(os.path.join(self.dir, "etc-work"))
        return [self.dir, resolv, hostname]

    @property
    def netns(self) -> str:
        """The holder's network namespace as a path a Session can enter; SandboxError when no holder runs."""
        pid = self.pid
        if pid is None:
            raise SandboxError(f"sandbox {self.name} is not running (no holder process under {self.dir})")
        return f"/proc/{pid}/ns/net"

    def destroy(self, timeout: float = 10.0) -> bool:
        """Kill the holder (and with it every process inside); False if none ran."""
        pid = self.pid
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
                unshare = getattr(self, "_unshare", None)
                if unshare is not None:
                    unshare.poll()
                time.sleep(0.01)
        unshare = getattr(self, "_unshare", None)
        if unshare is not None:
            try:
                unshare.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                unshare.kill()
        if os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)
        try:
            os.rmdir(self.root)          # the last one out tidies up
        except OSError:
            pass
        return pid is not None

    # -- running inside -------------------------------------------------
    def argv(self, cmd: list[str]) -> list[str]:
        pid = self.pid
        if pid is None:
            raise SandboxError(f"sandbox {self.name} is not running (create it first)")
        return ["nsenter", "-t", str(pid), "-n", "-m", "-u", "-p", "--"] + list(cmd)

    def run(self, cmd: str | list[str], input: str | None = None, check: bool = True, timeout: float = 120,
            env: dict | None = None) -> subprocess.CompletedProcess:
        if isinstance(cmd, str):
            cmd = ["/bin/bash", "-c", cmd]
        # also used by the connection plugin and the tests, where there is no AnsibleModule
        proc = subprocess.run(self.argv(cmd), input=input,  # pylint: disable=ansible-bad-function
                              capture_output=True, text=True, timeout=timeout, env=env, check=False)
        if check and proc.returncode != 0:
            raise SandboxError(f"in sandbox {self.name}: {cmd} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc


def list_sandboxes(root: str = DEFAULT_ROOT) -> list[str]:
    try:
        return sorted(n for n in os.listdir(root) if Sandbox(n, root).exists())
    except FileNotFoundError:
        return []


# ------------------------------------------------------ the simulated internet
INTERNET = "nslab-internet"
WAN_GATEWAY = "203.0.113.1"
WAN_PREFIX = 24
PUBLIC_SERVER = "198.51.100.10"
WAN_MAC = "02:00:cb:00:71:01"        # the router's (locally administered)
SEEN_LOG = "/run/nslab-seen.log"

# A public server: answers HTTP on port 80 with the source address it saw.
_SERVER = r'''
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("seen-from %s\n" % self.client_address[0]).encode()
        with open(sys.argv[2], "a") as log:
            log.write(self.client_address[0] + "\n")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)   # no getfqdn(): no DNS lookup
        self.server_name, self.server_port = self.server_address[:2]
S((sys.argv[1], 80), H).serve_forever()
'''


class Internet(Sandbox):
    """One sandbox that plays the internet: a router on 203.0.113.1/24 for the
    lab hosts' uplinks and a public server on 198.51.100.10 (ping and HTTP).
    It has no route to any lab subnet, so lab egress works only through NAT.
    It is also the outside client that reaches the hosts' published ports."""

    def __init__(self, root: str = DEFAULT_ROOT):
        super().__init__(INTERNET, root)

    def create(self, hostname: str | None = None, resolv: str = RESOLV, timeout: float = 10.0) -> bool:
        if not super().create(hostname or "internet", resolv, timeout):
            return False
        with Session() as session:
            ipr = session.ipr(self.netns)
            # a fixed MAC: a bridge takes its lowest port's, so hosts coming and going would change the
            # router's address under every other host's neighbour cache (seconds of lost traffic)
            ipr.link("add", ifname="wan0", kind="bridge", address=WAN_MAC)
            wan = ipr.link("get", ifname="wan0")[0]["index"]
            ipr.addr("add", index=wan, address=WAN_GATEWAY, prefixlen=WAN_PREFIX)
            ipr.link("set", index=wan, state="up")
            ipr.addr("add", index=1, address=PUBLIC_SERVER, prefixlen=32)
            with session.entered(self.netns):
                with open("/proc/sys/net/ipv4/ip_forward", "w") as fh:
                    fh.write("1")
        import sys
        # the server's code and log live inside the sandbox (its /run is private)
        # (the last argument only marks the process; renaming argv[0] would break a venv's Python)
        subprocess.Popen(self.argv(["setsid", "-f",  # pylint: disable=ansible-bad-function
                                    sys.executable, "-c", _SERVER, PUBLIC_SERVER, SEEN_LOG, "nslab-sandbox-server"]),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).wait()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run(f"exec 3<>/dev/tcp/{PUBLIC_SERVER}/80", check=False).returncode == 0:
                break
            time.sleep(0.05)
        return True

    def attach(self, host: Sandbox, address: str, mac: str | None = None) -> None:
        """Give ``host`` an uplink eth0 with ``address`` (/24) and a default route here (``mac``: eth0's
        hardware address, kept across a simulated reboot as a real NIC keeps it)."""
        from pyroute2.netlink.exceptions import NetlinkError

        port = f"up-{host.name}"[:15]
        with Session() as session:
            ipr = session.ipr(self.netns)
            for attempt in range(100):
                # a port left by a host sandbox whose namespace the kernel is still freeing:
                # it may vanish between the lookup and the delete, or the add may race with it
                try:
                    stale = ipr.link_lookup(ifname=port)
                    if stale:
                        ipr.link("del", index=stale[0])
                    ipr.link("add", ifname=port, kind="veth",
                             peer=dict({"ifname": "eth0", "net_ns_fd": session.fd(host.netns)},
                                       **({"address": mac} if mac else {})))
                    break
                except NetlinkError as exc:
                    if exc.code not in (errno.ENODEV, errno.EEXIST, errno.EBUSY) or attempt == 99:
                        raise
                    time.sleep(0.05)
            index = ipr.link("get", ifname=port)[0]["index"]
            ipr.link("set", index=index, master=ipr.link("get", ifname="wan0")[0]["index"], state="up")
            hipr = session.ipr(host.netns)
            eth0 = hipr.link("get", ifname="eth0")[0]["index"]
            hipr.addr("add", index=eth0, address=address, prefixlen=WAN_PREFIX)
            hipr.link("set", index=eth0, state="up")
            hipr.route("add", dst_len=0, gateway=WAN_GATEWAY, oif=eth0)

    def detach(self, host: Sandbox) -> None:
        """Remove the uplink of ``host`` (its eth0 goes with it)."""
        from pyroute2.netlink.exceptions import NetlinkError

        with Session() as session:
            ipr = session.ipr(self.netns)
            try:
                ipr.link("del", index=ipr.link("get", ifname=f"up-{host.name}"[:15])[0]["index"])
            except NetlinkError:
                pass

    def seen(self) -> list[str]:
        """Source addresses the public server has seen, oldest first."""
        return self.run(f"cat {SEEN_LOG} 2>/dev/null || true").stdout.split()


# ------------------------------------------------------- the sandbox module
def uplink_of(box: Sandbox) -> str | None:
    import ipaddress

    with Session() as session:
        ipr = session.ipr(box.netns)
        try:
            eth0 = ipr.link("get", ifname="eth0")[0]["index"]
        except Exception:
            return None
        for msg in ipr.get_addr(index=eth0):
            if msg["family"] == 2 and msg["index"] == eth0:
                return str(ipaddress.ip_address(msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")))
    return None
