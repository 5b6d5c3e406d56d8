"""`maximus dashboard`: a live terminal view of the tracker's /stats, for people without Grafana."""

from __future__ import annotations

import time
from typing import Any

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

TIER_ORDER = ("local", "vision", "power", "creative", "cloud")


class DashboardError(RuntimeError):
    """The tracker could not be read."""


def fetch_stats(url: str, api_key: str | None, timeout: float = 5.0, user: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    params = {"user": user} if user else None
    try:
        response = httpx.get(f"{url.rstrip('/')}/stats", headers=headers, params=params, timeout=timeout)
    except httpx.HTTPError as exc:
        raise DashboardError(f"cannot reach the tracker at {url} ({type(exc).__name__})") from exc
    if response.status_code != 200:
        reason = _error_message(response)
        detail = f": {reason}" if reason else ""
        raise DashboardError(f"the tracker answered {response.status_code} at {url}/stats{detail}")
    return response.json()


def _error_message(response: httpx.Response) -> str | None:
    """The message of an OpenAI-shaped error body (e.g. "durable totals unavailable (Redis unreachable)")."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return None
    return message if isinstance(message, str) and message else None


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _ratio_style(value: float | None, target: float = 0.9) -> str:
    return "dim" if value is None else ("green" if value >= target - 0.03 else "red")


def tier_table(stats: dict[str, Any]) -> Table:
    table = Table(title="Calls per tier", expand=True)
    for column in ("tier", "answered", "failed", "share", "tokens in", "tokens out", "cost USD"):
        table.add_column(column, justify="left" if column == "tier" else "right")
    total = stats["requests"] or 0
    for tier in TIER_ORDER:
        row = stats["tiers"].get(tier, {})
        name = Text(
            tier + (" (sovereign)" if row.get("sovereign") else ""), style="green" if row.get("sovereign") else "yellow"
        )
        share = row.get("requests", 0) / total if total else None
        table.add_row(
            name,
            str(row.get("requests", 0)),
            str(row.get("failures", 0)),
            _percent(share),
            f"{row.get('input_tokens', 0):,}",
            f"{row.get('output_tokens', 0):,}",
            f"{row.get('cost_usd', 0.0):.4f}",
        )
    return table


def summary(stats: dict[str, Any]) -> Group:
    ratio = stats["sovereignty_ratio"]
    budget, saved = stats["budget"], stats["saved_usd"]
    lines = Text()
    target = ratio.get("target", 0.9)
    lines.append(f"Sovereignty  live (last {ratio.get('recent_answers', 0)} answers) ")
    lines.append(_percent(ratio.get("recent")), style=_ratio_style(ratio.get("recent"), target))
    lines.append(f" against the target {_percent(target)}   this hour ")
    lines.append(_percent(ratio.get("this_hour")), style=_ratio_style(ratio.get("this_hour"), target))
    lines.append("   last 24 h ")
    lines.append(_percent(ratio["last_24h"]), style=_ratio_style(ratio["last_24h"], target))
    lines.append("   all time ")
    lines.append(_percent(ratio["all_time"]), style=_ratio_style(ratio["all_time"], target))
    lines.append("\n")
    lines.append(
        f"Budget {budget['month']}  ${budget['spent_usd']:.2f} of ${budget['limit_usd']:.2f}  "
        f"({_percent(budget['used'])})\n"
    )
    lines.append(
        f"Saved  this month ${saved['month']:.2f}   all time ${saved['all_time']:.2f}   "
        f"(flat cloud subscription ${saved['cloud_subscription_usd_month']:.2f}/month)\n"
    )
    fallbacks = ", ".join(f"{k}: {v}" for k, v in sorted(stats["fallbacks"].items())) or "none"
    pins = ", ".join(f"{k}: {v}" for k, v in sorted(stats["privacy_pins"].items())) or "none"
    lines.append(f"Fallbacks {fallbacks}   Privacy pins {pins}\n")
    lines.append(embeddings_line(stats) + "\n")
    lines.append(learning_line(stats.get("learning") or {}))
    used = min(budget["used"] or 0.0, 1.0)
    bar = ProgressBar(total=1.0, completed=used, complete_style="red" if used >= 0.8 else "green")
    return Group(lines, bar)


def embeddings_line(stats: dict[str, Any]) -> str:
    """The /v1/embeddings figures (RAG indexing and search): how many, how many on the machine, tokens."""
    row = (stats.get("apis") or {}).get("embeddings") or {}
    answered = row.get("requests", 0)
    return (
        f"Embeddings  {answered} answered ({row.get('sovereign', 0)} on the machine), {row.get('failures', 0)} failed, "
        f"{row.get('tokens', 0):,} tokens"
    )


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def learning_line(learning: dict[str, Any]) -> Text:
    """Labels collected by source, the adapter and the guard's verdict, the cascade's escalations."""
    labels = learning.get("labels") or {}
    counts = ", ".join(f"{source}: {n}" for source, n in labels.items() if n) or "none"
    line = Text(f"Learning  labels {counts}   adapter ")
    adapter = learning.get("adapter")
    if adapter is None:
        line.append("none (the shipped need model decides)")
    else:
        line.append(adapter["verdict"], style="green" if adapter["verdict"] == "used" else "yellow")
        line.append(
            f" ({adapter['labels']} labels, age {_age(adapter.get('age_s'))}, held-back APGR "
            f"{adapter.get('adapted_apgr')} against the shipped {adapter.get('shipped_apgr')})"
        )
    line.append(f"   cascade escalations {learning.get('cascade_escalations', 0)}")
    return line


def people_table(stats: dict[str, Any]) -> Table:
    table = Table(title="People (per key name)", expand=True)
    for column in ("person", "answered", "failed", "sovereign", "tokens in", "tokens out", "cost USD", "this month"):
        table.add_column(column, justify="left" if column == "person" else "right")
    for name, row in sorted((stats.get("people") or {}).items()):
        table.add_row(
            name,
            str(row["requests"]),
            str(row["failures"]),
            _percent(row["sovereignty_ratio"]),
            f"{row['tokens']['input']:,}",
            f"{row['tokens']['output']:,}",
            f"{row['cost_usd']:.4f}",
            f"{row['month_spent_usd']:.4f}",
        )
    return table


def person_summary(stats: dict[str, Any]) -> Text:
    ratio, budget = stats["sovereignty_ratio"], stats["budget"]
    lines = Text()
    lines.append(f"{stats['user']}  answered {stats['requests']}  failed {stats['failures']}   sovereign all time ")
    lines.append(_percent(ratio["all_time"]), style=_ratio_style(ratio["all_time"], ratio.get("target", 0.9)))
    lines.append(f"   this month {_percent(ratio['month'])}\n")
    limit = "the team's budget only" if budget["limit_usd"] is None else f"${budget['limit_usd']:.2f}"
    lines.append(f"Budget {budget['month']}  ${budget['spent_usd']:.4f} of {limit}  ({_percent(budget['used'])})")
    if not stats.get("has_key"):
        lines.append("   (no key now: revoked, or the master key)")
    return lines


def render(stats: dict[str, Any], url: str) -> Panel:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    if "user" in stats:
        body = Group(person_summary(stats), tier_table(stats))
        return Panel(body, title=f"Maximus: {stats['user']}", subtitle=f"{url}  {stamp}")
    body = Group(summary(stats), tier_table(stats), people_table(stats))
    return Panel(body, title="Maximus: Sovereignty", subtitle=f"{url}  {stamp}")


def run(
    url: str, api_key: str | None, once: bool, interval: float, console: Console | None = None, user: str | None = None
) -> None:
    """Print one frame (`once`) or refresh every `interval` seconds until interrupted; `user`: one person's."""
    console = console or Console()
    if once:
        console.print(render(fetch_stats(url, api_key, user=user), url))
        return
    with Live(console=console, refresh_per_second=4, screen=False) as live:
        while True:
            try:
                live.update(render(fetch_stats(url, api_key, user=user), url))
            except DashboardError as exc:
                live.update(Panel(Text(str(exc), style="red"), title="Maximus: Sovereignty"))
            try:
                time.sleep(interval)
            except KeyboardInterrupt:
                return
