"""Small health probes shared by `maximus up` and `maximus status`."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class HttpResult:
    ok: bool
    status: int | None = None
    body: Any = None
    error: str | None = None


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def redis_ping(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    """PING in Redis's wire protocol; an open port alone could be anything."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def http_get(url: str, headers: Mapping[str, str] | None = None, timeout: float = 3.0) -> HttpResult:
    try:
        response = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        return HttpResult(False, error=type(exc).__name__)
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return HttpResult(response.is_success, response.status_code, body)


def bearer(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}
