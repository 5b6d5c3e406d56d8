"""The routing decision: which tier and model group answer, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Short, bounded labels for the tracker (its route_reasons / privacy_kinds vocabularies in tracker.yaml).
_PERSONAL_LABELS = {
    "payment_card": "payment_card",
    "iban": "iban",
    "national_id": "national_id",
    "passport": "passport",
    "phone_number": "phone",
    "personal_email": "email",
    "health_detail": "health",
    "explicit_marker": "explicit",
    "too_large_to_scan": "other",
}


def reason_code(reason: str) -> str:
    """The bounded code of one human-readable reason."""
    head = reason.split(":", 1)[0]
    if reason.startswith("need: "):
        # the need line of a local decision is the default; an escalation's code comes from its classifier line
        return "" if "escalated" in reason else "default"
    if reason.startswith("adapter: "):
        # only a decision the adapter moved counts under its code; "same tier" lines are detail
        return "adapter" if "moved it" in reason else ""
    if reason.startswith("cascade: "):
        # router.cascade: an escalation moved it; a strong tier that failed left the local answer (a fallback)
        return "cascade" if "moved it" in reason else ("fallback" if "local answer kept" in reason else "")
    if reason.startswith("classifier: "):
        tier = reason.removeprefix("classifier: ").split(" ", 1)[0]
        if tier == "power":
            keywords = reason.partition("keywords: ")[2]
            return "code" if "power" in keywords else "analysis"
        return {"creative": "creative", "local": "chat"}.get(tier, "other")
    if "skipped to" in reason or head.endswith("kept local") or reason.startswith(("health", "power tier")):
        return "fallback"
    for prefix, code in (
        ("explicit", "explicit"),
        ("privacy", "privacy"),
        ("refused", "privacy"),
        ("vision", "vision"),
        ("budget", "budget"),
        ("context", "context"),
        ("capability", "capability"),
        ("default", "default"),
        ("embeddings", "embedding"),
    ):
        if reason.startswith(prefix):
            return code
    return "other"


def privacy_label(detector: str) -> str:
    return _PERSONAL_LABELS.get(detector, "secret")


@dataclass
class Decision:
    tier: str
    model: str
    reasons: list[str] = field(default_factory=list)
    pinned_local: bool = False  # privacy hit: sovereign tiers only, fallbacks disabled
    refused: bool = False  # privacy hit with privacy.action = refuse and a non-sovereign explicit model
    explicit: bool = False  # the client chose the model or tier
    privacy_kinds: tuple[str, ...] = ()
    privacy_detectors: tuple[str, ...] = ()
    budget_state: str = "unknown"  # ok | warning | exceeded | unknown | uncapped
    scores: dict[str, float] = field(default_factory=dict)
    score: float | None = None  # the need model's score (router.need); None when there is no text to score
    scored: bool = False  # the score and the threshold decided the tier (no forced rule did)
    unservable: str | None = None  # no local model has the capabilities needed: the 400's message (capability_step)

    def as_output(self) -> dict[str, Any]:
        """The `maximus route` line."""
        return {"tier": self.tier, "model": self.model, "reasons": list(self.reasons), "score": self.score}

    def metadata(self) -> dict[str, Any]:
        """What the LiteLLM hook puts in data["metadata"] (reaches the tracker's callbacks)."""
        return {
            "maximus_tier": self.tier,
            "maximus_model": self.model,
            "maximus_route_reasons": self.reason_codes(),
            "maximus_route_detail": list(self.reasons),
            "maximus_pinned_local": self.pinned_local,
            "maximus_privacy_kinds": self.privacy_labels(),
            "maximus_explicit": self.explicit,
            "maximus_budget_state": self.budget_state,
            "maximus_route_score": self.score,
        }

    def reason_codes(self) -> list[str]:
        return [code for code in dict.fromkeys(reason_code(r) for r in self.reasons) if code]

    def privacy_labels(self) -> list[str]:
        return sorted({privacy_label(d) for d in self.privacy_detectors})

    def header_reason(self, limit: int = 300) -> str:
        """The reasons as one header value: printable ASCII, no matched text (reasons never hold any)."""
        joined = "; ".join(self.reasons)
        cleaned = "".join(c if 32 <= ord(c) < 127 else "?" for c in joined)
        return cleaned[:limit]
