"""The tracker service: consumes the event stream, serves /metrics (no redirect) and /stats."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI, Query
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from maximus_kernel.openai_errors import OpenAIError
from maximus_kernel.service_app import create_service_app
from maximus_kernel.team_keys import ADMIN_NAME, NAME_PATTERN, OTHER_NAME
from tracker.audit import AuditLog
from tracker.consumer import Consumer
from tracker.metrics import DurableTotalsCollector, TrackerMetrics
from tracker.settings import Settings, load_settings
from tracker.stats import UnknownPerson, build_stats, build_user_stats
from tracker.tiers import load_tier_map

STATS_UNAVAILABLE = "durable totals unavailable (Redis unreachable)"


def _api_key() -> str | None:
    key = os.environ.get("TRACKER_API_KEY")
    if not key and os.environ.get("MAXIMUS_ALLOW_NO_KEY") != "1":
        raise RuntimeError("TRACKER_API_KEY is not set (set MAXIMUS_ALLOW_NO_KEY=1 to run without a key)")
    return key or None


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    api_key = _api_key()
    tier_map = load_tier_map()
    registry = CollectorRegistry()
    metrics = TrackerMetrics(registry)
    sync_client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=1.0, socket_timeout=2.0)
    registry.register(DurableTotalsCollector(sync_client, settings, tier_map))
    client = aioredis.Redis.from_url(settings.redis_url, socket_connect_timeout=1.0, socket_timeout=5.0)
    audit = AuditLog(settings.audit_dir, settings.audit_max_bytes, settings.audit_backups)
    name = os.environ.get("TRACKER_CONSUMER") or socket.gethostname()
    consumer = Consumer(client, settings, tier_map, metrics, audit, name)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(consumer.run(), name="tracker-consumer")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            audit.close()
            await client.aclose()
            sync_client.close()

    async def readiness() -> dict[str, Any]:
        try:
            await client.ping()
            redis_ok = True
        except (redis.RedisError, OSError):
            redis_ok = False
        return {"ready": redis_ok and consumer.running, "redis": redis_ok, "consumer": consumer.running}

    app = create_service_app("tracker", api_key, readiness=readiness, lifespan=lifespan)

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        body = await asyncio.to_thread(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/stats")
    async def stats(user: str | None = Query(None, max_length=64)) -> dict[str, Any]:
        """The team's figures; with `user`, one person's (this route needs the tracker's own key: the admin's)."""
        if user is not None and not (NAME_PATTERN.match(user) or user in (ADMIN_NAME, OTHER_NAME)):
            raise OpenAIError(400, "user: a key name (lowercase letters, digits, '.', '_', '-')", param="user")
        try:
            return await (build_stats(client, settings) if user is None else build_user_stats(client, settings, user))
        except UnknownPerson:
            message = f"no figures for {user!r}: `maximus keys list` shows the names"
            raise OpenAIError(404, message, param="user") from None
        except (redis.RedisError, OSError) as exc:
            raise OpenAIError(503, STATS_UNAVAILABLE, headers={"Retry-After": "5"}) from exc

    return app
