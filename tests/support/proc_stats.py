"""Resident memory and CPU time of processes, read from /proc (Linux): what `make bench` reports per service."""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in (PROC / str(pid) / "task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except OSError:
            continue
    return found


def _rss_kib(pid: int) -> int:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mib(pid: int) -> float:
    """RSS of `pid` and all its descendants, in MiB (0.0 when the process is gone)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        total += _rss_kib(current)
        pending += _children(current)
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time `pid` has used so far (its own threads; 0.0 when it is gone)."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
