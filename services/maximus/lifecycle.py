"""`maximus up`, `down` and `status`: Compose where a Docker engine answers, native processes otherwise."""

from __future__ import annotations

import json
from collections.abc import Mapping

from rich.console import Console
from rich.table import Table

from maximus import compose, environment, native, supervisor, tiers
from maximus.stack import services

console = Console(highlight=False)
STATE_STYLE = {tiers.UP: "green", tiers.DEGRADED: "yellow", tiers.ABSENT: "red"}


def _choose_mode(requested: str) -> tuple[str, str]:
    """The mode to run in, and why compose mode is not it (empty when it is, or native was asked for)."""
    if requested not in {"auto", "compose", "native"}:
        raise SystemExit(f"unknown mode {requested!r}: use auto, compose or native")
    if requested == "native":
        return "native", ""
    reason = compose.unavailable_reason()
    if reason is None:
        return "compose", ""
    if requested == "compose":
        raise SystemExit(f"Cannot start the stack with Compose: {reason}.")
    return "native", reason


def _prepare_env() -> dict[str, str]:
    path = environment.env_file()
    created = environment.ensure_keys(path)
    env = environment.stack_environment()
    if created:
        console.print(
            f"Generated {', '.join(created)} into {path} (keep it private; the master key is the "
            f"API key for {env['LITELLM_URL']})."
        )
    return env


def up(requested_mode: str = "auto") -> int:
    env = _prepare_env()
    mode, why_not_compose = _choose_mode(requested_mode)
    if mode == "compose":
        console.print("Docker engine found: starting the stack with Compose.")
        code = compose.up(environment.env_file(), say=console.print)
        answering = _print_compose_status()
        return code or (0 if answering else 1)
    return _up_native(env, why_not_compose or "native mode was asked for")


def _up_native(env: Mapping[str, str], why: str) -> int:
    run_dir = environment.run_dir()
    if native.running(run_dir):
        console.print("The stack is already running (native mode); `maximus down` stops it.")
        started = native.restart_stopped(run_dir)
        if started:
            console.print(f"  restarting what had stopped: {', '.join(started)}")
    else:
        console.print(f"Not using Compose ({why}): starting the stack as local processes on 127.0.0.1.")
        plan = native.start(env, run_dir)
        for name, note in plan.reused.items():
            console.print(f"  {name}: {note}")
        for name, reason in {**plan.errors, **plan.skipped}.items():
            console.print(f"  {name}: not started: {reason}")
        if plan.errors:
            console.print("[red]Cannot start the stack[/red]: fix the services above and run `maximus up` again.")
            return 1
        started = [p.name for p in plan.programs]
    for name, reason in native.wait_healthy(started, env, run_dir).items():
        console.print(f"  [yellow]{name}[/yellow]: {reason}")
    native.record(run_dir)
    tier_states = print_status(env)
    console.print(f"Logs: {run_dir / 'logs'}")
    required_down = [name for name, spec in services().items() if not spec.optional and not tiers.service_up(name, env)]
    if required_down:
        console.print(f"[red]Required services down[/red]: {', '.join(required_down)}.")
    # What could start keeps running; the exit code tells a script that no request can be answered yet.
    return 1 if required_down or tiers.mode(tier_states) == tiers.NO_TIER else 0


def down() -> int:
    stopped = native.stop(environment.run_dir())
    if stopped:
        console.print(f"Stopped the native stack: {', '.join(stopped)} (only what `maximus up` started).")
        return 0
    # A Docker engine on the machine is no sign that this stack runs in it: only containers of ours are.
    env_file = environment.env_file()
    if env_file.exists() and compose.unavailable_reason() is None and compose.service_health(env_file):
        return compose.down(env_file)
    console.print("Nothing to stop: the stack is not running.")
    return 0


def _services_table(env: Mapping[str, str]) -> Table:
    """A row a service, and a row a process for one that runs several on its port (the gateway)."""
    table = Table(title="Services", title_justify="left")
    for column in ("service", "address", "state", "restarts"):
        table.add_column(column)
    supervised = native.program_info(environment.run_dir())
    history = native.program_history(environment.run_dir())
    for name, spec in services().items():
        rows = [p for p in spec.program_names(env) if p in supervised] if spec.processes else []
        for row in rows or [name]:
            info = supervised.get(row, {})
            healthy = native.program_serves(row, env, info.get("pid")) if rows else tiers.service_up(name, env)
            origin = "" if info or not healthy else " (not started by maximus)"
            state = (
                "[green]healthy[/green]" if healthy else f"[red]{info.get('statename', 'not running').lower()}[/red]"
            )
            table.add_row(row, f"127.0.0.1:{spec.port(env)}", state + origin, _restarts(history.get(row)))
    return table


def _restarts(history: supervisor.ProgramHistory | None) -> str:
    if history is None:
        return ""
    return f"{history.restarts} (last exit: {history.last_exit})" if history.last_exit else str(history.restarts)


def _tiers_table(tier_states: list[tiers.TierStatus]) -> Table:
    table = Table(title="Tiers", title_justify="left")
    for column in ("tier", "state", "detail", "fix"):
        table.add_column(column, overflow="fold")
    for tier in tier_states:
        style = STATE_STYLE[tier.state]
        table.add_row(tier.name, f"[{style}]{tier.state}[/{style}]", tier.detail, tier.fix)
    return table


def print_status(env: Mapping[str, str]) -> list[tiers.TierStatus]:
    tier_states = tiers.tiers(env)
    gateway = tiers.service_up("litellm", env)
    console.print(_services_table(env))
    console.print(_tiers_table(tier_states))
    endpoint = f"{env['LITELLM_URL']}/v1"
    console.print(f"Gateway: {endpoint} {'[green]up[/green]' if gateway else '[red]down[/red]'}  ", end="")
    _print_mode(tier_states)
    return tier_states


def _print_mode(tier_states: list[tiers.TierStatus]) -> bool:
    """Print the mode, and the first fix when no tier can answer; whether some tier answers."""
    current = tiers.mode(tier_states)
    if current != tiers.NO_TIER:
        console.print(f"Mode: [bold]{current}[/bold]")
        return True
    console.print(f"Mode: [bold red]{current}[/bold red]: {tiers.first_fix(tier_states)}")
    return False


def _compose_running() -> bool:
    return (
        not native.running(environment.run_dir())
        and environment.env_file().exists()
        and compose.unavailable_reason() is None
        and bool(compose.service_health(environment.env_file()))
    )


def _print_compose_status() -> bool:
    """Print the containers and tiers; whether some tier answers."""
    table = Table(title="Services (compose)", title_justify="left")
    table.add_column("service")
    table.add_column("state")
    for name, state in sorted(compose.service_health(environment.env_file()).items()):
        table.add_row(name, state)
    console.print(table)
    report = compose.tier_report(environment.env_file())
    if report is None:
        console.print("[red]The gateway container does not answer[/red]: `docker compose logs litellm`.")
        return False
    tier_states = [tiers.TierStatus(**t) for t in report["tiers"]]
    console.print(_tiers_table(tier_states))
    return _print_mode(tier_states)


def status(json_output: bool = False) -> int:
    if not json_output and _compose_running():
        return 0 if _print_compose_status() else 1
    env = environment.stack_environment()
    if json_output:
        tier_states = tiers.tiers(env)
        report = {
            "gateway": tiers.service_up("litellm", env),
            "mode": tiers.mode(tier_states),
            "next_step": tiers.first_fix(tier_states) if tiers.mode(tier_states) == tiers.NO_TIER else "",
            "tiers": [tiers.as_dict(t) for t in tier_states],
            "services": {name: tiers.service_up(name, env) for name in services()},
            "restarts": {
                name: {"restarts": h.restarts, "last_exit": h.last_exit}
                for name, h in native.program_history(environment.run_dir()).items()
            },
        }
        print(json.dumps(report, indent=2))
        return 0 if report["gateway"] and report["mode"] != tiers.NO_TIER else 1
    tier_states = print_status(env)
    answering = tiers.mode(tier_states) != tiers.NO_TIER
    return 0 if tiers.service_up("litellm", env) and answering else 1
