"""The sovereignty target: the threshold that turns need scores into decisions so that a target share of requests
stays on the machine.

- Offline (`maximus route calibrate`): from a sample of decisions, the threshold that keeps the target share local.
- Online (the live hook): the tracker's observed local share over its last answers (maximus:recent in Redis,
  read in the background) is what is steered; the gateway's own recent decisions say where the threshold must
  sit to move it. Every few decisions the threshold is recomputed as the one that would have given the wanted
  share over the gateway's window, bounded around the calibrated value. The wanted share is the target plus the
  gap between the gateway's own share and the tracker's: what the gateway does not see (fallbacks to or from the
  local tier, other gateway processes) is made up for. Without a tracker figure the target is wanted as it is.
  O(window) per update, no Redis round trip in the request path.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from router.config import OnlineConfig
from router.redis_reads import BackgroundRedisRead
from tracker.totals import recent_share  # no LiteLLM, no tracker service: just the key layout

LOWEST, HIGHEST = 0.01, 0.99


@dataclass(frozen=True)
class Outcome:
    """One decision as the controller sees it: scored by the need model (score is what decided), or forced."""

    score: float | None  # the need score when the threshold decided the tier, else None
    sovereign: bool  # the request stayed on the machine (local or vision)


def threshold_for(outcomes: Sequence[Outcome], target: float) -> float | None:
    """The threshold that keeps `target` of these requests sovereign: forced decisions count as they went; scored
    ones stay local below the threshold. None when no scored request is in the sample."""
    scored = sorted(o.score for o in outcomes if o.score is not None)
    if not scored:
        return None
    forced_sovereign = sum(1 for o in outcomes if o.score is None and o.sovereign)
    keep = math.ceil(target * len(outcomes) - 1e-9) - forced_sovereign  # scored requests that must stay local
    if keep <= 0:
        return LOWEST
    if keep >= len(scored):
        return HIGHEST
    low, high = scored[keep - 1], scored[keep]
    return min(HIGHEST, max(LOWEST, (low + high) / 2 if high > low else math.nextafter(high, 1.0)))


@dataclass(frozen=True)
class ObservedShare:
    """The tracker's local share over its last answers, and how many answers that is."""

    share: float | None
    answers: int


def _observed(flags: list[bytes | str] | None) -> ObservedShare:
    """An LRANGE of the tracker's list, read as the tracker reads it for its own gauge."""
    return ObservedShare(*recent_share(flags))


def tracker_share_reader(config: OnlineConfig, redis_url: str, timeout_s: float) -> BackgroundRedisRead:
    """The tracker's share over the last `window` answers, re-read in the background; no figure while its Redis
    does not answer (the controller then steers on the gateway's own decisions)."""
    timeouts = {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s, "retry_on_timeout": False}
    return BackgroundRedisRead(
        redis_url,
        config.tracker_refresh_s,
        timeouts,
        lambda client: client.lrange(config.tracker_key, 0, config.window - 1),
        _observed,
        ObservedShare(None, 0),
    )


class ThresholdController:
    """The hook's live threshold: the calibrated one until the window fills, then the one that would have met the
    wanted share over the window, within calibrated +- max_shift."""

    def __init__(self, calibrated: float, target: float, config: OnlineConfig) -> None:
        self.calibrated = calibrated
        self.target = target
        self.config = config
        self.low = max(LOWEST, calibrated - config.max_shift)
        self.high = min(HIGHEST, calibrated + config.max_shift)
        self._window: deque[Outcome] = deque(maxlen=config.window)
        self._since_update = 0
        self.current = calibrated
        self.observed = ObservedShare(None, 0)

    def follow(self, observed: ObservedShare) -> None:
        """The tracker's latest figure, used at the next recompute when it covers at least min_decisions answers."""
        self.observed = observed

    def wanted_share(self) -> float:
        """The share of its own decisions the gateway aims at: the target, corrected by the tracker's gap."""
        own = self.local_share()
        seen = self.observed
        if own is None or seen.share is None or seen.answers < self.config.min_decisions:
            return self.target
        return min(1.0, max(0.0, self.target + own - seen.share))

    def local_share(self) -> float | None:
        """The sovereign share over the window (None while empty)."""
        if not self._window:
            return None
        return sum(o.sovereign for o in self._window) / len(self._window)

    def observe(self, outcome: Outcome) -> None:
        if not self.config.enabled:
            return
        self._window.append(outcome)
        self._since_update += 1
        if len(self._window) >= self.config.min_decisions and self._since_update >= self.config.recompute_every:
            self._since_update = 0
            wanted = threshold_for(self._window, self.wanted_share())
            if wanted is not None:
                self.current = min(self.high, max(self.low, wanted))


_THRESHOLD_LINE = re.compile(r"^(?P<head>\s+threshold:\s*)(?P<value>[0-9.eE+-]+)(?P<tail>.*)$", re.M)


def write_threshold(config_path: Path, threshold: float) -> None:
    """Set need.threshold in routing.yaml in place, keeping every comment and other line as it is."""
    text = config_path.read_text(encoding="utf-8")
    start = re.search(r"^need:\s*$", text, re.M)
    if start is None:
        text = text.rstrip("\n") + f"\nneed:\n  threshold: {threshold:.4f}\n"
    else:
        match = _THRESHOLD_LINE.search(text, start.end())
        next_section = re.search(r"^\S", text[start.end() :], re.M)
        end = start.end() + next_section.start() if next_section else len(text)
        if match is None or match.start() > end:
            text = text[: start.end()] + f"\n  threshold: {threshold:.4f}" + text[start.end() :]
        else:
            text = text[: match.start("value")] + f"{threshold:.4f}" + text[match.end("value") :]
    config_path.write_text(text, encoding="utf-8")
