"""The fleet-ssh scenario's steps that are whole ansible-playbook runs, made the way a user makes
them (``ansible-playbook -i inventory.yml playbooks/lab.yml ...``) and judged by their exit code,
their PLAY RECAP and what the VMs hold afterwards (read over ssh).

    scenario.py prepare        the bare VM with nslab_requirements=check: refused, nothing changed
    scenario.py side-effect    --check --diff changes nothing; drift on one VM repaired and reported
                               all reachable in the same run; a non-root controller user runs the lab;
                               labs saved with nslab_persist survive simulated reboots (see reboot())
    scenario.py cleanup        teardown leaves nothing on any VM; a second teardown changes nothing
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIO = os.path.join(REPO, "molecule", "fleet-ssh")
INVENTORY = os.path.join(SCENARIO, "inventory.yml")
sys.path.insert(0, os.path.join(REPO, "tests"))
from nslabtest import grade_rows, recaps  # noqa: E402  (one PLAY RECAP parser for every test)

BIN = os.path.dirname(sys.executable)                 # the controller venv's (no pyroute2 in it)
USER = "nslab"
ADDRESSES = {"deb12": "192.0.2.11", "deb12-sudo": "192.0.2.12", "deb13": "192.0.2.13", "bare": "192.0.2.14"}
FIREWALLD = dict(host="fwd", address="192.0.2.15", inventory=os.path.join(SCENARIO, "firewalld.yml"))


def say(msg: str) -> None:
    print(f"[fleet-ssh] {msg}", flush=True)


def home_of(user: str) -> str:
    import pwd

    return pwd.getpwnam(user).pw_dir


def playbook(*args: str, user: str | None = None, cwd: str = REPO, env: dict | None = None,
             inventory: str = INVENTORY) -> tuple[int, str, dict]:
    """One ansible-playbook run; its exit code, its output and its PLAY RECAP ({host: {"changed": 0, ...}})."""
    argv = [os.path.join(BIN, "ansible-playbook"), "-i", inventory, *args]
    full_env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="True", ANSIBLE_PIPELINING="True", NO_COLOR="1",
                    **(env or {}))
    full_env.pop("ANSIBLE_CONFIG", None)             # the repository's ansible.cfg, as for a user
    if user:
        home = home_of(user)
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", *argv]
        full_env.update(HOME=home, USER=user, LOGNAME=user)
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=cwd, env=full_env, capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    recap = recaps(out)
    counts = {host: (c["changed"], c["unreachable"], c["failed"]) for host, c in recap.items()}
    say(f"ansible-playbook {' '.join(args)}{' as ' + user if user else ''}: exit {proc.returncode} "
        f"in {time.monotonic() - start:.1f} s, recap (changed, unreachable, failed) {counts}")
    return proc.returncode, out, recap


def fail(msg: str, out: str = "") -> None:
    print(out[-6000:])
    raise SystemExit(f"[fleet-ssh] FAILED: {msg}")


def ssh_argv(host: str, command: str) -> list[str]:
    address = FIREWALLD["address"] if host == FIREWALLD["host"] else ADDRESSES[host]
    return ["ssh", "-o", "BatchMode=yes", f"root@{address}", command]


def ssh(host: str, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(ssh_argv(host, command),
                          capture_output=True, text=True, check=False, timeout=60)


def lab_objects(host: str) -> str:
    """What of a lab a VM holds: namespaces, lab links, nslab rules, demo services (empty = none)."""
    script = (
        "ip netns list; "
        "ip -o link show | grep -E 'nslab|veth|br0|ceth' || true; "
        "iptables-save 2>/dev/null | grep -i nslab || true; "
        "nft list ruleset 2>/dev/null | grep -i nslab || true; "
        "pgrep -af '[h]ttp.server|[n]slab-service' || true")
    return read_vm(host, script).strip()


def read_vm(host: str, script: str) -> str:
    """What ``script`` prints on a VM (over ssh, as root)."""
    proc = ssh(host, script)
    if proc.returncode != 0:
        fail(f"cannot read {host}: {proc.stderr}")
    return proc.stdout


UFW_HOST, UFW_BEFORE = "deb12-sudo", "/run/nslab-fleet/ufw-before.txt"


def ufw_rules() -> str:
    """deb12-sudo's iptables and ip6tables rules other than the collection's, counters and dates left out."""
    proc = ssh(UFW_HOST, "iptables-save; ip6tables-save")
    if proc.returncode != 0 or "ufw-" not in proc.stdout:
        fail(f"cannot read ufw's rules on {UFW_HOST}: {proc.stderr}")
    lines = [re.sub(r"\[\d+:\d+\]", "", line).strip() for line in proc.stdout.splitlines()
             if "NSLAB" not in line and not line.startswith("#")]
    tables, out = "\n".join(lines).split("COMMIT"), []
    for table in tables:     # a table with no rule and only ACCEPT policies is not ufw's (the lab's nat table, left empty)
        body = table.strip().splitlines()
        if any(line.startswith("-A") or (line.startswith(":") and " ACCEPT" not in line) for line in body):
            out.append("\n".join(body))
    return "\nCOMMIT\n".join(out)


def prepare() -> None:
    rc, out, recap = playbook("playbooks/lab.yml", "--limit", "bare", "-e", "nslab_requirements=check")
    if rc == 0 or "python3-pyroute2" not in out:
        fail("nslab_requirements=check on the bare VM must fail, naming python3-pyroute2", out)
    if lab_objects("bare"):
        fail(f"the refused run changed the bare VM:\n{lab_objects('bare')}")
    say("bare VM with nslab_requirements=check: refused before any change, naming python3-pyroute2")
    with open(UFW_BEFORE, "w") as fh:
        fh.write(ufw_rules())


def no_changes(recap: dict, hosts=None) -> bool:
    return all(recap.get(h, {}).get("changed") == 0 for h in (hosts or ADDRESSES))


def side_effect() -> None:
    rc, out, recap = playbook("playbooks/lab.yml", "--check", "--diff")
    if rc != 0 or not no_changes(recap):
        fail("--check --diff on the converged fleet must report changed=0 on every VM", out)
    drift = ssh("deb12", "ip link del veth0 && ip netns exec netns2 ip route del default")
    if drift.returncode != 0:
        fail(f"could not make drift on deb12: {drift.stderr}")
    rc, out, recap = playbook("playbooks/lab.yml")
    if rc != 0 or recap.get("deb12", {}).get("changed", 0) == 0 or not no_changes(recap, [h for h in ADDRESSES if h != "deb12"]):
        fail("drift on deb12 must be repaired (changed there only) and reported all reachable in the same run", out)
    if "NOT reachable" in out:
        fail("the report after the repair says NOT reachable", out)
    say("drift on deb12 repaired; the report in the same run is all reachable")
    exercises()
    ufw_fail()
    non_root_controller()
    reboot()
    firewalld()
    own_playbook()
    a_class()


def fingerprint(host: str) -> str:
    """A VM's network state as check.yml must leave it: links, addresses, routes (the host's and each namespace's),
    rules without counters, forwarding, processes of the lab."""
    script = ("ip -o link show | sed 's/ qlen .*//'; ip -o addr show; ip route show; "
              "for ns in $(ip netns list | cut -d' ' -f1); do echo \"== $ns\"; ip -n $ns -o link show; "
              "ip -n $ns -o addr show; ip -n $ns route show; done; "
              "iptables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'; nft -s list ruleset; "
              "sysctl net.ipv4.ip_forward; pgrep -af '[h]ttp.server|[n]slab-service' || true")
    return read_vm(host, script)


def checked(host: str) -> dict:
    """The facts check.yml wrote for a host: {probe: result}."""
    with open(os.path.join(REPO, "nslab-results", "check", f"{host}.json")) as fh:
        return {p["probe"]: p for p in json.load(fh)["results"]}


def exercises() -> None:
    """check.yml over SSH on the distributions' Python: the built fleet passes and is left as it was (a class's faults,
    hints and goals: a_class())."""
    hosts = list(ADDRESSES)
    before = {h: fingerprint(h) for h in hosts}
    rc, out, recap = playbook("playbooks/check.yml")
    if rc != 0 or not no_changes(recap, hosts) or not all(f"{h}: 12/12 probes reachable" in out for h in hosts):
        fail("check.yml on the built fleet must pass with every fact reachable, changing nothing", out)
    after = {h: fingerprint(h) for h in hosts}
    if after != before:
        import difflib

        fail("check.yml changed a VM's network state:\n" + "\n".join(
            line for h in hosts for line in difflib.unified_diff(before[h].splitlines(), after[h].splitlines(), h, h,
                                                                 lineterm="")), out)
    say("check.yml over SSH: the built fleet passes and is left as it was")


def ufw_fail() -> None:
    """ufw enabled on deb12-sudo: with nslab_firewall=fail the built lab is refused before any change, naming ufw
    and its own route rules (by default the lab's NSLAB-FWD chain accepts its flows, as converge showed)."""
    rc, out, recap = playbook("playbooks/lab.yml", "--limit", UFW_HOST, "-e", "nslab_firewall=fail")
    with open(os.path.join(REPO, "nslab-results", "lab", f"{UFW_HOST}.json")) as fh:
        msg = (json.load(fh).get("failure") or {}).get("msg", "")
    named = "Open it, then re-run: ufw route allow in on br0; ufw route allow out on br0; or set firewall: integrate"
    if rc == 0 or recap.get(UFW_HOST, {}).get("changed") != 0 or "ufw (routed traffic denied by default)" not in msg \
            or named not in msg:
        fail(f"with ufw enabled and nslab_firewall=fail, lab.yml must be refused before any change naming ufw's "
             f"route rules: {msg}", out)
    say(f"ufw enabled on {UFW_HOST}, nslab_firewall=fail: refused before any change, naming 'ufw route allow in on br0'")


def non_root_controller() -> None:
    """A controller user without root, in a clone of its own, with a Python that has no pyroute2."""
    home = home_of(USER)
    clone = os.path.join(home, "nslab.net")
    shutil.rmtree(clone, ignore_errors=True)
    shutil.copytree(REPO, clone, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".venv*", ".cache", "nslab-results", "__pycache__"))
    links = os.path.join(clone, ".cache", "collections", "ansible_collections", "nslab")
    os.makedirs(links)
    os.symlink("../../../..", os.path.join(links, "net"))
    subprocess.run(["chown", "-R", f"{USER}:{USER}", clone], check=True)
    probe = subprocess.run(["setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", "--", sys.executable,
                            "-c", "import importlib.util, os; print(os.geteuid(), importlib.util.find_spec('pyroute2'))"],
                           capture_output=True, text=True, check=True).stdout.split()
    if probe != [subprocess.run(["id", "-u", USER], capture_output=True, text=True, check=True).stdout.strip(), "None"]:
        fail(f"the controller user must be non-root without pyroute2: {probe}")
    rc, out, recap = playbook(os.path.join(clone, "playbooks", "lab.yml"), user=USER, cwd=clone)
    if rc != 0 or not no_changes(recap) or "NOT reachable" in out:
        fail("lab.yml by a non-root controller user (no pyroute2) must pass with changed=0", out)
    results = os.path.join(clone, "nslab-results", "lab")
    if not os.path.isdir(results) or not all(os.path.exists(os.path.join(results, f"{h}.json")) for h in ADDRESSES):
        fail(f"the non-root run wrote no results into {results}", out)
    say("lab.yml by the non-root controller user nslab (no pyroute2): passed, changed=0, results written")


WORLD = [os.environ.get("NSLAB_WORLD_PYTHON", sys.executable), os.path.join(REPO, "tests", "fleet", "world.py")]
PERSISTED = ["deb12", "deb13"]          # Debian 12 and 13, each with its own Python and pyroute2
UNIT = "/etc/systemd/system/nslab-nslab.service"


def world(*args: str) -> None:
    subprocess.run([*WORLD, *args], check=True)


def saved(host: str) -> str:
    """What a persisted lab leaves on a VM (empty = nothing)."""
    return ssh(host, "ls -d /var/lib/nslab /usr/local/lib/nslab /etc/systemd/system/nslab-* "
                     "/etc/systemd/system/*.wants/nslab-* 2>/dev/null").stdout.strip()


def unit_files(host: str) -> str:
    return ssh(host, "systemctl list-unit-files 'nslab-*'").stdout


def boot_command(host: str, extra_env: str = "") -> list[str]:
    """The unit's ExecStart as systemd runs it: from /, no terminal, a clean environment holding only
    systemd's PATH and the unit's Environment= lines (``extra_env`` stands for a drop-in's)."""
    return ssh_argv(host, f"cd / && exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "
                          f"LANG=C.UTF-8 $(sed -n 's/^Environment=//p' {UNIT}) {extra_env} "
                          f"$(sed -n 's/^ExecStart=//p' {UNIT}) </dev/null")


def boot(host: str, extra_env: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(boot_command(host, extra_env), capture_output=True, text=True, check=False, timeout=120)


def all_reachable(out: str, hosts: list[str]) -> bool:
    counts = {h: re.search(rf"^\s*{re.escape(h)}: (\d+)/(\d+) probes reachable", out, re.M) for h in hosts}
    return "NOT reachable" not in out and all(m and m.group(1) == m.group(2) for m in counts.values())


def reboot() -> None:
    """nslab_persist on real Debian VMs: saved in check mode only as a plan, then for real (idempotent);
    the unit verifies; a simulated reboot (the VM's processes, network and /run gone, its disk kept) and
    the unit's ExecStart rebuild the lab with no controller - every fact reachable, a re-run changes
    nothing; a boot without uplink waits, then fails clearly having built nothing, or succeeds when the
    uplink comes; a boot without pyroute2 fails clearly having built nothing; nslab_persist: false and
    teardown leave no unit, intent or engine."""
    limit = ["--limit", ",".join(PERSISTED)]
    rc, out, recap = playbook("playbooks/lab.yml", *limit, "-e", "nslab_persist=true", "--check", "--diff")
    if rc != 0 or any(recap.get(h, {}).get("changed") != 1 for h in PERSISTED) or UNIT not in out \
            or "nslab-engine.pyz" not in out or any(saved(h) for h in PERSISTED):
        fail("--check --diff with nslab_persist must show the unit, intent and engine (changed) and write nothing", out)
    rc, out, recap = playbook("playbooks/lab.yml", *limit, "-e", "nslab_persist=true")
    rc2, out2, recap2 = playbook("playbooks/lab.yml", *limit, "-e", "nslab_persist=true")
    if rc != 0 or rc2 != 0 or not no_changes(recap2, PERSISTED) or any(recap.get(h, {}).get("changed") != 1 for h in PERSISTED):
        fail("nslab_persist: true must save once (changed) and then change nothing", out + out2)
    for host in PERSISTED:
        verify = ssh(host, f"systemd-analyze verify {UNIT}")
        if verify.returncode != 0 or verify.stderr.strip() or "enabled" not in unit_files(host):
            fail(f"{host}: systemd-analyze verify {UNIT} must pass quietly and the unit be enabled: "
                 f"{verify.stdout}{verify.stderr}{unit_files(host)}")
    intent = "cat /var/lib/nslab/labs/nslab/lab.json"
    more = '{"nslab_persist": true, "nslab_demo_services": [{"namespace": "netns1", "port": 5000}, ' \
           '{"namespace": "netns2", "port": 5001}]}'
    rc, out, recap = playbook("playbooks/lab.yml", "--limit", "deb12", "-e", more)
    if rc != 0 or "demo-netns2-5001" not in ssh("deb12", intent).stdout:
        fail("a changed topology must update the saved intent in the same run", out)
    rc, out, recap = playbook("playbooks/lab.yml", "--limit", "deb12", "-e", "nslab_persist=true")
    if rc != 0 or recap.get("deb12", {}).get("changed") != 1 or "demo-netns2-5001" in ssh("deb12", intent).stdout:
        fail("the topology changed back must update the saved intent again", out)
    say(f"nslab_persist saved the lab on {', '.join(PERSISTED)} ({len(saved('deb12').split())} paths each); "
        "check mode showed it first; a re-run changed nothing; systemd-analyze verify passed; a changed "
        "topology updated the saved intent in the same run")
    booted = {}
    for host in PERSISTED:
        world("reboot", host)
        if lab_objects(host):
            fail(f"the simulated reboot of {host} left lab objects:\n{lab_objects(host)}")
        booted[host] = boot(host)
        if booted[host].returncode != 0 or "lab nslab: built" not in booted[host].stdout:
            fail(f"{host}: the unit's ExecStart must rebuild the lab", booted[host].stdout + booted[host].stderr)
    rc, out, recap = playbook("playbooks/lab.yml", *limit, "-e", "nslab_persist=true")
    if rc != 0 or not no_changes(recap, PERSISTED) or not all_reachable(out, PERSISTED):
        fail("after the reboot and the unit's run, lab.yml must report changed=0 and every fact reachable", out)
    say(f"simulated reboot of {', '.join(PERSISTED)}: the unit rebuilt the lab "
        f"({len(booted['deb12'].stdout.splitlines())} journal lines on deb12); lab.yml then: changed=0, all reachable")
    boot_failures()
    rc, out, recap = playbook("playbooks/lab.yml", *limit, "-e", "nslab_persist=true")
    if rc != 0 or not no_changes(recap, PERSISTED) or not all_reachable(out, PERSISTED):
        fail("after the late-uplink boot and the restored pyroute2's boot, lab.yml must report changed=0, all reachable", out)
    rc, out, recap = playbook("playbooks/lab.yml", "--limit", "deb12", "-e", "nslab_persist=false")
    if rc != 0 or recap.get("deb12", {}).get("changed") != 1 or saved("deb12") or "0 unit files listed" not in unit_files("deb12"):
        fail(f"nslab_persist: false must remove what was saved on deb12: {saved('deb12')}", out)
    rc, out, recap = playbook("playbooks/teardown.yml", "--limit", "deb13")
    if rc != 0 or saved("deb13") or lab_objects("deb13") or "0 unit files listed" not in unit_files("deb13"):
        fail(f"teardown must remove the lab and what was saved on deb13: {saved('deb13')}", out)
    rc, out, recap = playbook("playbooks/lab.yml", "--limit", "deb13")
    if rc != 0:
        fail("rebuilding deb13 after its teardown failed", out)
    say("nslab_persist: false (deb12) and teardown (deb13) left no unit, intent or engine")
    with_the_roles()


def with_the_roles() -> None:
    """The roles in a user's own playbook save their own parts (egress.json, ingress.json), which the unit
    rebuilds at boot in that order; their teardown removes everything. On deb13, left as lab.yml made it."""
    roles = os.path.join(REPO, "tests", "fleet", "roles.yml")
    args = ("--limit", "deb13", "-e", "nslab_persist=true")
    rc, out, recap = playbook(roles, *args)
    parts = ssh("deb13", "ls /var/lib/nslab/labs/nslab").stdout.split()
    if rc != 0 or parts != ["egress.json", "ingress.json"]:
        fail(f"the roles with nslab_persist must save egress.json and ingress.json (the lab.yml part replaced): {parts}", out)
    world("reboot", "deb13")
    booted = boot("deb13")
    if booted.returncode != 0 or "rebuilding 2 saved part(s) (egress, ingress)" not in booted.stdout:
        fail("deb13: the unit must rebuild the roles' two parts in order", booted.stdout + booted.stderr)
    rc, out, recap = playbook(roles, *args)
    if rc != 0 or not no_changes(recap, ["deb13"]) or "NOT reachable" in out:
        fail("after the reboot, the roles must report changed=0 and the report every fact reachable", out)
    rc, out, recap = playbook(roles, "--limit", "deb13", "-e", "nslab_state=absent")
    if rc != 0 or saved("deb13") or lab_objects("deb13"):
        fail(f"the roles' teardown must remove the lab and both saved parts: {saved('deb13')}", out)
    rc, out, recap = playbook("playbooks/lab.yml", "--limit", "deb13")
    if rc != 0:
        fail("rebuilding deb13 with lab.yml failed", out)
    say("the roles saved egress.json and ingress.json; a reboot rebuilt both; a re-run changed nothing; "
        "their teardown left nothing saved")


def boot_failures() -> None:
    """Boots that cannot build the lab fail with the reason and the fix, and build nothing."""
    world("reboot", "deb12", "--no-uplink")
    early = boot("deb12", "NSLAB_BOOT_WAIT=2")
    if early.returncode == 0 or "no uplink after 2 s" not in early.stderr or lab_objects("deb12"):
        fail(f"deb12 booted without uplink must fail after NSLAB_BOOT_WAIT, naming it, with nothing built: "
             f"{early.stdout}{early.stderr}{lab_objects('deb12')}")
    late = subprocess.Popen(boot_command("deb12", "NSLAB_BOOT_WAIT=30"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    time.sleep(2)
    world("uplink", "deb12")
    out = late.communicate(timeout=60)[0]
    if late.returncode != 0 or "waiting up to 30 s for the uplink" not in out or "lab nslab: built" not in out:
        fail(f"deb12 booted with a late uplink must wait for it, then build the lab: {out}")
    world("reboot", "deb13")
    # removing the package can leave an empty pyroute2/ (__pycache__ directories no package owns), which Python imports
    # as an empty namespace package: what is gone is its code (the collection takes that as not installed, as users see)
    removed = ssh("deb13", "dpkg -r python3-pyroute2 >/dev/null 2>&1 && ! python3 -c 'import pyroute2.netlink' 2>/dev/null")
    if removed.returncode != 0:
        fail(f"could not remove python3-pyroute2 from deb13: {removed.stderr}")
    broken = boot("deb13")
    if broken.returncode == 0 or "pyroute2 is not importable" not in broken.stderr or lab_objects("deb13"):
        fail(f"deb13 booted without pyroute2 must fail naming it, with nothing built: {broken.stdout}{broken.stderr}")
    restored = ssh("deb13", "dpkg -i /var/cache/apt/archives/python3-pyroute2_*.deb >/dev/null")
    if restored.returncode != 0 or boot("deb13").returncode != 0:
        fail(f"deb13 with python3-pyroute2 reinstalled must boot the lab: {restored.stderr}")
    say("boot without uplink: failed after NSLAB_BOOT_WAIT=2 naming it, nothing built; with a late uplink: waited, "
        "built; without pyroute2 (dpkg -r): failed naming it, nothing built")


#: firewalld's rules (counters out), br0's zones (runtime, permanent) and firewalld's whole configuration
FIREWALLD_RULESET = "nft list table inet firewalld | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/'"
BR0_ZONE = "firewall-cmd --get-zone-of-interface=br0 2>&1; firewall-cmd --permanent --get-zone-of-interface=br0 2>&1"
ALL_ZONES = "firewall-cmd --list-all-zones; firewall-cmd --permanent --list-all-zones"


def firewalld_state(host: str) -> tuple[str, str, str]:
    """firewalld's rules, br0's zones, and firewalld's whole configuration (runtime and permanent). A zone's
    chains stay once firewalld has made them (when the zone first holds an interface): trusted's chains,
    made for the lab, are left out of the rules only while no rule jumps to them (as before the lab)."""
    rules = re.sub(r"\n\n\tchain \w+_trusted(?:_\w+)? \{\n(?:\t\t[^\n]*\n)*\t\}", "", ssh(host, FIREWALLD_RULESET).stdout)
    return rules, ssh(host, BR0_ZONE).stdout, ssh(host, ALL_ZONES).stdout


def firewalld() -> None:
    """A VM with firewalld running (its default zone public). With nslab_firewall=fail the lab is refused
    before any change, naming firewall-cmd. By default it integrates: check and diff mode show the binding
    of br0 to the zone trusted and change nothing; the run binds it (runtime only), every fact is reachable,
    a re-run changes nothing, and teardown unbinds it, leaving firewalld's rules as they were."""
    host, inventory = FIREWALLD["host"], FIREWALLD["inventory"]
    zone = BR0_ZONE

    before = firewalld_state(host)
    rc, out, recap = playbook("playbooks/lab.yml", "-e", "nslab_firewall=fail", inventory=inventory)
    with open(os.path.join(REPO, "nslab-results", "lab", f"{host}.json")) as fh:
        msg = (json.load(fh).get("failure") or {}).get("msg", "")
    fix = re.search(r"Open it, then re-run: (firewall-cmd --zone=trusted --add-interface=br0) \(", msg)
    if rc == 0 or recap.get(host, {}).get("changed") != 0 or not fix or lab_objects(host) \
            or "firewalld in the host namespace would drop" not in msg or "nslab_firewall: integrate" not in msg \
            or firewalld_state(host) != before:
        fail(f"with firewalld running and nslab_firewall=fail, lab.yml must be refused before any change naming "
             f"firewall-cmd: {msg}", out)
    rc, out, recap = playbook("playbooks/lab.yml", "--check", "--diff", inventory=inventory)
    shown = re.search(r"\n\s*firewalld/br0:\n\s*-\s+state: absent\n\s*\+\s+interface: br0\n(?:\s*\+.*\n)*?\s*\+\s+zone: trusted",
                      out)
    wrong = [what for what, bad in (("exit", rc != 0), ("no firewalld/br0 in the diff", not shown),
                                    ("lab objects made", bool(lab_objects(host))),
                                    ("firewalld changed", firewalld_state(host) != before)) if bad]
    if wrong:
        fail(f"check and diff mode beside firewalld must show the binding of br0 to trusted and change nothing: {wrong}",
             out)
    rc, out, recap = playbook("playbooks/lab.yml", inventory=inventory)
    bound = ssh(host, zone).stdout.split()
    rc2, out2, recap2 = playbook("playbooks/lab.yml", inventory=inventory)
    if rc != 0 or not all_reachable(out, [host]) or bound[:1] != ["trusted"] or "no" not in bound[1:2] \
            or rc2 != 0 or not no_changes(recap2, [host]):
        fail(f"lab.yml beside firewalld must bind br0 to trusted at runtime only (firewall-cmd says {bound}), "
             "reach every fact, then change nothing", out + out2)
    rc, out, recap = playbook("playbooks/teardown.yml", "--check", "--diff", inventory=inventory)
    unbinds = re.search(r"\n\s*firewalld/br0:\n\s*-\s+interface: br0\n(?:\s*-.*\n)*?\s*\+\s+state: absent", out)
    if rc != 0 or not unbinds or ssh(host, zone).stdout.split()[:1] != ["trusted"]:
        fail("teardown --check --diff beside firewalld must show br0 unbound from trusted and change nothing", out)
    rc, out, recap = playbook("playbooks/teardown.yml", inventory=inventory)
    after = firewalld_state(host)
    wrong = [what for what, bad in (("exit", rc != 0), ("lab objects left", bool(lab_objects(host))),
                                    (f"br0's zones: {after[1]!r}", after[1] != before[1]),
                                    ("firewalld's configuration differs", after[2] != before[2]),
                                    ("the record left", ssh(host, "test -e /run/nslab/firewalld.json").returncode == 0))
             if bad]
    if after[0] != before[0]:
        import difflib

        wrong.append("firewalld's rules differ:\n" + "\n".join(difflib.unified_diff(
            before[0].splitlines(), after[0].splitlines(), lineterm="")))
    if wrong:
        fail(f"teardown beside firewalld must leave nothing of the lab, br0 bound to no zone and firewalld's rules "
             f"as they were: {wrong}", out)
    say(f"firewalld running on {host}: with nslab_firewall=fail refused before any change naming '{fix.group(1)}'; "
        "by default check mode showed the binding, the run bound br0 to trusted at runtime, all reachable, a re-run "
        "changed nothing, teardown unbound it and left firewalld's configuration and rules as they were (trusted's "
        "chains, which firewalld keeps once made, with no rule jumping to them)")


OWN = os.path.join(REPO, "tests", "integration", "playbooks", "own.yml")


def own_playbook() -> None:
    """A user's own playbook on the firewalld VM: seed 002 by hand, one module per task, a MASQUERADE with
    ``! -o br0`` and a DNAT, no rule naming br0. With firewall: fail the MASQUERADE task is refused before it
    changes anything, naming firewall-cmd; by default nat_rule finds br0 from the rule's subnet and the VM's
    routes and binds it to trusted at runtime: egress (ping, TCP) and the published port work, measured; the
    play's teardown unbinds it and leaves firewalld's configuration and rules as they were."""
    import urllib.request

    host, inventory, uplink = FIREWALLD["host"], FIREWALLD["inventory"], "203.0.113.15"
    before = firewalld_state(host)
    own = ("-e", f"uplink={uplink}")
    rc, out, recap = playbook(OWN, *own, "-e", "firewall=fail", inventory=inventory,
                              env=dict(ANSIBLE_CALLBACK_RESULT_FORMAT="json"))
    failed = re.search(r"^TASK \[(iptables -t nat -A POSTROUTING[^\]]*)\].*?^fatal: \[fwd\]: FAILED! => (\{.*\})$",
                       out, re.M | re.S)
    result = json.loads(failed.group(2)) if failed else {}
    fix = re.search(r"Open it, then re-run: (firewall-cmd --zone=trusted --add-interface=br0) \(", result.get("msg", ""))
    if rc == 0 or not fix or result.get("changed") or "firewalld in the host namespace would drop" not in result["msg"] \
            or ssh(host, "nft list ruleset | grep -c nslab:").stdout.strip() != "0" or firewalld_state(host) != before:
        fail("a user's own MASQUERADE task beside firewalld with firewall: fail must be refused before it changes "
             f"anything, naming firewall-cmd: {result}", out)
    rc, out, recap = playbook(OWN, *own, inventory=inventory)
    bound = ssh(host, BR0_ZONE).stdout.split()
    uplink_zone = ssh(host, "firewall-cmd --get-zone-of-interface=eth0 2>&1").stdout.strip()
    fetch = ("ip netns exec netns1 python3 -c \"import urllib.request as u; "
             "print(u.urlopen('http://198.51.100.10/', timeout=3).read().decode(), end='')\"")
    egress = dict(ping=ssh(host, "ip netns exec netns1 ping -c 1 -W 2 -q 198.51.100.10").returncode == 0,
                  tcp=ssh(host, fetch).stdout == f"seen-from {uplink}\n")
    try:
        with urllib.request.urlopen(f"http://{uplink}:5000/", timeout=5) as page:
            ingress = page.read().decode() == "served from netns1\n"
    except OSError as exc:
        ingress = f"{exc}"
    if rc != 0 or bound[:1] != ["trusted"] or uplink_zone == "trusted" or not (egress["ping"] and egress["tcp"] and ingress is True):
        fail(f"a user's own playbook beside firewalld must bind br0 (never the uplink) to trusted at runtime and carry "
             f"the traffic: br0 in {bound}, eth0 in {uplink_zone!r}, egress {egress}, ingress {ingress}", out)
    rc, out, recap = playbook(OWN, *own, "-e", "lab_state=absent", inventory=inventory)
    after = firewalld_state(host)
    if rc != 0 or after != before or lab_objects(host):
        fail(f"the own playbook's teardown beside firewalld must unbind br0 and leave firewalld as it was "
             f"(rules equal: {after[0] == before[0]}, br0's zones {after[1]!r}, configuration equal: {after[2] == before[2]})",
             out)
    say(f"a user's own playbook (one module per task, no rule naming br0) on {host}: with firewall: fail refused at "
        f"the MASQUERADE task before it changed anything, naming '{fix.group(1)}'; by default br0 bound to trusted, "
        "egress ping and TCP and the published port measured working; teardown left firewalld as it was")


#: a class over SSH: each VM handed its own start, goal and subnet (a variant of the teacher's secret)
CLASS_SECRET = "the fleet teacher's own"
CLASS = {"deb12": dict(nslab_stage="route", nslab_goal="forward"),
         UFW_HOST: dict(nslab_faults=["link-down"]),                 # the whole lab with a fault (become, ufw)
         "deb13": dict(nslab_stage="forward", nslab_goal="masquerade"),
         "bare": dict(nslab_stage="bridge", nslab_goal="veth")}
CLASS_TEACHER, CLASS_STUDENT = "/run/nslab-fleet/class.yml", "/run/nslab-fleet/student.yml"
#: where a fault's name or the teacher's secret must never be on a VM
LOOK_IN = "/etc /usr/local /run /var/lib/nslab /var/log /root /home /tmp"


def class_inventories() -> None:
    """The teacher's inventory (the fleet's VMs, each with its assignment) and the students' (the same VMs and how
    to reach them, with no assignment: the student's check reads what the VM was handed from the VM)."""
    import yaml

    with open(INVENTORY) as fh:
        fleet = yaml.safe_load(fh)
    hosts = fleet["nslab_lab"]["hosts"]
    reach = {name: {k: v for k, v in hvars.items() if not k.startswith("nslab_")} for name, hvars in hosts.items()}
    teacher = {"nslab_lab": {"hosts": {name: dict(reach[name], **CLASS[name]) for name in reach},
                             "vars": dict(fleet["nslab_lab"]["vars"], nslab_variant=True,
                                          nslab_class_secret=CLASS_SECRET)}}
    student = {"nslab_lab": {"hosts": reach, "vars": fleet["nslab_lab"]["vars"]}}
    for path, data in ((CLASS_TEACHER, teacher), (CLASS_STUDENT, student)):
        with open(path, "w") as fh:
            yaml.safe_dump(data, fh)


def a_class() -> None:
    """A class over SSH, four VMs each with its own start, goal and subnet, checked by the students (check.yml from
    what each VM remembers, nslab-check on the VM) and graded by the teacher (grade.yml): deb12, handed route with
    goal forward, is NOT YET before and DONE after its student types the forwarding sysctl, and stays DONE after the
    masquerade step too; deb12-sudo's fault is found with its cause and hint, and fixed by the hint; the fault's
    name is in grade.yml's output only, never in a student's output or in a file on a VM."""
    class_inventories()
    rc, out, recap = playbook("playbooks/lab.yml", inventory=CLASS_TEACHER)
    if rc != 0 or "(faults injected: link-down)" not in out:
        fail("lab.yml must hand out the class (a start, a goal and a subnet per VM; deb12-sudo with its fault)", out)
    records = {h: json.loads(read_vm(h, "cat /etc/nslab/labs/nslab.json")) for h in CLASS}
    subnets = {h: r["variables"]["gateway"] for h, r in records.items()}
    if len(set(subnets.values())) != len(CLASS) or [r["goal"] for r in records.values()] != \
            ["forward", "publish", "masquerade", "veth"]:
        fail(f"each VM must be handed its own subnet and goal: {json.dumps(records)}")
    rc, student, recap = playbook("playbooks/check.yml", inventory=CLASS_STUDENT)
    words = " ".join(student.split())
    found = checked(UFW_HOST).get("host -> netns1", {})
    if rc == 0 or "deb12: NOT YET, 3 of 4 facts of goal forward (handed out at stage route)" not in words \
            or "deb13: NOT YET, 4 of 5 facts of goal masquerade (handed out at stage forward)" not in words \
            or "bare: NOT YET, 0 of 2 facts of goal veth" not in words or f"{UFW_HOST}: 4/12 probes reachable" not in words \
            or "veth0, the host end of netns1's cable, is DOWN" not in (found.get("cause") or "") \
            or found.get("hint") != "ip link set veth0 up":
        fail("check.yml as the students run it must read each VM's start and goal from the VM: NOT YET for each, "
             f"{UFW_HOST}'s fault explained (handed the whole lab: the two-way check)", student)
    on_vm = ssh("deb12", "nslab-check")
    faulted = ssh(UFW_HOST, "nslab-check")
    if on_vm.returncode != 2 or "this host: NOT YET, 3 of 4 facts of goal forward" not in on_vm.stdout \
            or "hint:  sysctl -w net.ipv4.ip_forward=1" not in on_vm.stdout \
            or faulted.returncode != 2 or "hint:  ip link set veth0 up" not in faulted.stdout:
        fail("nslab-check (Debian 12's python3-pyroute2) must say NOT YET on deb12 and deb12-sudo, with the hints",
             on_vm.stdout + on_vm.stderr + faulted.stdout + faulted.stderr)
    rc, graded, recap = playbook("playbooks/grade.yml", inventory=CLASS_TEACHER)
    rows = grade_rows(graded, CLASS)
    if rc == 0 or rows.get("deb12", [])[:5] != ["NOT", "YET", "3/4", "route", "forward"] \
            or rows.get(UFW_HOST, [])[-1:] != ["link-down"] or "0 of 4 students done." not in graded:
        fail(f"grade.yml must grade deb12 NOT YET 3/4 and name deb12-sudo's fault: {rows}", graded)
    told = student + on_vm.stdout + on_vm.stderr + faulted.stdout + faulted.stderr
    if "link-down" in told or CLASS_SECRET in told + out + graded:
        fail("a student's output names deb12-sudo's fault, or an output the class secret", told)
    for host in CLASS:
        found = read_vm(host, f"grep -rlsIE \"link-down|fleet teacher\" {LOOK_IN} 2>/dev/null; true").strip()
        if found:
            fail(f"files on {host} name deb12-sudo's fault or the class secret: {found}")
    ssh("deb12", "sysctl -w net.ipv4.ip_forward=1")                 # the students type their steps
    ssh(UFW_HOST, "ip link set veth0 up")
    on_vm = ssh("deb12", "nslab-check")
    rc, student, recap = playbook("playbooks/check.yml", "--limit", f"deb12,{UFW_HOST}", inventory=CLASS_STUDENT)
    words = " ".join(student.split())
    if on_vm.returncode != 0 or "this host: DONE, 4 of 4 facts of goal forward" not in on_vm.stdout or rc != 0 \
            or "deb12: DONE, 4 of 4 facts of goal forward" not in words or f"{UFW_HOST}: 12/12 probes reachable" not in words:
        fail("after the students' commands, nslab-check and check.yml must say DONE on deb12 and deb12-sudo",
             on_vm.stdout + on_vm.stderr + student)
    import ipaddress

    masquerade = (f"iptables -t nat -A POSTROUTING -s {ipaddress.ip_interface(subnets['deb12']).network} ! -o br0 "
                  "-j MASQUERADE")
    ssh("deb12", masquerade)                                         # the next step as well
    on_vm = ssh("deb12", "nslab-check")
    rc, graded, recap = playbook("playbooks/grade.yml", "-e", "nslab_grade_strict=false", inventory=CLASS_TEACHER)
    rows = grade_rows(graded, CLASS)
    ssh("deb12", masquerade.replace(" -A ", " -D "))
    if on_vm.returncode != 0 or "this host: DONE, 4 of 4 facts of goal forward" not in on_vm.stdout or rc != 0 \
            or rows.get("deb12", [])[:4] != ["DONE", "4/4", "masquerade", "forward"] \
            or rows.get(UFW_HOST, [])[:1] != ["DONE"] or "2 of 4 students done." not in graded:
        fail(f"the masquerade step after the goal must keep deb12 DONE (nslab-check and grade.yml): {rows}",
             on_vm.stdout + graded)
    rc, out, recap = playbook("playbooks/lab.yml")                  # the fleet's own lab again, for verify
    if rc != 0 or not all_reachable(out, list(ADDRESSES)):
        fail("lab.yml with the fleet's inventory must turn the class's labs back into the fleet's, all reachable", out)
    say("a class over SSH: four VMs each handed its own start, goal and subnet; deb12 (route, goal forward) NOT YET "
        "then DONE after the sysctl for nslab-check, check.yml and grade.yml, still DONE after the masquerade step; "
        f"{UFW_HOST}'s fault explained and fixed by its hint, its name in grade.yml only, in no student's output and "
        "no file on a VM")


def cleanup() -> None:
    rc, out, recap = playbook("playbooks/teardown.yml")
    if rc != 0:
        fail("teardown failed", out)
    left = {h: lab_objects(h) for h in ADDRESSES}
    if any(left.values()):
        fail("teardown left lab objects: " + json.dumps(left, indent=1), out)
    rc, out, recap = playbook("playbooks/teardown.yml")
    if rc != 0 or not no_changes(recap):
        fail("a second teardown must report changed=0 on every VM", out)
    with open(UFW_BEFORE) as fh:
        before, after = fh.read(), ufw_rules()
    if after != before:
        import difflib

        fail(f"ufw's rules on {UFW_HOST} differ after teardown from before the lab:\n"
             + "\n".join(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")))
    say("teardown left no namespace, bridge, veth, rule or service (ufw's rules on deb12-sudo as before the lab); "
        "a second teardown changed nothing")


if __name__ == "__main__":
    steps = {"prepare": prepare, "side-effect": side_effect, "reboot": reboot, "cleanup": cleanup}
    if len(sys.argv) != 2 or sys.argv[1] not in steps:
        raise SystemExit(f"usage: {sys.argv[0]} {'|'.join(steps)}")
    steps[sys.argv[1]]()
