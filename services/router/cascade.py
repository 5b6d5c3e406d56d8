"""The cascade: a request routed local whose local answer the model itself is unsure of goes to a strong tier.

The confidence is read from the local answer's token log-probabilities (Ollama's `logprobs`, or any
OpenAI-compatible engine's). Two statistics, routing.yaml learning.cascade.statistic:
- "mean" (the default): the mean token log-probability, i.e. the log of the geometric mean of the tokens'
  probabilities. It is length-normalised: the sum (the answer's log-likelihood) falls with every token and would
  escalate every long answer, whatever its quality. Studies of LM cascades (Gupta et al. 2024, "Language Model
  Cascades: Token-level uncertainty and beyond") find the length-normalised mean a sound baseline deferral rule.
- "quantile": a low quantile (learning.cascade.quantile, 0.1) of the token log-probabilities: a long answer that
  is fluent except for the few tokens that carry the fact (a name, a number, the letter of a choice) has a high
  mean and a low tail; the same study finds tail quantiles defer better on long answers.

The threshold is calibrated on the gateway's own local answers: once min_samples confidences are seen, it is the
escalate_share quantile of the last `window` ones, so that the least confident escalate_share of local answers
escalates whatever the model's log-probability scale (which differs between models and quantisations); before
that, learning.cascade.threshold. Framework-free: router.cascade_hook applies it in the LiteLLM proxy."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from router.config import CascadeConfig

CASCADE_META = "maximus_cascade"  # data["metadata"]: the armed cascade of this request (see Armed)
DRAFT_TAG = "cascade_draft"  # metadata maximus_internal of a local answer the cascade replaced: an attempt only
RECOMPUTE_EVERY = 20  # confidences between two recalibrations (a sort of the window)


@dataclass(frozen=True)
class Armed:
    """What the pre-call hook decided for a request the cascade may escalate (JSON-safe, in its metadata)."""

    strong_model: str  # the strong tier's group it escalates to (the classifier's kind, as an escalation would)
    strong_tier: str
    client_logprobs: bool  # the client asked for log-probabilities itself: they stay in its answer
    stream: bool

    def as_meta(self) -> dict[str, Any]:
        return {
            "state": "armed",
            "strong_model": self.strong_model,
            "strong_tier": self.strong_tier,
            "client_logprobs": self.client_logprobs,
            "stream": self.stream,
        }

    @classmethod
    def from_meta(cls, raw: Any) -> Armed | None:
        if not isinstance(raw, Mapping) or raw.get("state") != "armed":
            return None
        return cls(str(raw["strong_model"]), str(raw["strong_tier"]), bool(raw["client_logprobs"]), bool(raw["stream"]))


def confidence(logprobs: Sequence[float], config: CascadeConfig) -> float | None:
    """The answer's confidence from its token log-probabilities (None without any)."""
    values = [v for v in logprobs if isinstance(v, int | float) and math.isfinite(v)]
    if not values:
        return None
    if config.statistic == "mean":
        return sum(values) / len(values)
    ordered = sorted(values)
    return ordered[int(config.quantile * (len(ordered) - 1))]  # the lower quantile: an observed value


def token_logprobs(content: Iterable[Any] | None) -> list[float]:
    """The chosen tokens' log-probabilities from an OpenAI `logprobs.content` list (dicts or objects)."""
    out = []
    for entry in content or ():
        value = entry.get("logprob") if isinstance(entry, Mapping) else getattr(entry, "logprob", None)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out.append(float(value))
    return out


class CascadeThreshold:
    """The confidence threshold, calibrated on the recent local answers (see the module's docstring)."""

    def __init__(self, config: CascadeConfig) -> None:
        self.config = config
        self._recent: deque[float] = deque(maxlen=config.window)
        self._since = 0
        self.current = config.threshold

    @property
    def calibrated(self) -> bool:
        return len(self._recent) >= self.config.min_samples

    def observe(self, value: float) -> None:
        self._recent.append(value)
        self._since += 1
        if self.calibrated and (self._since >= RECOMPUTE_EVERY or len(self._recent) == self.config.min_samples):
            self._since = 0
            ordered = sorted(self._recent)
            self.current = ordered[min(len(ordered) - 1, int(self.config.escalate_share * len(ordered)))]
            # a confidence below it escalates: about escalate_share of answers like the recent ones

    def escalates(self, value: float) -> bool:
        """Judged against the threshold before this answer joins the calibration."""
        below = value < self.current
        self.observe(value)
        return below


def escalated_reason(value: float, threshold: float, calibrated: bool, strong_tier: str, tokens: int) -> str:
    how = "calibrated" if calibrated else "configured"
    return (
        f"cascade: local answer confidence {value:.2f} < {how} threshold {threshold:.2f} "
        f"({tokens} tokens): moved it to {strong_tier}"
    )


def kept_reason(value: float, threshold: float, tokens: int) -> str:
    return f"cascade: local answer confidence {value:.2f} >= threshold {threshold:.2f} ({tokens} tokens): kept local"


def strong_failed_reason(strong_tier: str, error: str) -> str:
    return f"cascade: {strong_tier} tier failed ({error}): the local answer kept"
