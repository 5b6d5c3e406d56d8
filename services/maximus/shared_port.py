"""The gateway's listening socket, shared by its processes: each binds the same port with SO_REUSEPORT and the
kernel spreads new connections over those that listen. One process dying leaves the others serving; the clients
of its own connections see a reset, which SDKs retry.

A process binds at start but listens only once its app has started (uvicorn calls listen() after the lifespan
startup), so the kernel never hands a connection to a process that cannot answer it yet. Linux lets only
processes of the same user share a port this way.
"""

from __future__ import annotations

import socket
from pathlib import Path


def bound_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port with SO_REUSEADDR and SO_REUSEPORT, not yet listening."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[
        0
    ]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


LISTEN_STATE = "0A"  # /proc/net/tcp's st column for a listening socket


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
            if fields[3] == LISTEN_STATE:
                inodes[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    return inodes


def listening_ports(pid: int) -> set[int]:
    """The TCP ports a process listens on (Linux /proc; empty elsewhere): which of several sharing a port serve."""
    inodes, ports = _listening_inodes(), set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        fds = list(fd_dir.iterdir())
    except OSError:
        return set()
    for fd in fds:
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            port = inodes.get(target[8:-1])
            if port is not None:
                ports.add(port)
    return ports
