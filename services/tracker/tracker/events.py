"""The event schema: one event per LiteLLM attempt (or per final proxy failure), published to a Redis stream.

An event never carries prompt or answer text: only counts, names and timings.
Kinds:
- "success": an attempt that answered; terminal for its request (a fallback answer carries `fallback_from_*`).
- "failure": an attempt that failed; not terminal (a fallback may still answer), counted for tier health.
- "fallback": LiteLLM's fallback notice; informational, the success event already carries the fallback.
- "request_failed": the proxy answered the client with an error; terminal for its request.
An event with `internal` set belongs to a sub-request a Maximus service made while answering another request
(the vision service phrasing its findings with the local model): it is an attempt, never a request of its own.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any

SUCCESS = "success"
FAILURE = "failure"
FALLBACK = "fallback"
REQUEST_FAILED = "request_failed"
KINDS = frozenset({SUCCESS, FAILURE, FALLBACK, REQUEST_FAILED})
TERMINAL_KINDS = frozenset({SUCCESS, REQUEST_FAILED})
SCHEMA_VERSION = 1
# The API shapes counted apart (maximus_api_requests); a request of another shape is counted as "other".
APIS = ("chat", "completions", "responses", "messages", "embeddings", "other")


class InvalidEvent(ValueError):
    """A stream entry that is not a valid event (wrong shape or unknown kind)."""


@dataclass(slots=True)
class AttemptEvent:
    kind: str
    call_id: str
    ts: float = field(default_factory=time.time)  # when the attempt ended (epoch seconds)
    model_group: str = ""  # the LiteLLM model group of this attempt (the `model` metric label)
    tier: str | None = None  # sovereign_tier of the deployment; None: resolve from the group
    stream: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    response_cost: float = 0.0  # LiteLLM's own cost figure; the tracker's price table wins when it has one
    latency_s: float = 0.0
    fallback_from_group: str | None = None
    fallback_from_tier: str | None = None
    routed_tier: str | None = None  # the router's decision (metadata maximus_tier)
    route_reasons: list[str] = field(default_factory=list)
    route_score: float | None = None  # the router's need score (metadata maximus_route_score); None: no text
    privacy_kinds: list[str] = field(default_factory=list)
    error_type: str | None = None  # exception class only: error messages can quote the prompt
    internal: str | None = None  # a Maximus service's own sub-request (metadata maximus_internal): not a request
    parent_id: str | None = None  # that sub-request's parent (metadata maximus_parent), for the record
    user: str | None = None  # the team key's name (never the key); None: the master key
    api: str | None = None  # the API shape (tracker.events.APIS: chat, embeddings, ...); None: unknown
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    v: int = SCHEMA_VERSION

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINAL_KINDS

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    def to_fields(self) -> dict[str, str]:
        """The Redis stream entry: one field holding the JSON document."""
        return {"e": self.to_json()}

    @classmethod
    def from_json(cls, raw: str | bytes) -> AttemptEvent:
        try:
            data = json.loads(raw)
        except (TypeError, ValueError) as exc:
            raise InvalidEvent(f"not JSON: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> AttemptEvent:
        if not isinstance(data, dict):
            raise InvalidEvent("an event is a JSON object")
        known = {f.name for f in fields(cls)}
        try:
            event = cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise InvalidEvent(str(exc)) from exc
        _validate(event)
        return event

    @classmethod
    def from_fields(cls, entry: dict[Any, Any]) -> AttemptEvent:
        raw = entry.get("e", entry.get(b"e"))
        if raw is None:
            raise InvalidEvent("stream entry has no 'e' field")
        return cls.from_json(raw)


def _validate(event: AttemptEvent) -> None:
    if event.kind not in KINDS:
        raise InvalidEvent(f"unknown kind {event.kind!r}")
    if not isinstance(event.call_id, str) or not event.call_id:
        raise InvalidEvent("call_id is required")
    if not isinstance(event.event_id, str) or not event.event_id:
        raise InvalidEvent("event_id is required")
    for name in ("prompt_tokens", "completion_tokens"):
        value = getattr(event, name)
        if not isinstance(value, int) or value < 0:
            raise InvalidEvent(f"{name} must be a non-negative integer")
    for name in ("response_cost", "latency_s", "ts"):
        value = getattr(event, name)
        if not isinstance(value, int | float) or value < 0:
            raise InvalidEvent(f"{name} must be a non-negative number")
    if not isinstance(event.route_reasons, list) or not isinstance(event.privacy_kinds, list):
        raise InvalidEvent("route_reasons and privacy_kinds are lists")
    score = event.route_score
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1):
        raise InvalidEvent("route_score is a number within 0..1 or null")
    for name in ("internal", "parent_id", "user", "api"):
        if getattr(event, name) is not None and not isinstance(getattr(event, name), str):
            raise InvalidEvent(f"{name} is a string or null")
