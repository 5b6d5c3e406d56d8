"""`maximus keys`: one API key per person (create, list, revoke, rotate), kept hashed in the stack's Redis.

Managing keys needs the stack's Redis (MAXIMUS_REDIS_URL, else REDIS_URL from .env): the machine's operator, not a
team key, which the gateway never lets near key management. The clear key is printed once, at create and rotate.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from maximus_kernel.team_keys import TIERS, KeyRefused, KeyStore, safe_url
from router.budget import usd

T = TypeVar("T")

app = typer.Typer(help="One API key per person: create, list, revoke, rotate.", no_args_is_help=True)


def _store() -> tuple[KeyStore, str]:
    import redis

    from maximus.environment import stack_environment

    env = stack_environment()
    url = env.get("MAXIMUS_REDIS_URL") or env.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    return KeyStore(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)), url


def _run(action: Callable[[KeyStore], T]) -> T:
    """A refused operation is one line and exit 2; Redis away is one line naming it, and exit 1."""
    import redis

    store, url = _store()
    try:
        return action(store)
    except KeyRefused as exc:
        typer.echo(f"maximus keys: {exc}", err=True)
        raise typer.Exit(2) from None
    except (redis.RedisError, OSError):
        typer.echo(
            f"maximus keys: the key store (Redis at {safe_url(url)}) does not answer: start the stack (`maximus up`) "
            "or set REDIS_URL",
            err=True,
        )
        raise typer.Exit(1) from None


def _print_key(name: str, key: str, verb: str) -> None:
    typer.echo(f"{verb} the key of {name}; it is shown this once (only its hash is kept):", err=True)
    typer.echo(key)


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="The person's name: lowercase letters, digits, '.', '_', '-'.")],
    budget: Annotated[float | None, typer.Option(help="Monthly budget in USD; spent, their requests go local.")] = None,
    tiers: Annotated[
        list[str] | None, typer.Option(help=f"Tiers allowed (repeat or comma-separate): {', '.join(TIERS)}.")
    ] = None,
) -> None:
    """Create a key for NAME and print it once."""
    _print_key(name, _run(lambda store: store.create(name, budget, tiers)), "created")


@app.command()
def rotate(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Give NAME a new key (same budget and tiers) and print it once; the old one stops working at once."""
    _print_key(name, _run(lambda store: store.rotate(name)), "rotated")


@app.command()
def revoke(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke NAME's key: every gateway worker refuses it within a second. Their figures stay."""
    _run(lambda store: store.revoke(name))
    typer.echo(f"revoked the key of {name}")


@app.command("list")
def list_keys(json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The keys' names, budgets and tiers (never a key or its hash)."""
    records = [record.public() for record in _run(lambda store: store.list())]
    if json_output:
        typer.echo(json.dumps(records))
        return
    if not records:
        typer.echo("no team keys (the master key is the admin's): `maximus keys create NAME`")
    for row in records:
        typer.echo(_line(row))


def _line(row: dict[str, Any]) -> str:
    budget = "team budget only" if row["budget_usd"] is None else f"${usd(row['budget_usd'])}/month"
    tiers = ", ".join(row["tiers"]) if row["tiers"] else "all tiers"
    created = dt.datetime.fromtimestamp(row["created_at"], dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{row['name']:<32} {budget:<18} {tiers:<40} created {created}"
