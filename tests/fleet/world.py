"""The fleet test world: lab VMs reached over real SSH, all on this machine.

    world.py run [--] CMD...      run CMD as "the controller": a sandbox with its own network,
                                  mount, UTS and PID namespaces, a copy-on-write /etc and /root
                                  and a private /run. Everything made inside dies with CMD.
    world.py up SPEC INVENTORY    (inside the controller) make the VMs SPEC lists and write the
                                  inventory, ssh keys and known_hosts for them
    world.py down                 (inside the controller) end the VMs again
    world.py reboot NAME [--no-uplink]
                                  (inside the controller) a simulated reboot: the VM's processes, network
                                  and /run end; it starts again over the same root filesystem, with its
                                  management link, sshd and (unless --no-uplink) its uplink, nothing else
    world.py uplink NAME          (inside the controller) give a VM its uplink (after --no-uplink)
    world.py roots SPEC           build (or find) the cached root filesystems SPEC needs

A VM is a sandbox (network, mount, UTS and PID namespaces; private /run, /run/netns, /tmp and a
copy-on-write root filesystem over a cached Debian root made with mmdebstrap) running the
distribution's own sshd, chroot-ed in that root. Each has a management address on 192.0.2.0/24
(the controller is 192.0.2.1) and an uplink eth0 to the simulated internet (203.0.113.0/24,
router 203.0.113.1, public server 198.51.100.10). The controller also has an uplink there, so
it can reach the VMs' published ports the way a user's controller reaches real VMs.
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import nslabtest  # noqa: E402,F401  # pylint: disable=unused-import  # (puts the collection on sys.path)
from ansible_collections.nslab.net.plugins.module_utils._host.session import Session
from ansible_collections.nslab.net.plugins.module_utils._sandbox.sandbox import Internet, Sandbox, SandboxError  # noqa: E402

CACHE = os.environ.get("NSLAB_CACHE", "/var/cache/nslab")
STATE = "/run/nslab-fleet"               # inside the controller: a private tmpfs
MGMT_BRIDGE, MGMT_GATEWAY, MGMT_PREFIX = "mgmt", "192.0.2.1", 24
MGMT_MAC = "02:00:c0:00:02:01"
CONTROLLER_UPLINK = "203.0.113.250"
REPO_PORT = 8000
CONTROLLER_USER = "nslab"                 # the non-root user on the controller
BASE_PACKAGES = ["openssh-server", "python3", "python3-apt", "iproute2", "iptables", "nftables",
                 "iputils-ping", "sudo", "procps", "systemd"]
ROOTS = {                                  # cached root name -> (suite, extra packages)
    "debian12": ("bookworm", ["python3-pyroute2"]),
    "debian12-bare": ("bookworm", []),
    "debian12-ufw": ("bookworm", ["python3-pyroute2", "ufw"]),
    "debian12-firewalld": ("bookworm", ["python3-pyroute2", "firewalld", "dbus"]),
    "debian13": ("trixie", ["python3-pyroute2"]),
}


def log(msg: str) -> None:
    print(f"[world] {msg}", flush=True)


def sh(argv, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, **kw)


# ------------------------------------------------------------------ root filesystems
def mirror() -> str:
    """The Debian mirror this machine's apt already uses (never a host of our own choosing)."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            with open(path) as fh:
                for line in fh:
                    words = line.split()
                    if words[:1] == ["URIs:"] or (words[:1] == ["deb"] and len(words) > 2):
                        uri = words[1] if words[0] == "URIs:" else next(w for w in words[1:] if "://" in w)
                        if "security" not in uri:
                            return uri
        except (OSError, StopIteration):
            continue
    raise SystemExit("world: no Debian mirror found in /etc/apt (needed to build the VMs' roots)")


def root_dir(name: str) -> str:
    suite, extra = ROOTS[name]
    digest = hashlib.sha256(json.dumps([suite, BASE_PACKAGES, extra]).encode()).hexdigest()[:10]
    return os.path.join(CACHE, "roots", f"{name}-{digest}")


def build_root(name: str) -> str:
    """The cached root filesystem ``name`` (mmdebstrap, once; later runs reuse it)."""
    path = root_dir(name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(os.path.join(CACHE, "roots", ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isfile(os.path.join(path, ".nslab-complete")):
            return path
        if shutil.which("mmdebstrap") is None:
            raise SystemExit("world: mmdebstrap is not installed (apt install mmdebstrap)")
        suite, extra = ROOTS[name]
        tmp = f"{path}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        start = time.monotonic()
        log(f"building root {name} ({suite}) with mmdebstrap into {path} ...")
        sh(["mmdebstrap", "--quiet", "--variant=minbase", "--skip=cleanup/apt/cache",
            "--include=" + ",".join(BASE_PACKAGES + extra), suite, tmp, mirror()],
           stdout=subprocess.DEVNULL)
        for key in ("ssh_host_rsa_key", "ssh_host_ecdsa_key", "ssh_host_ed25519_key"):
            for suffix in ("", ".pub"):
                try:                       # every VM makes its own host keys
                    os.unlink(os.path.join(tmp, "etc", "ssh", key + suffix))
                except FileNotFoundError:
                    pass
        open(os.path.join(tmp, ".nslab-complete"), "w").close()
        os.rename(tmp, path)
        log(f"root {name} built in {time.monotonic() - start:.0f} s")
        return path


def installed(root: str) -> set[str]:
    with open(os.path.join(root, "var", "lib", "dpkg", "status")) as fh:
        return {line.split()[1] for line in fh if line.startswith("Package: ")}


def build_repo() -> str:
    """A flat apt repository of what Debian 12's python3-pyroute2 adds to the bare root (the package
    and its dependencies), taken from the debian12 root's apt cache: the bare VM's package source."""
    full, bare = build_root("debian12"), build_root("debian12-bare")
    repo = os.path.join(CACHE, "repo-" + os.path.basename(full))
    if os.path.isfile(os.path.join(repo, "Release")):
        return repo
    archives = os.path.join(full, "var", "cache", "apt", "archives")
    missing = installed(full) - installed(bare)
    debs = [f for f in os.listdir(archives) if f.endswith(".deb") and f.split("_")[0] in missing]
    if not any(f.startswith("python3-pyroute2_") for f in debs):
        raise SystemExit(f"world: no python3-pyroute2 .deb in {archives}")
    tmp = f"{repo}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for deb in debs:
        shutil.copy(os.path.join(archives, deb), tmp)
    packages = sh(["dpkg-scanpackages", "--multiversion", "."], cwd=tmp, capture_output=True).stdout
    with open(os.path.join(tmp, "Packages"), "wb") as fh:
        fh.write(packages)
    with gzip.open(os.path.join(tmp, "Packages.gz"), "wb") as fh:
        fh.write(packages)
    lines = ["Origin: nslab-fleet", "Label: nslab-fleet", "Suite: ./", "Codename: ./",
             "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime()), "SHA256:"]
    for fname in ("Packages", "Packages.gz"):
        with open(os.path.join(tmp, fname), "rb") as fh:
            data = fh.read()
        lines.append(f" {hashlib.sha256(data).hexdigest()} {len(data)} {fname}")
    with open(os.path.join(tmp, "Release"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    shutil.rmtree(repo, ignore_errors=True)
    os.rename(tmp, repo)
    return repo


# ------------------------------------------------------------------------------ VMs
_VM_SETUP = r"""
set -e
R="$1"; M="$2/merged"; name="$3"     # $2: the VM's disk (its upper layer survives a reboot)
mkdir -p "$2/upper" "$2/work" "$M"
mount -t overlay overlay -o lowerdir="$R",upperdir="$2/upper",workdir="$2/work" "$M"
mount -t proc proc "$M/proc"
mount -t sysfs sysfs "$M/sys"
mount --rbind /dev "$M/dev"
mount -t tmpfs -o mode=0755 vm-run "$M/run"
mount -t tmpfs -o mode=1777 vm-tmp "$M/tmp"
mkdir -p "$M/run/netns" "$M/run/sshd" "$M/run/lock"
rm -rf "$M/etc/netns"
hostname "$name"
echo ready
exec -a "$4" sleep infinity
"""


class VM(Sandbox):
    """One lab VM: a sandbox whose holder sees a copy-on-write root filesystem, in which its
    commands (and its sshd) run chroot-ed."""

    setup_script = _VM_SETUP

    def __init__(self, spec: dict):
        super().__init__(spec["name"], os.path.join(STATE, "vms"))
        self.spec = spec
        self.disk = os.path.join(STATE, "disks", spec["name"])    # outlives the holder: a reboot keeps it
        self.merged = os.path.join(self.disk, "merged")

    def setup_args(self, hostname: str, resolv: str) -> list[str]:
        os.makedirs(self.dir)
        os.makedirs(self.disk, exist_ok=True)
        return [build_root(self.spec["root"]), self.disk, hostname]

    def wipe(self) -> None:
        """A new disk: the next start is a freshly installed VM."""
        shutil.rmtree(self.disk, ignore_errors=True)

    def reboot(self, internet: Internet, uplink: bool = True) -> None:
        """End every process, the network and /run of the VM, and start it again over the same disk."""
        self.stop(internet)
        self.start()
        self.network(internet, uplink)
        self.start_sshd()

    def start(self) -> None:
        try:
            self.create()
        except SandboxError as exc:
            raise SystemExit(f"world: VM {self.name} did not start: {exc}") from None

    def chrooted(self, script: str, **kw) -> subprocess.CompletedProcess:
        """A shell command inside the VM, chroot-ed in its root (as its sshd would run it)."""
        return sh(self.argv(["chroot", self.merged, "/bin/sh", "-c", script]), **kw)

    def write(self, path: str, text: str, mode: int = 0o644) -> None:
        self.chrooted(f"mkdir -p '{os.path.dirname(path)}' && cat > '{path}' && chmod {mode:o} '{path}'",
                      input=text.encode())

    def network(self, internet: Internet, uplink: bool = True) -> None:
        with Session() as session:
            ctl = session.ipr(None)
            port = f"m-{self.name}"[:15]
            ctl.link("add", ifname=port, kind="veth",
                     peer={"ifname": "mgmt0", "net_ns_fd": session.fd(self.netns), "address": self.mac(1)})
            index = ctl.link_lookup(ifname=port)[0]
            ctl.link("set", index=index, master=ctl.link_lookup(ifname=MGMT_BRIDGE)[0], state="up")
            vm = session.ipr(self.netns)
            mgmt = vm.link_lookup(ifname="mgmt0")[0]
            vm.addr("add", index=mgmt, address=self.spec["address"], prefixlen=MGMT_PREFIX)
            vm.link("set", index=mgmt, state="up")
        if uplink:
            internet.attach(self, self.spec["uplink"], self.mac(2))

    def mac(self, nic: int) -> str:
        """The VM's NIC's hardware address: the same after a reboot (neighbours' caches stay right)."""
        digest = hashlib.sha256(f"{self.name}/{nic}".encode()).digest()
        return ":".join(f"{b:02x}" for b in (0x02, *digest[:5]))

    def configure(self, keys: list[str], repo_url: str | None) -> str:
        """Host keys, logins, resolver, package source; start sshd. Returns the ed25519 host key."""
        self.write("/etc/resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        self.write("/etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {self.name}\n")
        self.write("/etc/hostname", self.name + "\n")
        self.chrooted("ssh-keygen -A -q >/dev/null")
        authorized = "".join(k.strip() + "\n" for k in keys)
        self.write("/root/.ssh/authorized_keys", authorized, 0o600)
        for user in self.spec.get("users", []):
            self.chrooted(f"id {user} >/dev/null 2>&1 || useradd -m -s /bin/bash {user}")
            self.write(f"/home/{user}/.ssh/authorized_keys", authorized, 0o600)
            self.chrooted(f"chown -R {user}: /home/{user}/.ssh")
            self.write(f"/etc/sudoers.d/{user}", f"{user} ALL=(ALL) NOPASSWD:ALL\n", 0o440)
        if repo_url and self.spec.get("package_source") == "local":
            self.chrooted("rm -f /etc/apt/sources.list.d/*.sources /etc/apt/sources.list")
            self.write("/etc/apt/sources.list.d/nslab-fleet.list", f"deb [trusted=yes] {repo_url} ./\n")
        self.write("/etc/ssh/sshd_config.d/nslab-fleet.conf",
                   f"ListenAddress {self.spec['address']}\nPasswordAuthentication no\nUseDNS no\n")
        if self.spec.get("firewall") == "ufw":      # enabled with its defaults (deny incoming and routed), ssh allowed
            self.chrooted("ufw allow 22/tcp >/dev/null && ufw --force enable >/dev/null")
        if self.spec.get("firewall") == "firewalld":     # running on its own system bus, default zone public
            self.chrooted("mkdir -p /run/dbus && dbus-daemon --system --fork && firewalld && "
                          "for i in $(seq 100); do firewall-cmd --state >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1")
        self.start_sshd()
        return self.chrooted("cat /etc/ssh/ssh_host_ed25519_key.pub", capture_output=True).stdout.decode().strip()

    def start_sshd(self) -> None:
        """The VM's sshd, and then its port 22 listening (sshd may return before it listens: a login right after a
        reboot was refused once), read from the VM's own /proc/net/tcp and tcp6 (state 0A, port 0016)."""
        self.chrooted("/usr/sbin/sshd -E /var/log/sshd.log && for i in $(seq 100); do "
                      "grep -qs ':0016 [0-9A-F:]* 0A ' /proc/net/tcp /proc/net/tcp6 && exit 0; sleep 0.1; done; "
                      "echo 'sshd does not listen on port 22 after 10 s' >&2; exit 1")

    def stop(self, internet: Internet | None = None) -> None:
        """End the VM, and remove its links on the controller and the internet side now: the kernel
        drops them with the VM's namespace only later, and the next `up` makes the same names."""
        self.destroy()      # SIGKILL: PID 1 of its namespaces ignores SIGTERM
        from pyroute2.netlink.exceptions import NetlinkError

        with Session() as session:
            ctl = session.ipr(None)
            for index in ctl.link_lookup(ifname=f"m-{self.name}"[:15]):
                try:
                    ctl.link("del", index=index)
                except NetlinkError:
                    pass      # gone meanwhile
        if internet is not None:
            internet.detach(self)


# ------------------------------------------------------------------- the controller
_CONTROLLER_SETUP = r"""
set -e
S="$1"; W="$2"; shift 2
mkdir -p "$S/etc-upper" "$S/etc-work" "$S/root-upper" "$S/root-work" "$S/work"
mount --bind "$W" "$S/work"           # the working directory, kept visible if it lives under /tmp or /run
mount -t overlay overlay -o lowerdir=/etc,upperdir="$S/etc-upper",workdir="$S/etc-work" /etc
mount -t overlay overlay -o lowerdir=/root,upperdir="$S/root-upper",workdir="$S/root-work" /root
chmod 0711 /root                      # the non-root controller user reaches pyenv's Pythons
mount -t tmpfs -o mode=0755 ctl-run /run
mount -t tmpfs -o mode=1777 ctl-tmp /tmp
mkdir -p /run/netns /run/lock "$W"
mount --move "$S/work" "$W"
rm -f /etc/resolv.conf
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > /etc/resolv.conf
hostname controller
ip link set lo up
"$@"
"""


def controller_run(argv: list[str]) -> int:
    """Run argv inside a fresh controller sandbox; everything started inside ends with it."""
    state = os.path.join(CACHE, "controller", str(os.getpid()))
    os.makedirs(state)
    try:
        return subprocess.call(["unshare", "--net", "--mount", "--uts", "--pid", "--fork", "--mount-proc",
                                "--propagation", "private", "--", "/bin/bash", "-c", _CONTROLLER_SETUP,
                                "controller-setup", state, os.getcwd()] + argv)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def in_controller() -> None:
    with open("/proc/sys/kernel/hostname") as fh:
        if fh.read().strip() != "controller" or os.getpid() == 1 or not os.path.exists("/proc/1/cmdline"):
            raise SystemExit("world: run this inside the controller (world.py run -- ...)")


def ensure_user(user: str) -> str:
    """The controller's non-root user (in the controller's private /etc), its home."""
    home = os.path.join(STATE, "home", user)
    if sh(["id", user], capture_output=True, check=False).returncode != 0:
        os.makedirs(os.path.dirname(home), exist_ok=True)
        sh(["useradd", "-M", "-d", home, "-s", "/bin/bash", user])
    os.makedirs(home, exist_ok=True)
    shutil.chown(home, user, user)
    return home


def ssh_key(home: str, owner: str | None) -> str:
    path = os.path.join(home, ".ssh", "id_ed25519")
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    if not os.path.exists(path):
        sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{owner or 'root'}@controller", "-f", path])
    if owner:
        sh(["chown", "-R", f"{owner}:{owner}", os.path.dirname(path)])
    with open(path + ".pub") as fh:
        return fh.read()


def controller_network() -> Internet:
    with Session() as session:
        ipr = session.ipr(None)
        if not ipr.link_lookup(ifname=MGMT_BRIDGE):
            ipr.link("add", ifname=MGMT_BRIDGE, kind="bridge", address=MGMT_MAC)   # fixed: VMs come and go
            index = ipr.link_lookup(ifname=MGMT_BRIDGE)[0]
            ipr.addr("add", index=index, address=MGMT_GATEWAY, prefixlen=MGMT_PREFIX)
            ipr.link("set", index=index, state="up")
    internet = Internet(os.path.join(STATE, "sandboxes"))
    if internet.create():
        internet.attach(types.SimpleNamespace(name="controller", netns="/proc/self/ns/net"), CONTROLLER_UPLINK)
    return internet


def serve_repo(repo: str) -> str:
    url = f"http://{MGMT_GATEWAY}:{REPO_PORT}/"
    pidfile = os.path.join(STATE, "repo.pid")
    if not os.path.exists(pidfile):
        proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", MGMT_GATEWAY, "--directory", repo,
                                 str(REPO_PORT)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        with open(pidfile, "w") as fh:
            fh.write(str(proc.pid))
        for _attempt in range(200):
            if sh(["bash", "-c", f"exec 3<>/dev/tcp/{MGMT_GATEWAY}/{REPO_PORT}"], check=False,
                  stderr=subprocess.DEVNULL).returncode == 0:
                break
            time.sleep(0.05)
    return url


def load_spec(path: str) -> list[dict]:
    import yaml

    with open(path) as fh:
        vms = yaml.safe_load(fh)["vms"]
    for vm in vms:
        if vm["root"] not in ROOTS:
            raise SystemExit(f"world: {path}: VM {vm['name']}: root must be one of {', '.join(ROOTS)}")
    return vms


def up(spec_path: str, count: int | None) -> None:
    in_controller()
    start = time.monotonic()
    vms = load_spec(spec_path)
    if count is not None:                  # the benchmark's N copies of the first VM
        first = vms[0]
        vms = [dict(first, name=f"{first['name']}-{i + 1}", address=f"192.0.2.{11 + i}", uplink=f"203.0.113.{11 + i}")
               for i in range(count)]
    for name in sorted({vm["root"] for vm in vms}):
        build_root(name)
    internet = controller_network()
    repo_url = serve_repo(build_repo()) if any(vm.get("package_source") == "local" for vm in vms) else None
    keys = [ssh_key("/root", None), ssh_key(ensure_user(CONTROLLER_USER), CONTROLLER_USER)]
    known = []
    for spec in vms:
        vm = VM(spec)
        vm.stop()
        vm.wipe()
        vm.start()
        vm.network(internet)
        host_key = vm.configure(keys, repo_url)
        known.append(f"{spec['address']} {' '.join(host_key.split()[:2])}\n")
    for home, owner in (("/root", None), (os.path.join(STATE, "home", CONTROLLER_USER), CONTROLLER_USER)):
        path = os.path.join(home, ".ssh", "known_hosts")
        with open(path, "w") as fh:
            fh.writelines(known)
        if owner:
            shutil.chown(path, owner, owner)
    with open(os.path.join(STATE, "vms.json"), "w") as fh:
        json.dump(vms, fh)
    log(f"{len(vms)} VMs up in {time.monotonic() - start:.1f} s: "
        + ", ".join(f"{vm['name']} ({vm['root']}, {vm['address']})" for vm in vms))


def down() -> None:
    in_controller()
    try:
        with open(os.path.join(STATE, "vms.json")) as fh:
            vms = json.load(fh)
    except FileNotFoundError:
        vms = []
    internet = Internet(os.path.join(STATE, "sandboxes"))
    for spec in vms:
        VM(spec).stop(internet if internet.exists() else None)
        VM(spec).wipe()
    if os.path.exists(os.path.join(STATE, "vms.json")):
        os.unlink(os.path.join(STATE, "vms.json"))
    log(f"{len(vms)} VMs ended")


def the_vm(name: str) -> VM:
    in_controller()
    with open(os.path.join(STATE, "vms.json")) as fh:
        spec = next((vm for vm in json.load(fh) if vm["name"] == name), None)
    if spec is None:
        raise SystemExit(f"world: no VM {name} is up")
    return VM(spec)


def reboot(name: str, uplink: bool) -> None:
    start = time.monotonic()
    the_vm(name).reboot(Internet(os.path.join(STATE, "sandboxes")), uplink)
    log(f"VM {name} rebooted{'' if uplink else ' without its uplink'} in {time.monotonic() - start:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run")
    run.add_argument("argv", nargs=argparse.REMAINDER)
    upp = sub.add_parser("up")
    upp.add_argument("spec")
    upp.add_argument("--count", type=int)
    sub.add_parser("down")
    boot = sub.add_parser("reboot")
    boot.add_argument("name")
    boot.add_argument("--no-uplink", action="store_true")
    link = sub.add_parser("uplink")
    link.add_argument("name")
    roots = sub.add_parser("roots")
    roots.add_argument("spec")
    args = parser.parse_args()
    if args.cmd == "run":
        argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        return controller_run(argv)
    if args.cmd == "up":
        up(args.spec, args.count)
    elif args.cmd == "down":
        down()
    elif args.cmd == "reboot":
        reboot(args.name, not args.no_uplink)
    elif args.cmd == "uplink":
        vm = the_vm(args.name)
        Internet(os.path.join(STATE, "sandboxes")).attach(vm, vm.spec["uplink"], vm.mac(2))
    else:
        for name in sorted({vm["root"] for vm in load_spec(args.spec)}):
            log(f"root {name}: {build_root(name)}")
        build_repo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
