"""The in-domain adapter: what this installation's labels add to the shipped need model's estimate.

A linear correction of the need model's gain, fitted by `maximus route learn` (router.adapter_train, with
scikit-learn) on the labels of router.labels, exported as JSON and applied here in pure Python:

    adapted gain = gain + intercept + weights . tf-idf vector of the request's hashed words and pairs

(the weights: a logistic regression's on the local model's failures, scaled to a share of the gain's spread)

The adapted score is the need model's own probability map of the adapted gain, so it reads on the same scale;
the adapter carries the threshold calibrated to sovereignty_target on adapted scores. It lives in the stack's
Redis (learning.adapter_key): JSON under the key, its id under "<key>:id", a summary for the tracker under
"<key>:meta". The gateway re-reads the id in the
background (AdapterReader) and fetches the body only when the id changed; `maximus route` reads it once."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import string
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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


def _words(text: str) -> list[bytes]:
    return _clip(text).lower().encode("utf-8", "surrogatepass").translate(_SEPARATE).split()


def hashed_terms(text: str) -> set[int]:
    """The request's words and word pairs, lower-cased, hashed with CRC-32 (stable across processes and machines,
    unlike hash()) into 2**HASH_BITS buckets. A pair's hash is the CRC-32 of both words run together, computed by
    continuing the first word's CRC. Long prompts are clipped as the need model clips them."""
    words = _words(text)
    singles = list(map(zlib.crc32, words))
    pairs = map(zlib.crc32, words[1:], singles)
    return {value & _MASK for value in singles} | {value & _MASK for value in pairs}


def hashed_buckets(text: str) -> np.ndarray:
    """hashed_terms as a sorted array of distinct buckets, without a Python int set per request (the decision's
    path: a set of ~700 ints on a long prompt cost more than the adapter's arithmetic, and garbage to collect)."""
    words = _words(text)
    if not words:
        return np.empty(0, dtype=np.int64)
    singles = list(map(zlib.crc32, words))
    values = itertools.chain(singles, map(zlib.crc32, words[1:], singles))
    return np.unique(np.fromiter(values, dtype=np.uint32, count=2 * len(words) - 1) & _MASK).astype(np.intp)


@dataclass(frozen=True)
class Adapter:
    intercept: float
    terms: dict[int, tuple[float, float]]  # bucket -> (idf, scaled weight), for the terms seen in the labels
    unseen_idf: float  # the idf of a term no label had (it counts in a request's norm, nothing in its sum)
    threshold: float  # the need threshold calibrated to sovereignty_target on adapted scores
    guard: dict[str, Any]  # the verdict and both figures (router.adapter_train.Guard.as_dict)
    labels: int
    created: float
    id: str
    # Per bucket, over all 2**HASH_BITS of them: idf x weight (0 for a term no label had), idf squared (the unseen
    # idf squared for those), whether a label had it. Arrays, not dicts: one gather per request (~4 MB).
    _tables: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._tables is None:
            weighted = np.zeros(1 << HASH_BITS)
            squares = np.full(1 << HASH_BITS, self.unseen_idf**2)
            known = np.zeros(1 << HASH_BITS, dtype=bool)
            if self.terms:
                index = np.fromiter(self.terms.keys(), dtype=np.intp, count=len(self.terms))
                idf = np.fromiter((v[0] for v in self.terms.values()), dtype=float, count=len(self.terms))
                weight = np.fromiter((v[1] for v in self.terms.values()), dtype=float, count=len(self.terms))
                weighted[index], squares[index], known[index] = idf * weight, idf * idf, True
            object.__setattr__(self, "_tables", (weighted, squares, known))

    @property
    def accepted(self) -> bool:
        return self.guard.get("verdict") == "accepted"

    def as_accepted(self) -> Adapter:
        """This adapter as if its guard had accepted it: to score with it whatever the verdict (its own
        calibration, the benchmark's decision time)."""
        return dataclasses.replace(self, guard={**self.guard, "verdict": "accepted"})

    def age_s(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.created)

    def delta(self, terms: set[int] | list[int]) -> float:
        """What the adapter adds to the need model's gain for a request with these hashed terms: the weights on the
        request's tf-idf vector (binary terms times idf, L2-normalised over all its terms, unseen ones included:
        scikit-learn's TfidfTransformer(sublinear_tf=True) on the fitted labels)."""
        return self.buckets_delta(np.fromiter(terms, dtype=np.intp, count=len(terms)))

    def buckets_delta(self, buckets: np.ndarray) -> float:
        """The same for distinct buckets (hashed_buckets)."""
        weighted, squares, known = self._tables  # type: ignore[misc]
        if not buckets.size or not known[buckets].any():
            return self.intercept
        return self.intercept + float(weighted[buckets].sum()) / math.sqrt(float(squares[buckets].sum()))

    def text_delta(self, text: str) -> float:
        """What the adapter adds for this request text (the decision's path)."""
        return self.buckets_delta(hashed_buckets(text))

    def vector_delta(self, x: Mapping[str, Any]) -> float:
        """The same for a stored label vector (router.labels.label_vector)."""
        return self.delta(set(x["h"]))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Adapter:
        if raw.get("v") != VERSION:
            raise ValueError(f"adapter format {raw.get('v')!r} is not {VERSION}")
        return cls(
            intercept=float(raw["intercept"]),
            terms={int(k): (float(v[0]), float(v[1])) for k, v in raw["terms"].items()},
            unseen_idf=float(raw["unseen_idf"]),
            threshold=float(raw["threshold"]),
            guard=dict(raw["guard"]),
            labels=int(raw["labels"]),
            created=float(raw["created"]),
            id=str(raw["id"]),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "intercept": self.intercept,
            "terms": {str(k): list(v) for k, v in sorted(self.terms.items())},
            "unseen_idf": self.unseen_idf,
            "threshold": self.threshold,
            "guard": self.guard,
            "labels": self.labels,
            "created": self.created,
            "id": self.id,
        }

    def meta(self) -> dict[str, str]:
        """The small summary the tracker's /metrics and the dashboard read (counts and figures only)."""
        return {
            "id": self.id,
            "created": str(self.created),
            "labels": str(self.labels),
            "verdict": str(self.guard.get("verdict")),
            "shipped_apgr": str(self.guard.get("shipped_apgr")),
            "adapted_apgr": str(self.guard.get("adapted_apgr")),
            "threshold": str(self.threshold),
        }


def id_key(config: LearningConfig) -> str:
    return f"{config.adapter_key}:id"


def meta_key(config: LearningConfig) -> str:
    return f"{config.adapter_key}:meta"


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
    pipe.delete(meta_key(config))
    pipe.hset(meta_key(config), mapping=adapter.meta())
    pipe.set(id_key(config), adapter.id)
    pipe.execute()


def remove(client: Any, config: LearningConfig) -> bool:
    """Delete the stored adapter; True when there was one."""
    return bool(client.delete(config.adapter_key, id_key(config), meta_key(config)))


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
