"""Durable totals in Redis: key names, the atomic apply-and-acknowledge script, and readers.

Keys (all UTC):
- maximus:totals               HASH, all-time figures (fields below)
- maximus:month:<YYYY-MM>      HASH, calendar month: cost_usd, saved_usd, requests, sovereign, failed
- maximus:hour:<YYYYMMDDHH>    HASH, one hour (kept 49 h): answered, sovereign
- maximus:seen:<event_id>      STRING with TTL: an event already applied (redeliveries are dropped)
- maximus:call:<call_id>       STRING with TTL: a request already counted (its other events are not counted)
- maximus:recent               LIST, newest first: "1" (sovereign) or "0" for each of the last answered requests,
                               capped at routing.yaml's sovereignty_online.window: the live share the router steers on
Fields of maximus:totals: req|<tier>|<model>|<outcome>, tok|<tier>|<model>|<input|output>,
cost|<tier>|<model>, fb|<from_tier>|<to_tier>, route|<tier>|<reason>, pin|<kind>, att|<tier>|<outcome>,
saved_usd.

The router's budget guard reads the month-to-date spend with `month_to_date_spend(redis)`
(HGET maximus:month:<YYYY-MM> cost_usd). This module imports neither LiteLLM nor the rest of the tracker.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

TOTALS_KEY = "maximus:totals"
MONTH_PREFIX = "maximus:month:"
HOUR_PREFIX = "maximus:hour:"
SEEN_PREFIX = "maximus:seen:"
CALL_PREFIX = "maximus:call:"
RECENT_KEY = "maximus:recent"
MONTH_SPEND_FIELD = "cost_usd"
HOUR_TTL_S = 49 * 3600
SEP = "|"

# KEYS: stream, totals, month, hour, seen, call, recent.
# ARGV: group, entry id, dedupe ttl, hour ttl, terminal (0/1), JSON {"event"|"totals"|"month"|"hour": {field: "amount"},
# "recent": "1"|"0" for an answered request}, answers kept in the recent list
# (amounts are strings, so that no precision is lost on the way to HINCRBYFLOAT).
# Returns 0: duplicate event (only acknowledged); 1: event applied; 2: event applied and request counted.
# An entry is deleted once acknowledged: the stream holds only what is not yet counted (MAXLEN is a safety cap).
APPLY_SCRIPT = """
local function incr(key, amounts)
  for name, amount in pairs(amounts or {}) do
    redis.call('HINCRBYFLOAT', key, name, amount)
  end
end
if not redis.call('SET', KEYS[5], '1', 'NX', 'EX', ARGV[3]) then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[1], ARGV[2])
  return 0
end
local inc = cjson.decode(ARGV[6])
incr(KEYS[2], inc['event'])
local result = 1
if ARGV[5] == '1' and redis.call('SET', KEYS[6], '1', 'NX', 'EX', ARGV[3]) then
  incr(KEYS[2], inc['totals'])
  incr(KEYS[3], inc['month'])
  incr(KEYS[4], inc['hour'])
  redis.call('EXPIRE', KEYS[4], ARGV[4])
  if inc['recent'] then
    redis.call('LPUSH', KEYS[7], inc['recent'])
    redis.call('LTRIM', KEYS[7], 0, tonumber(ARGV[7]) - 1)
  end
  result = 2
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return result
"""


def field(*parts: str) -> str:
    return SEP.join(parts)


def _utc(ts: float | None) -> datetime:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else datetime.now(UTC)


def month_key(ts: float | None = None) -> str:
    return f"{MONTH_PREFIX}{_utc(ts):%Y-%m}"


def hour_key(ts: float | None = None) -> str:
    return f"{HOUR_PREFIX}{_utc(ts):%Y%m%d%H}"


def last_hour_keys(hours: int = 24, now: float | None = None) -> list[str]:
    """The current hour and the hours before it: `hours` buckets in all."""
    start = _utc(now)
    return [f"{HOUR_PREFIX}{start - timedelta(hours=i):%Y%m%d%H}" for i in range(hours)]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def decode_hash(raw: Mapping[Any, Any] | None) -> dict[str, float]:
    return {_text(k): float(_text(v)) for k, v in (raw or {}).items()}


def month_to_date_spend(redis: Any, now: float | None = None) -> float:
    """Cloud spend this calendar month (UTC) in USD, from a synchronous redis.Redis client."""
    value = redis.hget(month_key(now), MONTH_SPEND_FIELD)
    return float(_text(value)) if value is not None else 0.0


def recent_share(flags: list[Any] | None) -> tuple[float | None, int]:
    """The sovereign share of the recent answers (an LRANGE of RECENT_KEY) and how many there are."""
    count = len(flags or ())
    if not count:
        return None, 0
    return sum(_text(flag) == "1" for flag in flags) / count, count


async def amonth_to_date_spend(redis: Any, now: float | None = None) -> float:
    """The same from a redis.asyncio.Redis client (for the routing hook inside the proxy)."""
    value = await redis.hget(month_key(now), MONTH_SPEND_FIELD)
    return float(_text(value)) if value is not None else 0.0
