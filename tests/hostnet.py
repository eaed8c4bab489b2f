"""A fingerprint of this machine's own network, to prove the tests left it alone."""

from __future__ import annotations

import glob
import os
import re
import subprocess

SYSCTLS = [
    "net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding",
    "net/ipv4/conf/all/route_localnet", "net/ipv4/conf/default/route_localnet",
    "net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables",
    "net/bridge/bridge-nf-call-arptables",
]


def _run(argv):
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError:
        return f"<{argv[0]} not installed>"
    return proc.stdout + (f"\n<exit {proc.returncode}: {proc.stderr.strip()}>" if proc.returncode else "")


def no_counters(text: str) -> str:
    """iptables-save or nft output without its counters (which traffic moves) and comment lines."""
    text = re.sub(r"\[\d+:\d+\]", "[-]", text)                  # iptables-save chain counters
    text = re.sub(r"counter packets \d+ bytes \d+", "counter", text)  # nft counters
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def etc_tree(top: str = "/etc") -> dict:
    """Every entry under /etc: a file's sha256 and mode, a link's target, a directory's mode."""
    import hashlib
    import stat

    out = {}
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(dirs + files):
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    out[path] = "-> " + os.readlink(path)
                elif stat.S_ISREG(st.st_mode):
                    with open(path, "rb") as fh:
                        out[path] = f"{st.st_mode:o} {hashlib.sha256(fh.read()).hexdigest()[:16]}"
                else:
                    out[path] = f"{st.st_mode:o}"
            except OSError as exc:
                out[path] = f"<{exc.strerror}>"
    return out


PERSIST_TOPS = ("/var/lib/nslab", "/usr/local/lib/nslab")


def fingerprint() -> dict:
    fp = {
        "links": _run(["ip", "-o", "link", "show"]),
        "addresses": _run(["ip", "-o", "addr", "show"]).replace(" tentative", ""),
        "routes4": _run(["ip", "-4", "route", "show", "table", "all"]),
        "routes6": _run(["ip", "-6", "route", "show", "table", "all"]),
        "rules": _run(["ip", "rule", "show"]),
        "netns": _run(["ip", "netns", "list"]),
        "run_netns": sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else None,
        "etc_netns": sorted(os.listdir("/etc/netns")) if os.path.isdir("/etc/netns") else None,
        "mounts": [line.split()[4] for line in open("/proc/self/mountinfo")
                   if "/netns" in line.split()[4] or line.split()[4].startswith("/run/nslab")],
        "iptables": no_counters(_run(["iptables-save"])),
        "ip6tables": no_counters(_run(["ip6tables-save"])),
        "nft": no_counters(_run(["nft", "list", "ruleset"])),
        "legacy_tables": [open(p).read() for p in ("/proc/net/ip_tables_names", "/proc/net/ip6_tables_names")
                          if os.path.exists(p)],
        "resolv": open("/etc/resolv.conf").read() if os.path.exists("/etc/resolv.conf") else None,
    }
    fp["etc"] = etc_tree()        # /etc/systemd/system (units and their enable links) included
    # where a persisted lab's intent and engine would land (module_utils/_persist/persist.py): never on this machine
    fp["persisted_lab"] = {top: etc_tree(top) for top in PERSIST_TOPS if os.path.exists(top)}
    for name in SYSCTLS:
        path = f"/proc/sys/{name}"
        fp[name] = open(path).read().strip() if os.path.exists(path) else None
    return fp


RUN_VAR = "NSLAB_RUN_ID"     # set once per run (make test, a pytest session); every process it starts inherits it


def run_id() -> str:
    """This run's id: the one the caller exported, or a new one exported to what this process starts."""
    if not os.environ.get(RUN_VAR):
        with open("/proc/sys/kernel/random/uuid") as fh:
            os.environ[RUN_VAR] = fh.read().strip()
    return os.environ[RUN_VAR]


def sandbox_processes(run: str) -> list[str]:
    """Processes this run started that look like ours (sandbox holders, demo servers) and are still
    there, its stages' included (``RUN.stage``: tests/stages.py gives each stage an id of its own, so
    that two stages side by side do not count each other's). A lab someone else runs on this machine at
    the same time is theirs, not a leftover."""
    out, mine = [], f"{RUN_VAR}={run}".encode()
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        pid = cmdline.split("/")[2]
        try:
            text = open(cmdline, "rb").read().replace(b"\0", b" ").decode(errors="replace")
            if not any(mark in text for mark in ("nslab-sandbox", "nslab-demo", "nslab-service:")):
                continue
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if not any(entry == mine or entry.startswith(mine + b".") for entry in fh.read().split(b"\0")):
                    continue
        except OSError:
            continue
        out.append(f"{pid}: {text.strip()}")
    return sorted(out)


def compare(before: dict, after: dict) -> list[str]:
    out = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key):
            continue
        if key == "etc":
            old, new = before.get(key) or {}, after.get(key) or {}
            paths = sorted(p for p in set(old) | set(new) if old.get(p) != new.get(p))
            changes = [f"{p} ({old.get(p, 'absent')} -> {new.get(p, 'absent')})" for p in paths[:20]]
            out.append("/etc changed: " + ", ".join(changes))
        else:
            out.append(f"{key}:\n  before: {before.get(key)!r}\n  after:  {after.get(key)!r}")
    return out


def main(argv: list[str]) -> int:
    """hostnet.py                print this machine's (or this sandbox's) fingerprint as JSON
    hostnet.py save FILE      save it
    hostnet.py check FILE     compare with a saved one (and look for leftover processes)"""
    import json

    if not argv:
        print(json.dumps(fingerprint(), sort_keys=True))
        return 0
    if argv[0] == "save" and len(argv) == 2:
        with open(argv[1], "w") as fh:
            json.dump(dict(fingerprint=fingerprint(), run=run_id()), fh)
        return 0
    if argv[0] == "check" and len(argv) == 2:
        with open(argv[1]) as fh:
            saved = json.load(fh)
        problems = compare(saved["fingerprint"], json.loads(json.dumps(fingerprint())))
        procs = sandbox_processes(saved["run"])
        if problems:
            print("THE MACHINE'S OWN NETWORK OR /etc CHANGED:\n" + "\n".join(problems))
        if procs:
            print(f"PROCESSES THIS RUN STARTED ARE STILL RUNNING ({RUN_VAR}={saved['run']}):\n  " + "\n  ".join(procs))
        if problems or procs:
            return 1
        print("host network check: identical before and after (links, addresses, routes, rules, "
              f"netfilter, netns, sysctls, processes, /etc: {len(saved['fingerprint'].get('etc', {}))} entries)")
        return 0
    print(main.__doc__)
    return 2


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
