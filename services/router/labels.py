"""The label store: what the installation's own traffic says about the local answers, kept as feature vectors.

A label is one request's outcome: whether the local answer was good enough (local_ok) and whether a strong tier
answered it well (strong_ok), either unknown (None). It is stored as the adapter's own feature vector of the
request (label_vector), never the raw text unless routing.yaml learning.keep_text is on:

    {"v": 1, "x": label_vector(text, turns), "local_ok": bool | None, "strong_ok": bool | None,
     "source": "feedback" | "reask" | "judge" | "file", "ts": epoch seconds, "request_id": str | None,
     "text": str (only with keep_text)}

Labels live in the stack's Redis, a list (learning.labels_key, "maximus:labels"), newest first, trimmed to
learning.max_labels. Framework-free: the Redis client is passed in, or built from the budget's Redis URL
variables. LabelStore is for synchronous callers (the CLI); the proxy's label sources will need an asyncio one."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from router.adapter import hashed_terms
from router.config import LearningConfig, RoutingConfig, cached_config
from router.need import NeedModel
from router.need_features import features

VERSION = 1
SOURCES = frozenset({"feedback", "reask", "judge", "file"})


class InvalidLabel(ValueError):
    """A label that does not follow the format above (the message says which field)."""


@lru_cache(maxsize=1)
def _shipped_need() -> NeedModel | None:
    path = cached_config().need.model_file
    return NeedModel.load(path) if path.is_file() else None


def label_vector(text: str, turns: int = 1, need: NeedModel | None = None) -> dict[str, Any]:
    """The adapter's feature vector of a request: hashed words and word pairs ("h", router.adapter.hashed_terms:
    its layout is part of the stored format, VERSION), the need model's features
    ("f"), and the shipped need model's gain and score ("gain", "need"; 0 without a model). `need` stands in for
    the shipped model (the benchmark's models fitted without the held-out domains)."""
    model = need if need is not None else _shipped_need()
    values = features(text, turns)
    gain = model.gain_of(values) if model is not None else 0.0
    return {
        "h": sorted(hashed_terms(text)),
        "f": {name: round(value, 5) for name, value in values.items()},
        "gain": round(gain, 6),
        "need": round(model.probability(gain), 6) if model is not None else 0.0,
    }


def _check_outcome(label: Mapping[str, Any], name: str) -> None:
    if label.get(name) is not None and not isinstance(label.get(name), bool):
        raise InvalidLabel(f"{name} must be true, false or null")


def validate(label: Mapping[str, Any]) -> None:
    """Raise InvalidLabel unless `label` follows the stored format."""
    if label.get("v") != VERSION:
        raise InvalidLabel(f"v must be {VERSION}")
    x = label.get("x")
    if not isinstance(x, dict) or not isinstance(x.get("h"), list) or not isinstance(x.get("f"), dict):
        raise InvalidLabel("x must be a label_vector")
    _check_outcome(label, "local_ok")
    _check_outcome(label, "strong_ok")
    if label.get("local_ok") is None and label.get("strong_ok") is None:
        raise InvalidLabel("a label needs local_ok or strong_ok")
    if label.get("source") not in SOURCES:
        raise InvalidLabel(f"source must be one of {sorted(SOURCES)}")
    if not isinstance(label.get("ts"), int | float) or isinstance(label.get("ts"), bool):
        raise InvalidLabel("ts must be epoch seconds")
    if label.get("request_id") is not None and not isinstance(label.get("request_id"), str):
        raise InvalidLabel("request_id must be a string or null")


def make_label(
    text: str,
    turns: int,
    local_ok: bool | None,
    strong_ok: bool | None,
    source: str,
    request_id: str | None = None,
    keep_text: bool = False,
    ts: float | None = None,
) -> dict[str, Any]:
    """A label of this request's text and outcome (validated); the text itself only with keep_text."""
    label: dict[str, Any] = {
        "v": VERSION,
        "x": label_vector(text, turns),
        "local_ok": local_ok,
        "strong_ok": strong_ok,
        "source": source,
        "ts": round(time.time() if ts is None else ts, 3),
        "request_id": request_id,
    }
    if keep_text:
        label["text"] = text
    validate(label)
    return label


def _encode(label: Mapping[str, Any], keep_text: bool) -> str:
    validate(label)
    stored = dict(label) if keep_text else {k: v for k, v in label.items() if k != "text"}
    return json.dumps(stored, separators=(",", ":"))


def _decode(raw: list[bytes | str]) -> list[dict[str, Any]]:
    """Stored labels, newest first; an entry that no longer parses as a label is skipped."""
    found = []
    for item in raw:
        try:
            label = json.loads(item)
            validate(label)
        except (json.JSONDecodeError, InvalidLabel, TypeError, UnicodeDecodeError):
            continue
        found.append(label)
    return found


def redis_url(config: RoutingConfig | None = None) -> str:
    """The Redis of the labels: the tracker's and the budget guard's (budget.redis_url_envs)."""
    from router.budget import redis_url_from_env

    return redis_url_from_env((config or cached_config()).budget.redis_url_envs)


class LabelStore:
    """Labels in Redis for synchronous callers; `client` is a redis.Redis (built from the URL when omitted)."""

    def __init__(self, client: Any = None, config: LearningConfig | None = None) -> None:
        self.config = config or cached_config().learning
        if client is None:
            import redis

            client = redis.Redis.from_url(redis_url())
        self.client = client

    def add(self, label: Mapping[str, Any]) -> None:
        encoded = _encode(label, self.config.keep_text)
        pipe = self.client.pipeline(transaction=True)
        pipe.lpush(self.config.labels_key, encoded)
        pipe.ltrim(self.config.labels_key, 0, self.config.max_labels - 1)
        pipe.execute()

    def add_many(self, labels: list[Mapping[str, Any]]) -> None:
        """Several labels in one round trip; the last of `labels` ends up newest."""
        if not labels:
            return
        encoded = [_encode(label, self.config.keep_text) for label in labels]
        pipe = self.client.pipeline(transaction=True)
        pipe.lpush(self.config.labels_key, *encoded)
        pipe.ltrim(self.config.labels_key, 0, self.config.max_labels - 1)
        pipe.execute()

    def add_from_text(
        self,
        text: str,
        turns: int,
        local_ok: bool | None,
        strong_ok: bool | None,
        source: str,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        label = make_label(text, turns, local_ok, strong_ok, source, request_id, self.config.keep_text)
        self.add(label)
        return label

    def read(self, limit: int | None = None) -> list[dict[str, Any]]:
        end = (limit or self.config.max_labels) - 1
        return _decode(self.client.lrange(self.config.labels_key, 0, end))

    def count(self) -> int:
        return int(self.client.llen(self.config.labels_key))

    def clear(self) -> None:
        self.client.delete(self.config.labels_key)
