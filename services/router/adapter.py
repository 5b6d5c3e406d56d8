"""The in-domain adapter: what this installation's labels add to the shipped need model's estimate.

A linear correction of the need model's gain, fitted by `maximus route learn` (router.adapter_train, with
scikit-learn) on the labels of router.labels, exported as JSON and applied here in pure Python:

    adapted gain = gain + intercept + gain_weight * gain + sum(feature weights * need features)
                   + sum(term weights of the request's hashed words and pairs) / sqrt(number of terms)

The adapted score is the need model's own probability map of the adapted gain, so it reads on the same scale;
the adapter carries the threshold calibrated to sovereignty_target on adapted scores. It lives in the stack's
Redis (learning.adapter_key): JSON under the key, its id under "<key>:id". The gateway re-reads the id in the
background (AdapterReader) and fetches the body only when the id changed; `maximus route` reads it once."""

from __future__ import annotations

import json
import math
import string
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from router.config import LearningConfig
from router.need_features import _clip
from router.redis_reads import BackgroundRedisRead

VERSION = 1
HASH_BITS = 18  # as router.labels (its stored vectors and these weights index the same buckets)
_MASK = (1 << HASH_BITS) - 1
# ASCII letters and digits are word characters, the other ASCII bytes separate words; UTF-8 bytes of other
# scripts stay inside their words. bytes.translate + split run in C: the adapter costs ~0.07 ms a decision.
_WORD_BYTES = set((string.ascii_lowercase + string.digits).encode())
_SEPARATE = bytes(b if b in _WORD_BYTES or b >= 128 else 32 for b in range(256))


def hashed_terms(text: str) -> set[int]:
    """The request's words and word pairs, lower-cased, hashed with CRC-32 (stable across processes and machines,
    unlike hash()) into 2**HASH_BITS buckets. A pair's hash is the CRC-32 of both words run together, computed by
    continuing the first word's CRC. Long prompts are clipped as the need model clips them."""
    words = _clip(text).lower().encode("utf-8", "surrogatepass").translate(_SEPARATE).split()
    singles = list(map(zlib.crc32, words))
    pairs = map(zlib.crc32, words[1:], singles)
    return {value & _MASK for value in singles} | {value & _MASK for value in pairs}


@dataclass(frozen=True)
class Adapter:
    intercept: float
    gain_weight: float
    feature_weights: dict[str, float]
    term_weights: dict[int, float]
    threshold: float  # the need threshold calibrated to sovereignty_target on adapted scores
    guard: dict[str, Any]  # the verdict and both figures (router.adapter_train.Guard.as_dict)
    labels: int
    created: float
    id: str
    _terms: frozenset[int] = field(default=frozenset(), repr=False, compare=False)

    @property
    def accepted(self) -> bool:
        return self.guard.get("verdict") == "accepted"

    def age_s(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.created)

    def delta(self, terms: set[int] | list[int], values: Mapping[str, float], gain: float) -> float:
        """What the adapter adds to the need model's gain for a request with these terms and need features."""
        total = self.intercept + self.gain_weight * gain
        for name, weight in self.feature_weights.items():
            total += weight * values.get(name, 0.0)
        if terms:
            known = self._terms.intersection(terms)
            if known:
                total += sum(map(self.term_weights.__getitem__, known)) / math.sqrt(len(terms))
        return total

    def vector_delta(self, x: Mapping[str, Any]) -> float:
        """The same for a stored label vector (router.labels.label_vector)."""
        return self.delta(x["h"], x["f"], float(x["gain"]))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Adapter:
        if raw.get("v") != VERSION:
            raise ValueError(f"adapter format {raw.get('v')!r} is not {VERSION}")
        terms = {int(k): float(v) for k, v in raw["term_weights"].items()}
        return cls(
            intercept=float(raw["intercept"]),
            gain_weight=float(raw["gain_weight"]),
            feature_weights={str(k): float(v) for k, v in raw["feature_weights"].items()},
            term_weights=terms,
            threshold=float(raw["threshold"]),
            guard=dict(raw["guard"]),
            labels=int(raw["labels"]),
            created=float(raw["created"]),
            id=str(raw["id"]),
            _terms=frozenset(terms),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "intercept": self.intercept,
            "gain_weight": self.gain_weight,
            "feature_weights": self.feature_weights,
            "term_weights": {str(k): v for k, v in sorted(self.term_weights.items())},
            "threshold": self.threshold,
            "guard": self.guard,
            "labels": self.labels,
            "created": self.created,
            "id": self.id,
        }


def id_key(config: LearningConfig) -> str:
    return f"{config.adapter_key}:id"


def parse(raw: bytes | str | None) -> Adapter | None:
    """The stored adapter, or None when there is none or it does not parse (the shipped model is then used)."""
    if raw is None:
        return None
    try:
        return Adapter.from_dict(json.loads(raw))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def save(client: Any, config: LearningConfig, adapter: Adapter) -> None:
    """Store the adapter and its id in one transaction (a reader never sees a new id with an old body)."""
    pipe = client.pipeline(transaction=True)
    pipe.set(config.adapter_key, json.dumps(adapter.as_dict(), separators=(",", ":")))
    pipe.set(id_key(config), adapter.id)
    pipe.execute()


def remove(client: Any, config: LearningConfig) -> bool:
    """Delete the stored adapter; True when there was one."""
    return bool(client.delete(config.adapter_key, id_key(config)))


def load(client: Any, config: LearningConfig) -> Adapter | None:
    return parse(client.get(config.adapter_key))


class AdapterReader:
    """The gateway's copy of the stored adapter, refreshed in the background every learning.refresh_s: one GET of
    the id per refresh, the body only when the id changed. A request never waits on Redis. While Redis does not
    answer, the last adapter read stays in use."""

    def __init__(self, config: LearningConfig, redis_url: str) -> None:
        self.config = config
        self._current: Adapter | None = None
        timeouts = {"socket_timeout": config.timeout_s, "socket_connect_timeout": config.timeout_s}
        self._read: BackgroundRedisRead[Adapter | None] = BackgroundRedisRead(
            redis_url, config.refresh_s, timeouts, self._fetch, self._keep, None, keep_last_on_error=True
        )

    async def _fetch(self, client: Any) -> Adapter | None:
        stored_id = await client.get(id_key(self.config))
        if stored_id is None:
            return None
        current = self._current
        if current is not None and stored_id.decode() == current.id:
            return current
        return parse(await client.get(self.config.adapter_key))

    def _keep(self, adapter: Adapter | None) -> Adapter | None:
        self._current = adapter
        return adapter

    async def latest(self) -> Adapter | None:
        return await self._read.latest(wait_first_s=0.0)

    def stop(self) -> None:
        self._read.stop()
