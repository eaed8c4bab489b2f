# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What holds a port in a namespace: the listening sockets of /proc/net/tcp and tcp6 and the processes that own them
(``held_by``), for ns_service's refusal and the check's diagnosis."""

from __future__ import annotations

import os


def local_address(text: str) -> str:
    """The address of /proc/net/tcp or tcp6's local_address column (hex, 32-bit words in host order)."""
    import ipaddress
    import struct

    raw = bytes.fromhex(text)
    return str(ipaddress.ip_address(b"".join(struct.pack("@I", *struct.unpack(">I", raw[i:i + 4]))
                                             for i in range(0, len(raw), 4))))


def listeners(port: int, address: str) -> set[int]:
    """The socket inodes listening in the calling thread's network namespace on TCP ``port`` where a service that
    binds ``address`` would conflict: that address, or every address (0.0.0.0, ::, ::ffff:ADDRESS)."""
    clash = {address, "0.0.0.0", "::", f"::ffff:{address}"}
    found = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/thread-self/net/{table}") as fh:
                lines = fh.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) <= 9 or fields[3] != "0A":
                continue
            local, hexport = fields[1].rsplit(":", 1)
            if int(hexport, 16) == port and local_address(local) in clash:
                found.add(int(fields[9]))
    return found


def _cmdline(pid: int | str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def proc_stat(pid: int | str) -> tuple[str, str] | None:
    """(state, parent pid) of a process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], fields[1]


def holders(inodes: set[int]) -> list[dict]:
    """The processes that hold these sockets: {pid, command, ours} each (``ours``: started by an nslab.net service's
    supervisor, whose child it is)."""
    if not inodes:
        return []
    wanted = {f"socket:[{inode}]" for inode in inodes}
    found = []
    for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:          # gone, or not ours to read
            continue
        links = set()
        for fd in fds:
            try:
                links.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:      # closed while we looked
                continue
        stat = proc_stat(pid)
        if links & wanted and stat:
            found.append(dict(pid=int(pid), command=_cmdline(pid), ours="nslab-service:" in _cmdline(stat[1])))
    return found


def held_by(port: int, address: str) -> dict | None:
    """The process other than an nslab.net service that listens on TCP ``port`` in the calling thread's network
    namespace where a service binding ``address`` would conflict, if any: {pid, command}."""
    return next((h for h in holders(listeners(port, address)) if not h["ours"]), None)


def copy_of(command: str, argv: list[str]) -> bool:
    """Is a process's command line ``argv`` run by hand (the same arguments, any path to its program)?"""
    return command.split()[1:] == list(argv[1:])
