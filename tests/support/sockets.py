"""Which TCP ports a given process listens on (Linux /proc): several processes may share one port."""

from __future__ import annotations

import os
from pathlib import Path

LISTEN = "0A"


def _listening_inodes() -> dict[str, int]:
    """Socket inode -> port, for every listening TCP socket (IPv4 and IPv6)."""
    inodes = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == LISTEN:
                inodes[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    return inodes


def listening_ports(pid: int) -> set[int]:
    inodes, ports = _listening_inodes(), set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return set()
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            port = inodes.get(target[8:-1])
            if port is not None:
                ports.add(port)
    return ports
