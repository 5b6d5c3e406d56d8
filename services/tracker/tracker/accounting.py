"""What one event adds to the durable totals: a pure function of the event, the prices and the tier map."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field

from maximus_kernel.team_keys import ADMIN_NAME, NAME_PATTERN, OTHER_NAME
from tracker.events import APIS, FAILURE, REQUEST_FAILED, SUCCESS, AttemptEvent
from tracker.settings import Settings
from tracker.tiers import TIERS, is_sovereign
from tracker.totals import field

OUTCOME = {SUCCESS: "success", REQUEST_FAILED: "failure"}
EMBEDDINGS = "embeddings"


@dataclass(slots=True)
class Resolved:
    """An event with its tier, outcome, cost and labels settled."""

    event: AttemptEvent
    tier: str | None
    outcome: str | None  # success/failure for a terminal event, None otherwise
    cost_usd: float = 0.0
    saved_usd: float = 0.0
    fallback_from_tier: str | None = None
    decision_tier: str | None = None
    reasons: list[str] = dc_field(default_factory=list)
    privacy_kinds: list[str] = dc_field(default_factory=list)
    internal: str | None = None  # a Maximus service's own sub-request at a sovereign tier: an attempt only
    user: str = ADMIN_NAME  # the team key's name; the master key's requests are the admin's

    @property
    def counts_request(self) -> bool:
        """A terminal event whose tier is known: the request reached a tier and is counted."""
        return self.outcome is not None and self.tier is not None


@dataclass(slots=True)
class Increments:
    event: Counter[str] = dc_field(default_factory=Counter)  # every new event (attempts)
    totals: Counter[str] = dc_field(default_factory=Counter)  # once per request
    month: Counter[str] = dc_field(default_factory=Counter)
    hour: Counter[str] = dc_field(default_factory=Counter)
    recent: str | None = None  # "1"/"0": an answered request's place in the recent-answers list


def _bounded(words: list[str], vocabulary: tuple[str, ...]) -> list[str]:
    return sorted({word if word in vocabulary else "other" for word in words})


def reason_label(reason: str) -> str:
    """The router writes reasons as sentences ("privacy: secret (...) kept local", "classifier: power (0.91)",
    "power tier cooling down: skipped to local"); the label is the leading word, and a leading tier name means
    the tier was skipped."""
    text = reason.strip().lower()
    match = re.match(r"([a-z_]+)( tier\b)?", text)
    if match is None:
        return "other"
    return "skipped" if match.group(2) and match.group(1) in TIERS else match.group(1)


def person(user: str | None) -> str:
    """A name as the figures keep it: a valid key name, "admin" for the master key, "other" for anything else."""
    if user is None:
        return ADMIN_NAME
    return user if NAME_PATTERN.match(user) else OTHER_NAME


def resolve(event: AttemptEvent, settings: Settings, tier_map: Mapping[str, str]) -> Resolved:
    tier = event.tier if event.tier in TIERS else tier_map.get(event.model_group)
    price = settings.prices.get(event.model_group)
    cost = price.cost(event.prompt_tokens, event.completion_tokens) if price else event.response_cost
    sovereign_answer = event.kind == SUCCESS and is_sovereign(tier)
    reference = settings.embedding_reference if event.api == EMBEDDINGS else settings.cloud_reference
    saved = reference.cost(event.prompt_tokens, event.completion_tokens) if sovereign_answer else 0.0
    from_tier = event.fallback_from_tier if event.fallback_from_tier in TIERS else None
    if from_tier is None and event.fallback_from_group:
        from_tier = tier_map.get(event.fallback_from_group)
    decision = event.routed_tier if event.routed_tier in TIERS else tier
    # A sub-request a Maximus service made to answer another request (the vision service phrasing its
    # findings) is not a request of its own. Only honoured at a sovereign tier: the tag comes with the request
    # body, and a cloud request must never escape the count (nor the budget) by carrying it.
    internal = event.internal if event.internal and is_sovereign(tier) else None
    return Resolved(
        event=event,
        tier=tier,
        outcome=None if internal else OUTCOME.get(event.kind),
        cost_usd=cost if event.kind == SUCCESS else 0.0,
        saved_usd=saved,
        fallback_from_tier=from_tier if event.kind == SUCCESS else None,
        decision_tier=decision,
        reasons=_bounded([reason_label(r) for r in event.route_reasons], settings.route_reasons),
        privacy_kinds=_bounded(event.privacy_kinds, settings.privacy_kinds),
        internal=internal,
        user=person(event.user),
    )


def increments(r: Resolved) -> Increments:
    inc = Increments()
    event, tier = r.event, r.tier
    if tier is not None and event.kind in (SUCCESS, FAILURE):
        inc.event[field("att", tier, "success" if event.kind == SUCCESS else "failure")] += 1
    if r.internal and tier is not None and event.kind == SUCCESS:  # its tokens were spent: count them, once
        inc.event[field("tok", tier, event.model_group, "input")] += event.prompt_tokens
        inc.event[field("tok", tier, event.model_group, "output")] += event.completion_tokens
        inc.event[field("cost", tier, event.model_group)] += r.cost_usd
    if not r.counts_request:
        return inc
    model, outcome = event.model_group, r.outcome
    inc.totals[field("req", tier, model, outcome)] += 1
    if event.api is not None:
        api = event.api if event.api in APIS else "other"
        inc.totals[field("api", api, tier, outcome)] += 1
        if outcome == "success":
            inc.totals[field("apitok", api, tier)] += event.prompt_tokens + event.completion_tokens
    if outcome == "success":
        inc.totals[field("tok", tier, model, "input")] += event.prompt_tokens
        inc.totals[field("tok", tier, model, "output")] += event.completion_tokens
        inc.totals[field("cost", tier, model)] += r.cost_usd
        inc.totals["saved_usd"] += r.saved_usd
        inc.month.update({"requests": 1, "cost_usd": r.cost_usd, "saved_usd": r.saved_usd})
        inc.month["sovereign"] += int(is_sovereign(tier))
        inc.hour.update({"answered": 1, "sovereign": int(is_sovereign(tier))})
        # The router steers its chat threshold on this list (sovereignty_online): embeddings, which it never scores,
        # stay out of it, or a document index being built would read as a local share far above the target.
        inc.recent = None if event.api == EMBEDDINGS else ("1" if is_sovereign(tier) else "0")
        if r.fallback_from_tier:
            inc.totals[field("fb", r.fallback_from_tier, tier)] += 1
    else:
        inc.month["failed"] += 1
    _per_person(r, inc)
    for reason in r.reasons:
        inc.totals[field("route", r.decision_tier or tier, reason)] += 1
    for kind in r.privacy_kinds:
        inc.totals[field("pin", kind)] += 1
    return inc


def _per_person(r: Resolved, inc: Increments) -> None:
    """The request's figures once more under its person (user|<name>|...): the team's stay as they are."""
    event, tier, who = r.event, r.tier, r.user
    inc.totals[field("user", who, "req", tier, r.outcome)] += 1
    if r.outcome != "success":
        inc.month[field("user", who, "failed")] += 1
        return
    inc.totals[field("user", who, "tok", tier, "input")] += event.prompt_tokens
    inc.totals[field("user", who, "tok", tier, "output")] += event.completion_tokens
    inc.totals[field("user", who, "cost", tier)] += r.cost_usd
    inc.month[field("user", who, "cost_usd")] += r.cost_usd
    inc.month[field("user", who, "requests")] += 1
    inc.month[field("user", who, "sovereign")] += int(is_sovereign(tier))


def _amounts(counter: Counter[str]) -> dict[str, str]:
    return {name: repr(float(amount)) for name, amount in counter.items() if amount}


def script_args(
    inc: Increments,
    group: str,
    entry_id: str,
    dedupe_ttl_s: int,
    hour_ttl_s: int,
    terminal: bool,
    recent_kept: int,
) -> list[str]:
    payload: dict[str, dict[str, str] | str | None] = {
        "event": _amounts(inc.event),
        "totals": _amounts(inc.totals),
        "month": _amounts(inc.month),
        "hour": _amounts(inc.hour),
        "recent": inc.recent,
    }
    return [
        group,
        entry_id,
        str(dedupe_ttl_s),
        str(hour_ttl_s),
        "1" if terminal else "0",
        json.dumps({k: v for k, v in payload.items() if v}, separators=(",", ":")),
        str(recent_kept),
    ]
