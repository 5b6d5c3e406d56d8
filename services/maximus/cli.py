"""The `maximus` command line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from maximus import keys as team_keys
from maximus import serve as serving
from maximus.stack import ConfigError

app = typer.Typer(
    help="Maximus: a local-first AI gateway. Sovereign by default, powerful when needed.",
    no_args_is_help=True,
    add_completion=False,
)
vision_app = typer.Typer(help="Vision tier utilities.", no_args_is_help=True)
app.add_typer(vision_app, name="vision")
app.add_typer(team_keys.app, name="keys")


def _run(action: Callable[[], int]) -> None:
    """Run a lifecycle action; a bad setting is one clear line and exit code 2, not a traceback."""
    try:
        code = action()
    except ConfigError as exc:
        typer.echo(f"maximus: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command()
def up(
    mode: Annotated[str, typer.Option(help="auto: Compose when a Docker engine answers, else native.")] = "auto",
) -> None:
    """Start the stack and print what works."""
    from maximus import lifecycle

    _run(lambda: lifecycle.up(mode))


@app.command()
def down() -> None:
    """Stop exactly what `maximus up` started."""
    from maximus import lifecycle

    _run(lifecycle.down)


@app.command()
def status(
    json_output: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Print each tier: up, degraded or absent, with the reason and the fix."""
    from maximus import lifecycle

    _run(lambda: lifecycle.status(json_output))


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help=f"One of: {', '.join(serving.SERVABLE)}.")],
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default: the service's port from the stack).")] = None,
) -> None:
    """Run one service in the foreground: the same command its container runs."""
    if service not in serving.SERVABLE:
        typer.echo(f"unknown service {service!r}; choose one of: {', '.join(serving.SERVABLE)}", err=True)
        raise typer.Exit(2)
    _run(lambda: serving.serve(service, host, port or serving.default_port(service)) or 0)


route_app = typer.Typer(
    help="Route chat-completion bodies read from stdin (one JSON a line); print one decision a line.",
    invoke_without_command=True,
)
app.add_typer(route_app, name="route")


@route_app.callback()
def route(ctx: typer.Context) -> None:
    """Route chat-completion bodies read from stdin (one JSON a line); print one decision a line."""
    if ctx.invoked_subcommand is None:
        from router.cli import route_stream

        raise typer.Exit(route_stream(sys.stdin, sys.stdout))


@route_app.command()
def calibrate(
    sample: Annotated[Path | None, typer.Argument(help="Request bodies or cases, one a line (default: stdin).")] = None,
    target: Annotated[float | None, typer.Option(help="Share kept local (default: sovereignty_target).")] = None,
    config: Annotated[Path | None, typer.Option(help="routing.yaml to write (default: the one in use).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the threshold, write nothing.")] = False,
) -> None:
    """Write the need threshold that keeps the sovereignty target of these requests local."""
    import json

    from router.calibrate import calibrate as run_calibration
    from router.calibrate import config_path
    from router.config import load_config
    from router.policy import RoutingPolicy, default_policy
    from router.sovereignty import write_threshold

    try:
        policy = RoutingPolicy(load_config(config)) if config else default_policy()
        lines = sample.read_text(encoding="utf-8").splitlines() if sample else sys.stdin
        result = run_calibration(policy, lines, target)
        if not dry_run:
            write_threshold(config_path(policy, config), result.threshold)
    except (OSError, ValueError) as exc:
        typer.echo(f"maximus route calibrate: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(result.as_output() | {"written": not dry_run}))


@route_app.command()
def learn(
    file: Annotated[
        Path | None,
        typer.Argument(help='JSONL: {"request": {...}, "local_ok": bool, "strong_ok": bool} (default: stored labels).'),
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Remove the adapter: the shipped need model decides.")] = False,
) -> None:
    """Fit the in-domain adapter on this installation's labels; the running gateway picks it up without a restart."""
    from router.learn import run
    from router.policy import default_policy

    code, line = run(default_policy(), file, reset)
    typer.echo(line if code == 0 else f"maximus route learn: {line}", err=code != 0)
    raise typer.Exit(code)


@app.command()
def dashboard(
    url: Annotated[str | None, typer.Option(help="Tracker address (default: TRACKER_URL).")] = None,
    once: Annotated[bool, typer.Option("--once", help="Print one frame and exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 2.0,
    user: Annotated[str | None, typer.Option(help="One person's figures (a key name).")] = None,
) -> None:
    """A live terminal view of the sovereignty figures, for people without Grafana."""
    from maximus.environment import stack_environment
    from tracker.dashboard import DashboardError, run

    env = stack_environment()
    try:
        run(url or env["TRACKER_URL"], env.get("TRACKER_API_KEY"), once, interval, user=user)
    except DashboardError as exc:
        typer.echo(f"{exc}: is the stack up (`maximus status`)?", err=True)
        raise typer.Exit(1) from None


@vision_app.command("fetch-model")
def fetch_model(
    model_id: Annotated[str, typer.Argument(help="A V-JEPA 2 checkpoint, e.g. facebook/vjepa2-vitl-fpc16-256-ssv2.")],
    target: Annotated[Path | None, typer.Option(help="Directory (default: VISION_MODEL_DIR).")] = None,
) -> None:
    """Download V-JEPA 2 weights (needs internet) to where the vision service and compose read them."""
    from maximus.environment import stack_environment
    from vision.fetch import FetchError
    from vision.fetch import fetch_model as fetch

    directory = target or Path(stack_environment().get("VISION_MODEL_DIR", "models/vision"))
    try:
        typer.echo(f"weights in {fetch(model_id, directory)}")
    except FetchError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


if __name__ == "__main__":
    app()
