"""What each answered request was decided as, kept briefly in the stack's Redis so that a label can find it later,
from any gateway process: feedback (POST /v1/maximus/feedback) and re-asks (router.traffic_labels).

A record, JSON under "<requests_key>:<request id>" for request_ttl_s:

    {"person": team key name | "admin", "tier": the decided tier, "local": bool (a sovereign tier),
     "private": bool, "x": router.labels.label_vector | None (None for a private request), "turns": int,
     "ts": epoch seconds}

A private request's record holds no vector and no hash: only that it was private and whose it was, so that its id
still answers feedback ("not labelled: private"). The index list "<requests_key>" holds the ids, newest first;
past max_requests the oldest records are deleted with their ids (one Lua script: count and TTL both bound).

Re-asks: a non-private local answer leaves "<requests_key>:reask:<person>:<hash>" -> its request id for
reask_window_s, the hash a keyed BLAKE2b of the last user turn (never the text), one capped index per person.
A strong-tier request of the same person with the same hash takes the entry (GETDEL: labelled once).

Request ids are made here (uuid4), not taken from LiteLLM's x-litellm-call-id: LiteLLM honours a client's header
(litellm.proxy.common_request_processing.resolve_litellm_call_id). The gateway's edge replaces that header on the
model API (maximus.event_hold), but a record keyed by it would still depend on every route passing that edge.
Framework-free: callers pass a redis.Redis."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from router.config import LearningConfig
from router.labels import VERSION, validate

ID_PREFIX = "mxr-"
ID_PATTERN = re.compile(r"^mxr-[0-9a-f]{32}$")
VERDICTS = ("insufficient", "good")

# KEYS[1] the index list, KEYS[2] the record; ARGV: value, ttl, id, max, record key prefix. The index expires with
# its newest record, and the oldest records beyond max are deleted with their ids.
_BOUNDED_PUT = """
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
redis.call('LPUSH', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[2])
local over = redis.call('LLEN', KEYS[1]) - tonumber(ARGV[4])
for _ = 1, over do
  local old = redis.call('RPOP', KEYS[1])
  if old then redis.call('DEL', ARGV[5] .. old) end
end
return over
"""


def new_request_id() -> str:
    return ID_PREFIX + uuid.uuid4().hex


def prompt_hash(text: str) -> str:
    """A keyed hash of the last user turn, whitespace-normalised: equal prompts compare equal, and without the
    installation's master key a stored hash cannot be checked against guessed prompts."""
    key = os.environ.get("MAXIMUS_MASTER_KEY", "").encode()[:64]
    normal = " ".join(text.split()).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(normal, key=key, digest_size=16).hexdigest()


@dataclass(frozen=True)
class Record:
    person: str
    tier: str
    local: bool
    private: bool
    x: dict[str, Any] | None
    turns: int = 1
    ts: float = 0.0

    def to_json(self) -> str:
        body = {"person": self.person, "tier": self.tier, "local": self.local, "private": self.private}
        body |= {"x": self.x, "turns": self.turns, "ts": round(self.ts, 3)}
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> Record:
        body = json.loads(raw)
        return cls(
            person=str(body["person"]),
            tier=str(body["tier"]),
            local=bool(body["local"]),
            private=bool(body["private"]),
            x=body.get("x") if isinstance(body.get("x"), dict) else None,
            turns=int(body.get("turns") or 1),
            ts=float(body.get("ts") or 0.0),
        )


class NotLabelled(Exception):
    """Feedback that adds no label; `code` says why (private, unknown)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def label_of(record: Record, local_ok: bool | None, strong_ok: bool | None, source: str, request_id: str) -> dict:
    """The label of a recorded request (its stored vector: no text needed, none kept)."""
    if record.private or record.x is None:
        raise NotLabelled("private", "not labelled: private (the privacy guard flagged this request)")
    label = {
        "v": VERSION,
        "x": record.x,
        "local_ok": local_ok,
        "strong_ok": strong_ok,
        "source": source,
        "ts": round(time.time(), 3),
        "request_id": request_id,
    }
    validate(label)
    return label


def feedback_label(record: Record, verdict: str, request_id: str) -> dict:
    """A verdict on the answer: local_ok for a local answer, strong_ok for a strong tier's."""
    good = verdict == "good"
    local_ok, strong_ok = (good, None) if record.local else (None, good)
    return label_of(record, local_ok, strong_ok, "feedback", request_id)


class RequestRecords:
    """The records and the re-ask index in Redis; `client` is a redis.Redis."""

    def __init__(self, client: Any, config: LearningConfig) -> None:
        self.client = client
        self.config = config
        self._put = client.register_script(_BOUNDED_PUT)

    def _key(self, request_id: str) -> str:
        return f"{self.config.requests_key}:{request_id}"

    def _reask_key(self, person: str, digest: str = "") -> str:
        return f"{self.config.requests_key}:reask:{person}" + (f":{digest}" if digest else "")

    def put(self, request_id: str, record: Record) -> None:
        cfg = self.config
        keys = [cfg.requests_key, self._key(request_id)]
        self._put(keys=keys, args=[record.to_json(), cfg.request_ttl_s, request_id, cfg.max_requests, keys[0] + ":"])

    def get(self, request_id: str) -> Record | None:
        raw = self.client.get(self._key(request_id)) if ID_PATTERN.match(request_id) else None
        try:
            return Record.from_json(raw) if raw is not None else None
        except (ValueError, KeyError, TypeError):
            return None

    def claim(self, request_id: str, source: str) -> bool:
        """True the first time a label of this source is given for this request (a second feedback, a second
        re-ask, adds nothing); the mark lives as long as a record may."""
        mark = f"{self._key(request_id)}:{source}"
        return bool(self.client.set(mark, "1", nx=True, ex=self.config.request_ttl_s))

    def remember_local(self, person: str, digest: str, request_id: str) -> None:
        cfg = self.config
        if cfg.reask_window_s <= 0:
            return
        index = self._reask_key(person)
        args = [request_id, cfg.reask_window_s, digest, cfg.reask_max_per_person, index + ":"]
        self._put(keys=[index, self._reask_key(person, digest)], args=args)

    def take_reask(self, person: str, digest: str) -> str | None:
        """The request id of this person's recent local answer to the same prompt, once."""
        found = self.client.getdel(self._reask_key(person, digest))
        return found.decode() if isinstance(found, bytes) else found


def parse_feedback(body: Any) -> tuple[str, str]:
    """(request_id, verdict) of a feedback body; ValueError(param, message) otherwise."""
    if not isinstance(body, Mapping):
        raise ValueError("body", "The request body must be a JSON object.")
    request_id, verdict = body.get("request_id"), body.get("verdict")
    if not isinstance(request_id, str) or not request_id:
        raise ValueError("request_id", "'request_id' is required: the x-maximus-request-id header of the answer.")
    if verdict not in VERDICTS:
        raise ValueError("verdict", '\'verdict\' must be "insufficient" or "good".')
    unknown = sorted(set(body) - {"request_id", "verdict"})
    if unknown:
        raise ValueError(unknown[0], f"Unrecognized request argument supplied: {unknown[0]}.")
    return request_id, verdict
