"""Team keys: one API key per person, stored salted and hashed in the stack's Redis (docs/decisions/).

A key reads `mxk_<id>_<secret>`: the id finds the record, the secret is checked against its salted SHA-256 (the
secret is 32 random bytes, so a fast hash is enough: nothing to guess). The clear key is never stored.

Redis layout (durable: the same append-only Redis as the tracker's totals):
- maximus:keys          HASH  id -> JSON {"name", "salt", "hash", "budget_usd", "tiers", "created_at"}
- maximus:keys:names    HASH  name -> id (one key per name)
- maximus:keys:version  STRING, incremented on every change: the gateways' caches poll it

Framework-free: the gateway's edge, its LiteLLM auth, the CLI and the tracker all use this module.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger("maximus.keys")

KEYS_KEY = "maximus:keys"
NAMES_KEY = "maximus:keys:names"
VERSION_KEY = "maximus:keys:version"
PREFIX = "mxk_"
ADMIN_NAME = "admin"  # the master key's name in the figures
OTHER_NAME = "other"  # the figures of people past the label cap (tracker.yaml users.max_labels)
RESERVED_NAMES = frozenset({ADMIN_NAME, OTHER_NAME})
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
KEY_PATTERN = re.compile(r"^mxk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
TIERS = ("local", "vision", "power", "creative", "cloud")
MAX_BUDGET_USD = 1_000_000.0


class KeyRefused(ValueError):
    """A refused key operation (bad name, budget or tier, unknown or duplicate name): its text is for people."""


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise KeyRefused(
            f"invalid name {name!r}: use 1 to 32 lowercase letters, digits, '.', '_' or '-', starting with a letter "
            "or a digit"
        )
    if name in RESERVED_NAMES:
        raise KeyRefused(f"the name {name!r} is reserved (the master key's and the label of people past the cap)")
    return name


def check_budget(budget_usd: float | None) -> float | None:
    if budget_usd is None:
        return None
    if not math.isfinite(budget_usd) or budget_usd < 0 or budget_usd > MAX_BUDGET_USD:
        raise KeyRefused(f"invalid budget {budget_usd}: a number of USD per month from 0 to {MAX_BUDGET_USD:,.0f}")
    return float(budget_usd)


def check_tiers(tiers: Iterable[str] | None) -> tuple[str, ...] | None:
    """None: every tier. The local tier is always allowed (it is where a refused tier goes)."""
    if tiers is None:
        return None
    words = [word.strip() for item in tiers for word in item.split(",") if word.strip()]
    unknown = sorted(set(words) - set(TIERS))
    if unknown or not words:
        raise KeyRefused(f"invalid tiers {', '.join(unknown) or '(none)'}: choose from {', '.join(TIERS)}")
    return tuple(sorted({"local", *words}, key=TIERS.index))


@dataclass(frozen=True)
class KeyRecord:
    name: str
    salt: str
    hash: str
    budget_usd: float | None = None  # monthly, USD; None: only the team's budget applies
    tiers: tuple[str, ...] | None = None  # None: every tier
    created_at: float = field(default_factory=time.time)

    def to_json(self) -> str:
        data = asdict(self)
        data["tiers"] = list(self.tiers) if self.tiers is not None else None
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> KeyRecord:
        data = json.loads(raw)
        tiers = data.get("tiers")
        return cls(
            name=str(data["name"]),
            salt=str(data["salt"]),
            hash=str(data["hash"]),
            budget_usd=None if data.get("budget_usd") is None else float(data["budget_usd"]),
            tiers=None if tiers is None else tuple(str(t) for t in tiers),
            created_at=float(data.get("created_at") or 0.0),
        )

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(_digest(self.salt, secret), self.hash)

    def public(self) -> dict[str, Any]:
        """What `maximus keys list` shows: never the salt or the hash."""
        return {"name": self.name, "budget_usd": self.budget_usd, "tiers": self.tiers, "created_at": self.created_at}


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def _new_key(name: str, budget_usd: float | None, tiers: tuple[str, ...] | None) -> tuple[str, str, KeyRecord]:
    key_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_hex(16)
    record = KeyRecord(name, salt, _digest(salt, secret), budget_usd, tiers)
    return key_id, f"{PREFIX}{key_id}_{secret}", record


def safe_url(url: str) -> str:
    """A Redis URL without its password, for messages."""
    return re.sub(r"//[^@/]*@", "//", url)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class KeyStore:
    """Key management on a synchronous redis.Redis client (the CLI)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def create(self, name: str, budget_usd: float | None = None, tiers: Iterable[str] | None = None) -> str:
        """The clear key, returned once; a name already in use is refused."""
        record_args = (check_name(name), check_budget(budget_usd), check_tiers(tiers))
        key_id, key, record = _new_key(*record_args)
        if not self.client.hsetnx(NAMES_KEY, name, key_id):
            raise KeyRefused(f"a key named {name!r} exists: `maximus keys rotate {name}` gives it a new key")
        self._write(key_id, record, old_id=None)
        return key

    def rotate(self, name: str) -> str:
        """A new key for the name (same budget and tiers); the old one stops working."""
        old_id, old = self._find(name)
        key_id, key, record = _new_key(old.name, old.budget_usd, old.tiers)
        self.client.hset(NAMES_KEY, name, key_id)
        self._write(key_id, record, old_id=old_id)
        return key

    def revoke(self, name: str) -> None:
        key_id, _ = self._find(name)
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(KEYS_KEY, key_id)
        pipe.hdel(NAMES_KEY, name)
        pipe.incr(VERSION_KEY)
        pipe.execute()

    def list(self) -> list[KeyRecord]:
        return sorted(load_records(self.client.hgetall(KEYS_KEY)).values(), key=lambda r: r.name)

    def _find(self, name: str) -> tuple[str, KeyRecord]:
        check_name(name)
        key_id = self.client.hget(NAMES_KEY, name)
        raw = self.client.hget(KEYS_KEY, _text(key_id)) if key_id is not None else None
        if raw is None:
            raise KeyRefused(f"no key named {name!r} (`maximus keys list` shows the names)")
        return _text(key_id), KeyRecord.from_json(raw)

    def _write(self, key_id: str, record: KeyRecord, old_id: str | None) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(KEYS_KEY, key_id, record.to_json())
        if old_id is not None:
            pipe.hdel(KEYS_KEY, old_id)
        pipe.incr(VERSION_KEY)
        pipe.execute()


def load_records(raw: Mapping[Any, Any] | None) -> dict[str, KeyRecord]:
    """id -> record from an HGETALL of KEYS_KEY; an unreadable record is skipped (and so refused)."""
    records = {}
    for key_id, value in (raw or {}).items():
        try:
            records[_text(key_id)] = KeyRecord.from_json(value)
        except (ValueError, KeyError, TypeError):
            log.warning("team key record %s is unreadable: skipped", _text(key_id))
    return records


@dataclass(frozen=True)
class Verdict:
    """A key's check: `record` for a team key that matches; `unavailable` when the cache is too old to say."""

    record: KeyRecord | None = None
    unavailable: bool = False


class KeyCache:
    """Every gateway process's copy of the key records, kept fresh by a daemon thread: a request never waits on
    Redis. The thread reads the version counter every refresh_s and reloads the records when it changed. A copy
    older than max_staleness_s (Redis away) refuses every team key: a revocation could be missed otherwise."""

    def __init__(self, redis_url: str, refresh_s: float = 0.25, max_staleness_s: float = 1.0) -> None:
        self.redis_url = redis_url
        self.refresh_s = refresh_s
        self.max_staleness_s = max_staleness_s
        self._records: dict[str, KeyRecord] = {}
        self._version: bytes | None = None
        self._fresh_at: float | None = None  # monotonic time of the last successful check
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._warned = False

    def start(self) -> KeyCache:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="maximus-key-cache", daemon=True)
                self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def age(self) -> float | None:
        return None if self._fresh_at is None else time.monotonic() - self._fresh_at

    def check(self, key: str) -> Verdict:
        """A team key's verdict: its record, no record (unknown, revoked, not a team key), or unavailable."""
        match = KEY_PATTERN.match(key)
        if match is None:
            return Verdict()
        age = self.age()
        if age is None or age > self.max_staleness_s:
            return Verdict(unavailable=True)
        record = self._records.get(match.group(1))
        return Verdict(record if record is not None and record.matches(match.group(2)) else None)

    def refresh(self, client: Any) -> None:
        """One check of the version counter, and a reload when it changed (the thread's step)."""
        version = client.get(VERSION_KEY)
        if version != self._version or self._fresh_at is None:
            self._records = load_records(client.hgetall(KEYS_KEY))
            self._version = version
        self._fresh_at = time.monotonic()

    def _run(self) -> None:
        import redis

        timeout = max(self.refresh_s, 0.2)
        client = redis.Redis.from_url(self.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
        while not self._stop.is_set():
            try:
                self.refresh(client)
                self._warned = False
            except (redis.RedisError, OSError, ValueError) as exc:
                if not self._warned:
                    log.warning("team keys: Redis at %s unreachable (%s)", safe_url(self.redis_url), type(exc).__name__)
                    self._warned = True
            self._stop.wait(self.refresh_s)
