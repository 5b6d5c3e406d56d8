"""The routing policy. Decision order, each step recording its reasons:
explicit client choice → privacy guard → vision content → budget guard → context fit → need score against the
threshold (local unless the local answer is likely to fall short) → which strong tier (classifier) → tier health.
No LiteLLM import: the live hook and `maximus route` share this code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from router import capability_step, context_fit, vision
from router.adapter import Adapter
from router.budget import BudgetStatus, evaluate
from router.capabilities import LocalModels
from router.classifier import TierClassifier, TierScores
from router.config import TIERS, RoutingConfig, cached_config
from router.decision import Decision
from router.features import words_of
from router.health import ALL_UP, TierHealth
from router.keywords import KeywordRules
from router.need import NeedModel
from router.need_features import features
from router.privacy import PrivacyFinding, PrivacyGuard
from router.request_view import RequestView, view_of

CLOUD_CANDIDATES = ("power", "creative")


@dataclass(frozen=True)
class NeedEstimate:
    score: float  # what decides: the adapted score with an accepted adapter, else the shipped one
    shipped: float  # the shipped need model's score


@dataclass(frozen=True)
class Explicit:
    tier: str | None  # None: a model outside every tier (treated as non-sovereign)
    model: str
    source: str  # header | metadata | model


class RoutingPolicy:
    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self.guard = PrivacyGuard(config.privacy)
        self.keywords = KeywordRules(config.keywords)
        path = config.classifier.model_file
        self.classifier = TierClassifier.load(path) if path.is_file() else None
        self.need = NeedModel.load(config.need.model_file) if config.need.model_file.is_file() else None
        # The in-domain adapter (router.adapter), swapped in whole by the hook's background reader; used only when
        # its guard accepted it.
        self.adapter: Adapter | None = None

    # -- helpers -------------------------------------------------------------------------------------------
    def _model(self, tier: str, reasoning: bool = False) -> str:
        models = self.config.tiers[tier].models
        return models.get("reasoning", models["chat"]) if reasoning else models["chat"]

    def _sovereign(self, tier: str | None) -> bool:
        return tier is not None and self.config.tiers[tier].sovereign

    def _explicit(self, view: RequestView, headers: Mapping[str, str], reasons: list[str]) -> Explicit | None:
        request = view.body
        metadata = request.get("metadata") if isinstance(request.get("metadata"), dict) else {}
        for source, value in (
            ("header", headers.get(self.config.explicit_header)),
            ("metadata", metadata.get(self.config.explicit_metadata_key)),
        ):
            if isinstance(value, str) and value.strip():
                tier = value.strip().lower()
                if tier in TIERS:
                    return Explicit(tier, self._model(tier), source)
                reasons.append(f"explicit tier '{tier[:20]}' unknown, ignored")
        model = view.model
        if model and model != self.config.virtual_model and not self.is_alias(view):
            return Explicit(self.config.tier_of_model(model), model, "model")
        return None

    def is_alias(self, view: RequestView) -> bool:
        """A client's default model name (routing.yaml shapes.aliases) that names no group: routed as max-auto."""
        model = view.model
        return (
            bool(model) and self.config.tier_of_model(model) is None and self.config.shapes.is_alias(view.shape, model)
        )

    def classify(self, text: str) -> TierScores | None:
        return self.classify_with_keywords(text)[0]

    def classify_with_keywords(self, text: str) -> tuple[TierScores | None, dict[str, int]]:
        """Classifier scores (None without a model or text) and the keyword rules that matched."""
        if self.classifier is None or not text.strip():
            return None, {}
        weight = self.config.classifier.keyword_weight
        words = words_of(text)
        matched = self.keywords.matches(text, words)
        boosts = {tier: weight * n for tier, n in matched.items()}
        return self.classifier.scores(text, boosts, words), matched

    def _pick(self, scores: TierScores) -> str:
        probs = scores.probabilities
        best = max(CLOUD_CANDIDATES, key=lambda t: probs.get(t, 0.0))
        if probs.get(best, 0.0) - probs.get("local", 0.0) > self.config.classifier.local_margin:
            return best
        return "local"

    def need_score(self, request: dict[str, Any], text: str) -> float | None:
        """The need score of the latest user turn, the adapter's when one is in use (None without a model or text)."""
        estimate = self.need_estimate(request, text)
        return None if estimate is None else estimate.score

    def need_estimate(self, request: dict[str, Any], text: str, turns: int | None = None) -> NeedEstimate | None:
        """The shipped need model's score and, with an accepted adapter, the adapted one (`turns`: the user turns,
        read from the request when not given)."""
        if self.need is None or not text.strip():
            return None
        turns = view_of(request).user_turns if turns is None else turns
        gain = self.need.gain_of(features(text, max(1, turns)))
        shipped = round(self.need.probability(gain), 4)
        adapter = self.active_adapter
        if adapter is None:
            return NeedEstimate(shipped, shipped)
        return NeedEstimate(round(self.need.probability(gain + adapter.text_delta(text)), 4), shipped)

    @property
    def active_adapter(self) -> Adapter | None:
        adapter = self.adapter
        return adapter if adapter is not None and adapter.accepted else None

    @property
    def calibrated_threshold(self) -> float:
        """need.threshold, or the adapter's own, calibrated to sovereignty_target on adapted scores."""
        adapter = self.active_adapter
        return self.config.need.threshold if adapter is None else adapter.threshold

    @staticmethod
    def _strong_kind(scores: TierScores | None) -> str:
        """Which strong tier an escalated request goes to: power or creative, by the classifier's kind."""
        if scores is None:
            return "power"
        return max(CLOUD_CANDIDATES, key=lambda t: scores.probabilities.get(t, 0.0))

    # -- the decision --------------------------------------------------------------------------------------
    def decide(
        self,
        request: dict[str, Any],
        headers: Mapping[str, str] | None = None,
        budget: BudgetStatus | None = None,
        health: TierHealth = ALL_UP,
        threshold: float | None = None,
        view: RequestView | None = None,
        local: LocalModels | None = None,
    ) -> Decision:
        """`threshold`: the live one of the hook's controller (router.sovereignty); else need.threshold. `view`: the
        request already parsed (router.request_view), else it is parsed here. `local`: the local models'
        capabilities (router.capabilities); None: unknown, nothing is filtered on them."""
        view = view_of(request) if view is None else view
        budget = budget or evaluate(self.config.budget, None)
        decision = self._decide(view, headers, budget, health, threshold)
        decision = capability_step.apply(self, decision, view, local, budget, health)
        if decision.score is None:
            estimate = self.need_estimate(request, view.prompt, view.user_turns)
            decision.score = None if estimate is None else estimate.score
        return decision

    def _decide(
        self,
        view: RequestView,
        headers: Mapping[str, str] | None,
        budget: BudgetStatus | None,
        health: TierHealth,
        threshold: float | None,
    ) -> Decision:
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        budget = budget or evaluate(self.config.budget, None)
        reasons: list[str] = []
        explicit = self._explicit(view, headers, reasons)
        if explicit:
            reasons.append(f"explicit {explicit.source}: {explicit.model}")
        text = view.prompt

        privacy = self.guard.scan(view.body)
        media = vision.detect_view(view)
        if privacy.hit:
            return self._private(text, explicit, privacy, media, budget, reasons)
        if media.hit and explicit and not self._sovereign(explicit.tier) and media.remote:
            reasons.append("vision: remote image URL never handed to a non-local tier")
            return Decision("vision", self._model("vision"), reasons, explicit=True, budget_state=budget.state)

        if budget.reason():
            reasons.append(budget.reason())
        if explicit:
            if budget.blocks_cloud and not self._sovereign(explicit.tier):
                reasons.append("budget cap: explicit non-local choice sent local")
                return Decision("local", self._model("local"), reasons, explicit=True, budget_state=budget.state)
            if explicit.tier and not self._sovereign(explicit.tier) and health.is_down(explicit.tier):
                # Known down: skipped before it is tried (its failure would only delay the fallback).
                skip = self.config.health.skip_to
                reasons.append(f"health: {explicit.tier} {health.down[explicit.tier]}, skipped to {skip}")
                return Decision(skip, self._model(skip), reasons, explicit=True, budget_state=budget.state)
            return Decision(explicit.tier or "power", explicit.model, reasons, explicit=True, budget_state=budget.state)

        if media.hit:
            return self._vision(media.kinds, health, budget, reasons)
        return self._auto(view, text, budget, health, reasons, threshold)

    def _private(
        self,
        text: str,
        explicit: Explicit | None,
        privacy: PrivacyFinding,
        media: vision.VisionFinding,
        budget: BudgetStatus,
        reasons: list[str],
    ) -> Decision:
        kinds, detectors = privacy.kinds, privacy.detectors
        reasons.append(f"privacy: {', '.join(kinds)} ({', '.join(detectors)}) kept local, fallbacks disabled")
        common = {
            "pinned_local": True,
            "privacy_kinds": kinds,
            "privacy_detectors": detectors,
            "budget_state": budget.state,
        }
        if explicit and self._sovereign(explicit.tier):
            return Decision(explicit.tier, explicit.model, reasons, explicit=True, **common)
        if explicit and self.config.privacy.action == "refuse":
            reasons.append(f"refused: {explicit.model} is not a local model")
            return Decision("local", explicit.model, reasons, explicit=True, refused=True, **common)
        if explicit:
            reasons.append(f"explicit {explicit.model} redirected to a local model")
        if media.hit:
            return Decision("vision", self._model("vision"), reasons, explicit=bool(explicit), **common)
        scores = self.classify(text)
        reasoning = scores is not None and self._pick(scores) == "power"
        return Decision("local", self._model("local", reasoning), reasons, explicit=bool(explicit), **common)

    def _vision(self, kinds: tuple[str, ...], health: TierHealth, budget: BudgetStatus, reasons: list[str]) -> Decision:
        if health.is_down("vision"):
            skip = self.config.health.skip_to
            reasons.append(f"health: vision {health.down['vision']}, skipped to {skip}")
            return Decision(skip, self._model(skip), reasons, budget_state=budget.state)
        reasons.append(f"vision: {', '.join(kinds)} content")
        return Decision("vision", self._model("vision"), reasons, budget_state=budget.state)

    def _unavailable(self, tier: str, budget: BudgetStatus, health: TierHealth) -> str | None:
        if self._sovereign(tier):
            return None
        if budget.blocks_cloud:
            return budget.block_label
        if health.is_down(tier):
            return health.down[tier]
        return None

    def _auto(
        self,
        view: RequestView,
        text: str,
        budget: BudgetStatus,
        health: TierHealth,
        reasons: list[str],
        threshold: float | None,
    ) -> Decision:
        fit = context_fit.check_view(view, self.config)
        if not fit.fits:
            why = self._unavailable("power", budget, health)
            reasons.append(f"context: ~{fit.estimated_tokens} tokens exceed the local window of {fit.window}")
            if why is None:
                return Decision("power", self._model("power"), reasons, budget_state=budget.state)
            reasons.append(f"power tier {why}: kept local")
            return Decision("local", self._model("local", True), reasons, budget_state=budget.state)
        estimate = self.need_estimate(view.body, text, view.user_turns)
        if estimate is None:
            reasons.append("default: local")
            return Decision("local", self._model("local"), reasons, budget_state=budget.state)
        score = estimate.score
        common = {"budget_state": budget.state, "score": score, "scored": True}
        escalates = self._escalates(score, threshold, reasons)
        if self.active_adapter is not None:
            reasons.append(self._adapter_reason(estimate, escalates))
        if not escalates:
            return Decision("local", self._model("local"), reasons, **common)
        # Only an escalated request needs its kind: most stay local and skip the classifier (~0.3 ms).
        scores, matched = self.classify_with_keywords(text)
        kind = self._strong_kind(scores)
        if scores is not None:
            common["scores"] = {t: round(p, 3) for t, p in scores.probabilities.items()}
        reasons.append(
            f"classifier: {kind} ({scores.probabilities[kind]:.2f})" if scores is not None else f"classifier: {kind}"
        )
        if matched:
            reasons[-1] += f", keywords: {', '.join(sorted(matched))}"
        why = self._unavailable(kind, budget, health)
        if why is not None:
            skip = self.config.health.skip_to if not budget.blocks_cloud else "local"
            reasons.append(f"{kind} tier {why}: skipped to {skip}")
            common["scored"] = False  # a forced outcome for the sovereignty controller
            return Decision(skip, self._model(skip, kind == "power"), reasons, **common)
        return Decision(kind, self._model(kind), reasons, **common)

    def _adapter_reason(self, estimate: NeedEstimate, escalates: bool) -> str:
        """Whether the adapter moved the decision: the shipped score against need.threshold would have gone
        the other way."""
        adapter = self.active_adapter
        assert adapter is not None
        shipped_escalates = estimate.shipped >= self.config.need.threshold
        guard = adapter.guard
        detail = (
            f"adapter: need score {estimate.shipped:.2f} -> {estimate.score:.2f} ({adapter.labels} labels; held-back "
            f"labels ranked {guard.get('adapted_apgr')} against the shipped model's {guard.get('shipped_apgr')})"
        )
        if shipped_escalates == escalates:
            return detail + ": same tier as the shipped model"
        return detail + (": moved it to a strong tier" if escalates else ": moved it local")

    def _escalates(self, score: float, threshold: float | None, reasons: list[str]) -> bool:
        calibrated = self.calibrated_threshold
        live = calibrated if threshold is None else threshold
        target = f"sovereignty target {self.config.sovereignty_target:.0%}"
        if score >= live:
            if score < calibrated:
                reasons.append(
                    f"need: score {score:.2f} < calibrated threshold {calibrated:.2f} but escalated: the live local "
                    f"share is over the {target}, so the threshold is {live:.2f}"
                )
            else:
                reasons.append(f"need: score {score:.2f} >= threshold {live:.2f} ({target}): escalated")
            return True
        if score >= calibrated:
            reasons.append(
                f"need: score {score:.2f} >= calibrated threshold {calibrated:.2f} but kept local: the live local "
                f"share is under the {target}, so the threshold is {live:.2f}"
            )
        else:
            reasons.append(f"need: score {score:.2f} < threshold {live:.2f} ({target}): local")
        return False


_DEFAULT: RoutingPolicy | None = None


def default_policy() -> RoutingPolicy:
    """The policy built from the default routing.yaml (one per process)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = RoutingPolicy(cached_config())
    return _DEFAULT
