"""Builds grafana/dashboards/sovereignty.json with grafana_foundation_sdk (1769699379!11.6.0).

Run: .venv/bin/python grafana/generate_dashboard.py  (the output is committed; tests check it is current).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, dashboard, gauge, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import prometheus as prometheus_models
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    DataTransformerConfig,
    GridPos,
    Threshold,
    ThresholdsMode,
)

OUTPUT = Path(__file__).parent / "dashboards" / "sovereignty.json"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="maximus-prometheus")
UID = "maximus-sovereignty"
SOVEREIGN = 'tier=~"local|vision"'


def query(expr: str, legend: str = "", ref: str = "A") -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    return q.legend_format(legend) if legend else q


# The base step's value is a number (the v11.6 schema rejects null); Grafana reads the first step as -Infinity.
def ratio_thresholds() -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=0, color="red"), Threshold(value=0.9, color="green")])
    )


def budget_thresholds() -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(ThresholdsMode.PERCENTAGE)
        .steps(
            [Threshold(value=0, color="green"), Threshold(value=80, color="orange"), Threshold(value=100, color="red")]
        )
    )


def last_value() -> common_builders.ReduceDataOptions:
    return common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


# The people table: one instant query per column, joined on the `user` label (key names, capped: tracker.yaml).
PEOPLE_COLUMNS = (
    ("answered", 'sum by (user) (maximus_user_requests_total{outcome="success"})'),
    (
        "sovereign",
        f'sum by (user) (maximus_user_requests_total{{outcome="success",{SOVEREIGN}}})'
        ' / sum by (user) (maximus_user_requests_total{outcome="success"})',
    ),
    ("failed", 'sum by (user) (maximus_user_requests_total{outcome="failure"})'),
    ("tokens", "sum by (user) (maximus_user_tokens_total)"),
    ("cost USD", "sum by (user) (maximus_user_cost_usd_total)"),
    ("spent this month USD", "sum by (user) (maximus_user_budget_spent_usd)"),
)


def people_table() -> table.Panel:
    panel = table.Panel().title("People: requests, sovereignty and spend per key name")
    renames = {}
    for index, (column, expr) in enumerate(PEOPLE_COLUMNS):
        ref = chr(ord("A") + index)
        panel = panel.with_target(query(expr, column, ref).instant().format(prometheus_models.PromQueryFormat.TABLE))
        renames[f"Value #{ref}"] = column
    panel = panel.with_transformation(DataTransformerConfig(id_val="merge", options={}))
    organize = {"excludeByName": {"Time": True}, "renameByName": renames}
    return panel.with_transformation(DataTransformerConfig(id_val="organize", options=organize))


def place(builder, panel_id: int, x: int, y: int, w: int, h: int):
    return builder.id(panel_id).grid_pos(GridPos(x=x, y=y, w=w, h=h)).datasource(DATASOURCE)


def panels() -> list:
    ratio_stat = (
        stat.Panel()
        .title("Sovereignty ratio (all time)")
        .unit("percentunit")
        .decimals(1)
        .description("Answers from sovereign tiers (local, vision) / all answers, from durable totals.")
        .with_target(query("maximus_sovereignty_ratio", "all time"))
        .thresholds(ratio_thresholds())
        .color_mode(common.BigValueColorMode.BACKGROUND)
    )
    ratio_gauge = (
        gauge.Panel()
        .title("Live local share, last answers (router target: routing.yaml sovereignty_target)")
        .unit("percentunit")
        .min(0)
        .max(1)
        .description(
            "Answers from sovereign tiers among the last ones (routing.yaml sovereignty_online.window): the share "
            "the router steers its threshold on, toward the target."
        )
        .with_target(query("maximus_sovereignty_ratio_recent", "last answers"))
        .thresholds(ratio_thresholds())
        .show_threshold_markers(True)
    )
    ratio_windows = (
        stat.Panel()
        .title("Sovereignty ratio 1 h / 24 h / 30 d against the target")
        .unit("percentunit")
        .decimals(1)
        .with_target(query("maximus:sovereignty_ratio:1h", "1 h", "A"))
        .with_target(query("maximus:sovereignty_ratio:24h", "24 h", "B"))
        .with_target(query("maximus:sovereignty_ratio:30d", "30 d", "C"))
        .with_target(query("maximus_sovereignty_target", "target", "D"))
        .thresholds(ratio_thresholds())
    )
    budget_gauge = (
        gauge.Panel()
        .title("Budget used this month")
        .unit("percentunit")
        .min(0)
        .max(1.2)
        .with_target(query("maximus_budget_spent_usd / (maximus_budget_limit_usd > 0)", "used"))
        .thresholds(
            dashboard.ThresholdsConfig()
            .mode(ThresholdsMode.ABSOLUTE)
            .steps(
                [
                    Threshold(value=0, color="green"),
                    Threshold(value=0.8, color="orange"),
                    Threshold(value=1, color="red"),
                ]
            )
        )
    )
    calls = (
        timeseries.Panel()
        .title("Calls per tier")
        .unit("reqps")
        .with_target(
            query('sum by (tier) (rate(maximus_requests_total{outcome="success"}[$__rate_interval]))', "{{tier}}", "A")
        )
        .with_target(
            query(
                'sum by (tier) (rate(maximus_requests_total{outcome="failure"}[$__rate_interval]))',
                "{{tier}} failed",
                "B",
            )
        )
    )
    cost = (
        timeseries.Panel()
        .title("Cost against budget (month to date)")
        .unit("currencyUSD")
        .with_target(query("maximus_budget_spent_usd", "spent", "A"))
        .with_target(query("maximus_budget_limit_usd", "budget", "B"))
        .with_target(query("sum by (tier) (increase(maximus_cost_usd_total[1h]))", "{{tier}} last hour", "C"))
    )
    saved = (
        timeseries.Panel()
        .title("Saved against a flat cloud subscription")
        .unit("currencyUSD")
        .with_target(query("maximus_saved_month_usd", "saved this month", "A"))
        .with_target(query("maximus_cloud_subscription_usd", "cloud subscription / month", "B"))
        .with_target(query("maximus_saved_usd_total", "saved all time", "C"))
    )
    latency = (
        timeseries.Panel()
        .title("Latency p50 / p95 per tier")
        .unit("s")
        .with_target(
            query(
                "histogram_quantile(0.5, sum by (tier, le) "
                "(rate(maximus_request_duration_seconds_bucket[$__rate_interval])))",
                "{{tier}} p50",
                "A",
            )
        )
        .with_target(
            query(
                "histogram_quantile(0.95, sum by (tier, le) "
                "(rate(maximus_request_duration_seconds_bucket[$__rate_interval])))",
                "{{tier}} p95",
                "B",
            )
        )
    )
    fallbacks = (
        timeseries.Panel()
        .title("Fallbacks (from -> to tier)")
        .unit("short")
        .with_target(
            query(
                "sum by (from_tier, to_tier) (increase(maximus_fallbacks_total[$__rate_interval]))"
                " > 0 or sum(increase(maximus_fallbacks_total[$__rate_interval]))",
                "{{from_tier}} -> {{to_tier}}",
            )
        )
    )
    pins = (
        bargauge.Panel()
        .title("Privacy pins by kind (range)")
        .unit("short")
        .with_target(query("sum by (kind) (increase(maximus_privacy_pins_total[$__range]))", "{{kind}}"))
    )
    health = (
        timeseries.Panel()
        .title("Tier health (attempt success rate) and service up")
        .unit("percentunit")
        .min(0)
        .max(1)
        .with_target(
            query(
                'sum by (tier) (rate(maximus_attempts_total{outcome="success"}[$__rate_interval]))'
                " / sum by (tier) (rate(maximus_attempts_total[$__rate_interval]))",
                "{{tier}}",
                "A",
            )
        )
        .with_target(query('up{job=~"tracker|litellm|cli-proxy|vision"}', "{{job}} up", "B"))
    )
    tokens = (
        timeseries.Panel()
        .title("Tokens per tier")
        .unit("short")
        .with_target(query("sum by (tier, type) (rate(maximus_tokens_total[$__rate_interval]))", "{{tier}} {{type}}"))
    )
    routes = (
        bargauge.Panel()
        .title("Route decisions (range)")
        .unit("short")
        .with_target(
            query(
                "sum by (tier, reason) (increase(maximus_route_decisions_total[$__range])) > 0"
                " or sum(increase(maximus_route_decisions_total[$__range]))",
                "{{tier}}: {{reason}}",
            )
        )
    )
    embeddings = (
        timeseries.Panel()
        .title("Embeddings per tier (/v1/embeddings: RAG indexing and search)")
        .unit("reqps")
        .description(
            "Embedding requests, counted once each by the answering tier; local unless a client named a cloud model."
        )
        .with_target(
            query(
                'sum by (tier) (rate(maximus_api_requests_total{api="embeddings",outcome="success"}'
                "[$__rate_interval]))",
                "{{tier}}",
                "A",
            )
        )
        .with_target(
            query(
                'sum by (tier) (rate(maximus_api_requests_total{api="embeddings",outcome="failure"}'
                "[$__rate_interval]))",
                "{{tier}} failed",
                "B",
            )
        )
    )
    embedding_totals = (
        stat.Panel()
        .title("Embeddings (range): answered, on the machine, tokens")
        .unit("short")
        .with_target(
            query(
                'sum(increase(maximus_api_requests_total{api="embeddings",outcome="success"}[$__range]))',
                "answered",
                "A",
            )
        )
        .with_target(
            query(
                f'sum(increase(maximus_api_requests_total{{api="embeddings",outcome="success",{SOVEREIGN}}}[$__range]))',
                "on the machine",
                "B",
            )
        )
        .with_target(query('sum(increase(maximus_api_tokens_total{api="embeddings"}[$__range]))', "tokens", "C"))
    )
    for single_value in (ratio_stat, ratio_gauge, ratio_windows, budget_gauge, pins, routes, embedding_totals):
        single_value.reduce_options(last_value())
    layout = [
        (ratio_stat, 0, 0, 6, 6),
        (ratio_gauge, 6, 0, 6, 6),
        (ratio_windows, 12, 0, 6, 6),
        (budget_gauge, 18, 0, 6, 6),
        (calls, 0, 6, 12, 8),
        (cost, 12, 6, 12, 8),
        (saved, 0, 14, 12, 8),
        (latency, 12, 14, 12, 8),
        (fallbacks, 0, 22, 8, 8),
        (pins, 8, 22, 8, 8),
        (health, 16, 22, 8, 8),
        (tokens, 0, 30, 12, 8),
        (routes, 12, 30, 12, 8),
        (people_table(), 0, 38, 24, 8),
        (embeddings, 0, 46, 16, 8),
        (embedding_totals, 16, 46, 8, 8),
    ]
    return [place(panel, i, x, y, w, h) for i, (panel, x, y, w, h) in enumerate(layout, start=1)]


def build() -> dict:
    board = (
        dashboard.Dashboard("Maximus: Sovereignty")
        .uid(UID)
        .tags(["maximus", "sovereignty"])
        .refresh("30s")
        .time("now-24h", "now")
        .timezone("browser")
        .readonly()
        .description("How sovereign the gateway is: local answers, cloud cost, budget, savings, health.")
    )
    for panel in panels():
        board = board.with_panel(panel)
    built = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    for section in ("annotations", "templating"):  # Grafana reads .list of both
        built.setdefault(section, {}).setdefault("list", [])
    return built


def main() -> None:
    text = json.dumps(build(), indent=2, sort_keys=True) + "\n"
    if "--check" in sys.argv:
        sys.exit(0 if OUTPUT.read_text() == text else 1)
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
