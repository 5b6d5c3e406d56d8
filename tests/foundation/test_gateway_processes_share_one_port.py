"""Several gateway processes on one port: the socket they share, the count setting, the supervisord programs that
native mode and the container run, and the gateway config each one writes whole."""

from __future__ import annotations

import configparser
import os
import socket
import threading
from pathlib import Path

import pytest

from maximus import litellm_config, serve, supervisor
from maximus.native import plan_services
from maximus.shared_port import bound_socket, listening_ports
from maximus.stack import ConfigError, service, service_of_program, services
from maximus.supervisor import SupervisorPaths, render_config
from tests.support.processes import free_port

GATEWAY = service("litellm")


def _accepting(sock: socket.socket, seen: list[str], name: str, stop: threading.Event) -> None:
    sock.settimeout(0.1)
    while not stop.is_set():
        try:
            conn, _ = sock.accept()
        except TimeoutError:
            continue
        seen.append(name)
        conn.close()


def test_two_sockets_share_the_port_and_both_get_connections() -> None:
    port = free_port()
    first, second = bound_socket("127.0.0.1", port), bound_socket("127.0.0.1", port)
    assert port not in listening_ports(os.getpid()), "bound is not listening: no connection may reach it yet"
    seen: list[str] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_accepting, args=(s, seen, n, stop)) for s, n in ((first, "1"), (second, "2"))]
    for sock, thread in zip((first, second), threads, strict=True):
        sock.listen()
        thread.start()
    try:
        for _ in range(64):  # the kernel hashes each new connection to one of them
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        while len(seen) < 64:
            threading.Event().wait(0.01)
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
        first.close(), second.close()
    assert set(seen) == {"1", "2"}


def test_a_port_held_without_reuseport_is_refused() -> None:
    port = free_port()
    plain = socket.create_server(("127.0.0.1", port))
    try:
        with pytest.raises(OSError):
            bound_socket("127.0.0.1", port)
    finally:
        plain.close()


@pytest.mark.parametrize("value", ["0", "17", "two", "-1"])
def test_a_bad_process_count_is_a_clear_error(value: str) -> None:
    with pytest.raises(ConfigError, match="MAXIMUS_GATEWAY_PROCESSES"):
        GATEWAY.process_count({"MAXIMUS_GATEWAY_PROCESSES": value})


def test_native_mode_supervises_each_process_with_its_slot(tmp_path: Path) -> None:
    env = {spec.port_env: str(free_port()) for spec in services().values()}
    plan = plan_services({**env, "MAXIMUS_GATEWAY_PROCESSES": "3"}, tmp_path)
    gateways = [p for p in plan.programs if service_of_program(p.name) == "litellm"]
    assert [p.name for p in gateways] == ["litellm_0", "litellm_1", "litellm_2"]
    assert [p.environment["MAXIMUS_GATEWAY_SLOT"] for p in gateways] == ["0", "1", "2"]
    assert {tuple(p.argv) for p in gateways} == {tuple(gateways[0].argv)}, "one command, the slot tells them apart"
    assert service_of_program("tracker") == "tracker" and service_of_program("redis_0") == "redis_0"


def test_the_container_runs_a_foreground_supervisord_of_the_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    started: dict = {}
    monkeypatch.setenv("MAXIMUS_GATEWAY_PROCESSES", "2")
    monkeypatch.delenv("MAXIMUS_GATEWAY_SLOT", raising=False)
    monkeypatch.setattr(supervisor, "run_foreground", lambda programs, paths, workdir: started.update(p=programs))
    monkeypatch.setattr(serve, "exec_litellm", lambda host, port: started.update(exec=(host, port)))
    serve.serve_gateway("0.0.0.0", 4000)
    assert "exec" not in started
    assert [(p.name, p.environment) for p in started["p"]] == [
        ("litellm_0", {"MAXIMUS_GATEWAY_SLOT": "0"}),
        ("litellm_1", {"MAXIMUS_GATEWAY_SLOT": "1"}),
    ]
    assert started["p"][0].argv[-5:] == ["litellm", "--host", "0.0.0.0", "--port", "4000"]


@pytest.mark.parametrize(("count", "slot"), [("1", None), ("2", "1")], ids=["one-process", "one-of-several"])
def test_a_process_with_its_slot_or_alone_runs_the_gateway_itself(monkeypatch, count: str, slot: str | None) -> None:
    ran: list = []
    monkeypatch.setenv("MAXIMUS_GATEWAY_PROCESSES", count)
    if slot is None:
        monkeypatch.delenv("MAXIMUS_GATEWAY_SLOT", raising=False)
    else:
        monkeypatch.setenv("MAXIMUS_GATEWAY_SLOT", slot)
    monkeypatch.setattr(supervisor, "run_foreground", lambda *args: ran.append("supervisord"))
    monkeypatch.setattr(serve, "exec_litellm", lambda host, port: ran.append("gateway"))
    serve.serve_gateway("127.0.0.1", 4000)
    assert ran == ["gateway"]


def test_foreground_supervisord_logs_to_the_container(tmp_path: Path) -> None:
    program = supervisor.Program("litellm_0", ["maximus", "serve", "litellm"], {"MAXIMUS_GATEWAY_SLOT": "0"})
    parser = configparser.RawConfigParser()
    parser.read_string(render_config([program], SupervisorPaths(tmp_path), tmp_path, foreground=True))
    assert parser["supervisord"]["nodaemon"] == "true"
    assert parser["program:litellm_0"]["stdout_logfile"] == "/dev/stdout"
    assert parser["program:litellm_0"]["stdout_logfile_maxbytes"] == "0"


def test_the_gateway_config_is_replaced_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "config.yaml"
    target.write_text("old: true\n")
    env = {"MAXIMUS_MASTER_KEY": "sk-x", "REDIS_URL": ""}
    inode = target.stat().st_ino
    litellm_config.write(env, target)
    assert target.stat().st_ino != inode, "written in place: a process starting beside it could read half a file"
    assert "model_list" in target.read_text() and oct(target.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == ["config.yaml"]
