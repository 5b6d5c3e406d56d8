"""The decision order and each rule: explicit choice, privacy, vision, budget, health, context fit, need score
against the threshold (local by default), classifier for which strong tier."""

from __future__ import annotations

import dataclasses

import pytest

from router.budget import BudgetStatus, evaluate
from router.config import BudgetConfig, load_config
from router.health import TierHealth
from router.keywords import KeywordRules
from router.policy import RoutingPolicy
from tests.router import fakes
from tests.router.fakes import HARD_PROMPT, HARD_WRITING, ask, request, user

IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
REMOTE_IMAGE = {"type": "image_url", "image_url": {"url": "https://img.example.net/cat.png"}}
CODE_PROMPT = "Write a Python function that parses a CSV file and computes per-column averages, with tests."
EXCEEDED = BudgetStatus("exceeded", 120.0, 100.0)


def test_keywords_match_whole_words_only(config) -> None:
    rules = KeywordRules(config.keywords)
    assert rules.matches("Is this a chatbot?") == {}
    assert rules.matches("hi there") == {"local": 1}
    assert "power" in rules.matches("the stack trace says KeyError")
    assert "power" in rules.matches("write it in c++")


def test_max_auto_reaches_each_tier(policy: RoutingPolicy) -> None:
    assert policy.decide(ask("hello!")).tier == "local"
    assert policy.decide(ask(HARD_PROMPT)).tier == "power"
    assert policy.decide(ask(HARD_WRITING)).tier == "creative"
    assert policy.decide(request(user([{"type": "text", "text": "what is this?"}, IMAGE]))).tier == "vision"


def test_topic_alone_no_longer_escalates(policy: RoutingPolicy) -> None:
    """Everyday code and writing stay local: the local model answers them well enough."""
    for text in (CODE_PROMPT, "Write a short poem about the first snow of winter."):
        decision = policy.decide(ask(text))
        assert decision.tier == "local", decision.reasons
        assert decision.score is not None and decision.score < policy.config.need.threshold


def test_the_threshold_turns_the_score_into_the_decision(policy: RoutingPolicy) -> None:
    score = policy.decide(ask(CODE_PROMPT)).score
    lowered = policy.decide(ask(CODE_PROMPT), threshold=score)
    assert lowered.tier == "power"
    assert any("but escalated" in r and "over the sovereignty target" in r for r in lowered.reasons), lowered.reasons
    assert policy.decide(ask(CODE_PROMPT), threshold=min(1.0, score + 0.01)).tier == "local"
    hard = policy.decide(ask(HARD_PROMPT), threshold=1.0)
    assert hard.tier == "local"
    assert any("but kept local" in r and "sovereignty target" in r for r in hard.reasons), hard.reasons


def test_every_decision_carries_the_score(policy: RoutingPolicy) -> None:
    forced = [
        policy.decide(ask(HARD_PROMPT), headers={"x-maximus-tier": "local"}),
        policy.decide(ask(f"{HARD_PROMPT} token {fakes.GITHUB_TOKEN}")),
        policy.decide(ask(HARD_PROMPT), budget=EXCEEDED),
    ]
    scored = policy.decide(ask(HARD_PROMPT)).score
    assert scored is not None and scored > 0.5
    assert forced[0].score == scored and forced[2].score == scored
    assert forced[1].score is not None
    assert policy.decide(request(user([IMAGE]))).score is None  # no text to score
    assert policy.decide({"model": "max-auto", "messages": []}).as_output()["score"] is None


def test_decision_models_come_from_config(policy: RoutingPolicy) -> None:
    assert policy.decide(ask("hello!")).model == "max-buddy"
    assert policy.decide(ask(HARD_PROMPT)).model == "max-genius"
    assert policy.decide(ask(HARD_WRITING)).model == "max-opus"


def test_header_tier_is_honoured(policy: RoutingPolicy) -> None:
    decision = policy.decide(ask("hello!"), headers={"X-Maximus-Tier": "creative"})
    assert (decision.tier, decision.model, decision.explicit) == ("creative", "max-opus", True)


def test_metadata_tier_is_honoured(policy: RoutingPolicy) -> None:
    decision = policy.decide(ask("hello!", metadata={"tier": "power"}))
    assert decision.tier == "power"


def test_unknown_explicit_tier_is_ignored_with_a_reason(policy: RoutingPolicy) -> None:
    decision = policy.decide(ask("hello!"), headers={"x-maximus-tier": "turbo"})
    assert decision.tier == "local"
    assert any("unknown" in r for r in decision.reasons)


def test_explicit_model_is_honoured(policy: RoutingPolicy) -> None:
    decision = policy.decide(ask("hello!", model="max-genius"))
    assert (decision.tier, decision.model) == ("power", "max-genius")


def test_privacy_outranks_the_classifier(policy: RoutingPolicy) -> None:
    decision = policy.decide(ask(f"Refactor this client, it uses {fakes.GITHUB_TOKEN}"))
    assert decision.tier == "local" and decision.pinned_local
    assert decision.model == "max-planner"  # a technical task pinned local goes to the local reasoning model
    assert decision.privacy_kinds == ("secret",)


def test_privacy_redirects_an_explicit_cloud_model(policy: RoutingPolicy) -> None:
    decision = policy.decide(ask(f"card {fakes.VISA_TEST_CARD}", model="max-genius"))
    assert decision.tier == "local" and decision.pinned_local and not decision.refused
    assert decision.model in ("max-buddy", "max-planner")


def test_privacy_keeps_an_explicit_local_model(policy: RoutingPolicy) -> None:
    decision = policy.decide(ask(f"card {fakes.VISA_TEST_CARD}", model="max-planner"))
    assert decision.model == "max-planner" and decision.pinned_local


def test_privacy_refuses_when_configured(config) -> None:
    refusing = RoutingPolicy(dataclasses.replace(config, privacy=dataclasses.replace(config.privacy, action="refuse")))
    decision = refusing.decide(ask(f"token {fakes.GITHUB_TOKEN}", model="max-opus"))
    assert decision.refused and decision.pinned_local
    assert not refusing.decide(ask(f"token {fakes.GITHUB_TOKEN}")).refused  # max-auto is still redirected


def test_private_request_with_an_image_goes_to_the_sovereign_vision_tier(policy: RoutingPolicy) -> None:
    decision = policy.decide(request(user([{"type": "text", "text": f"key {fakes.AWS_KEY_ID}"}, IMAGE])))
    assert decision.tier == "vision" and decision.pinned_local


def test_private_request_ignores_budget_and_health(policy: RoutingPolicy) -> None:
    decision = policy.decide(
        ask(f"token {fakes.GITHUB_TOKEN}"), budget=EXCEEDED, health=TierHealth({"power": "cooling down"})
    )
    assert decision.tier == "local" and decision.pinned_local


def test_remote_image_url_never_goes_to_an_explicit_cloud_model(policy: RoutingPolicy) -> None:
    decision = policy.decide(request(user([{"type": "text", "text": "describe"}, REMOTE_IMAGE]), model="max-opus"))
    assert decision.tier == "vision"


def test_vision_tier_down_skips_to_local(policy: RoutingPolicy) -> None:
    decision = policy.decide(
        request(user([{"type": "text", "text": "what is this?"}, IMAGE])), health=TierHealth({"vision": "cooling down"})
    )
    assert decision.tier == "local"


def test_budget_exceeded_sends_cloud_work_local_with_a_reason(policy: RoutingPolicy) -> None:
    decision = policy.decide(ask(HARD_PROMPT), budget=EXCEEDED)
    assert decision.tier == "local" and not decision.refused
    assert any("budget" in r for r in decision.reasons)


def test_budget_exceeded_also_applies_to_explicit_cloud_models(policy: RoutingPolicy) -> None:
    assert policy.decide(ask(CODE_PROMPT, model="max-genius"), budget=EXCEEDED).tier == "local"


def test_budget_warning_from_80_percent(policy: RoutingPolicy) -> None:
    config = BudgetConfig(monthly_usd=100.0, warn_ratio=0.8)
    assert evaluate(config, 79.0).state == "ok"
    assert evaluate(config, 80.0).state == "warning"
    assert evaluate(config, 100.0).state == "exceeded"
    assert evaluate(config, None).state == "unknown"
    assert evaluate(BudgetConfig(monthly_usd=0), 1e9).state == "uncapped"
    decision = policy.decide(ask(HARD_PROMPT), budget=evaluate(config, 85.0))
    assert decision.tier == "power"
    assert any("budget warning" in r for r in decision.reasons)


def test_unknown_spend_does_not_block(policy: RoutingPolicy) -> None:
    decision = policy.decide(ask(HARD_PROMPT), budget=BudgetStatus("unknown", None, 100.0))
    assert decision.tier == "power"


def test_spend_older_than_the_limit_fails_closed(policy: RoutingPolicy) -> None:
    config = BudgetConfig(monthly_usd=100.0, max_staleness_s=60.0)
    for budget in (evaluate(config, None, age_s=61.0), evaluate(config, 10.0, age_s=61.0)):
        for body in (ask(HARD_PROMPT), ask(HARD_PROMPT, model="max-genius")):
            decision = policy.decide(body, budget=budget)
            assert decision.tier == "local", budget
            assert any("non-local tiers disabled" in r for r in decision.reasons)
    assert policy.decide(ask(HARD_PROMPT), budget=evaluate(config, 10.0, age_s=59.0)).tier == "power"


def test_explicit_model_of_a_down_tier_is_skipped_before_it_is_tried(policy: RoutingPolicy) -> None:
    decision = policy.decide(ask("hello", model="max-genius"), health=TierHealth({"power": "cooling down"}))
    assert (decision.tier, decision.model) == ("local", "max-buddy")
    assert any("power cooling down, skipped to local" in r for r in decision.reasons)
    assert policy.decide(ask("hello", model="max-genius")).model == "max-genius"


def test_down_tier_is_skipped_to_local(policy: RoutingPolicy) -> None:
    decision = policy.decide(ask(HARD_PROMPT), health=TierHealth({"power": "cooling down"}))
    assert decision.tier == "local" and decision.model == "max-planner"
    assert any("cooling down" in r for r in decision.reasons)


def test_context_too_long_for_local_goes_to_power(policy: RoutingPolicy) -> None:
    long_text = "Summarize the following meeting notes in three sentences.\n" + "we talked about it. " * 2500
    decision = policy.decide(ask(long_text))
    assert decision.tier == "power"
    assert any("context" in r for r in decision.reasons)


def test_context_too_long_but_private_stays_local(policy: RoutingPolicy) -> None:
    long_text = "Confidential. Summarize these notes.\n" + "we talked about it. " * 2500
    assert policy.decide(ask(long_text)).tier == "local"


def test_context_too_long_with_power_down_stays_local(policy: RoutingPolicy) -> None:
    long_text = "Summarize these notes.\n" + "we talked about it. " * 2500
    decision = policy.decide(ask(long_text), health=TierHealth({"power": "not configured"}))
    assert decision.tier == "local"


def test_a_high_output_ceiling_does_not_push_a_short_question_out(policy: RoutingPolicy) -> None:
    """Claude Code asks max_tokens 32000 on every request, past the 8192-token local window: a ceiling on the
    answer, so only context.max_reserve_output_tokens of it is kept free."""
    decision = policy.decide(ask("say hello in four words", max_tokens=32000))
    assert decision.tier == "local", decision.reasons
    assert not any("context" in r for r in decision.reasons)


def test_the_capped_reserve_still_counts_against_a_long_prompt(policy: RoutingPolicy) -> None:
    window = policy.config.tiers["local"].context_window
    reserve = policy.config.context.max_reserve_output_tokens
    fills = "we talked about it. " * int((window - reserve // 2) * policy.config.context.chars_per_token / 20)
    assert policy.decide(ask("Summarize these notes.\n" + fills, max_tokens=64)).tier == "local"
    decision = policy.decide(ask("Summarize these notes.\n" + fills, max_tokens=32000))
    assert decision.tier == "power" and any("context" in r for r in decision.reasons)


def test_default_local_without_a_need_model(config) -> None:
    missing = dataclasses.replace(
        config, need=dataclasses.replace(config.need, model_file=config.need.model_file.with_name("absent.json"))
    )
    decision = RoutingPolicy(missing).decide(ask(HARD_PROMPT))
    assert decision.tier == "local"
    assert decision.reasons == ["default: local"]
    assert decision.score is None


def test_escalation_goes_to_power_without_a_classifier(config) -> None:
    missing = dataclasses.replace(
        config,
        classifier=dataclasses.replace(
            config.classifier, model_file=config.classifier.model_file.with_name("absent.json")
        ),
    )
    assert RoutingPolicy(missing).decide(ask(HARD_WRITING)).tier == "power"


def test_empty_conversation_defaults_local(policy: RoutingPolicy) -> None:
    assert policy.decide({"model": "max-auto", "messages": []}).tier == "local"


def test_reasons_and_metadata_never_hold_matched_text(policy: RoutingPolicy) -> None:
    decision = policy.decide(ask(f"use {fakes.STRIPE_KEY} with phone {fakes.PHONE_INTL}"))
    flat = repr(decision.metadata()) + decision.header_reason()
    assert fakes.STRIPE_KEY not in flat and "7946" not in flat
    assert decision.metadata()["maximus_privacy_kinds"] == ["phone", "secret"]


@pytest.mark.parametrize(
    ("body", "codes"),
    [
        (ask("hello!"), ["default"]),
        (ask(CODE_PROMPT), ["default"]),
        (ask(HARD_PROMPT), ["analysis"]),
        (ask(HARD_WRITING), ["creative"]),
        (ask(f"token {fakes.GITHUB_TOKEN}", model="max-genius"), ["explicit", "privacy"]),
        (request(user([{"type": "text", "text": "what is this?"}, IMAGE])), ["vision"]),
    ],
)
def test_reason_codes_are_bounded_for_the_tracker(policy: RoutingPolicy, body, codes) -> None:
    assert policy.decide(body).metadata()["maximus_route_reasons"] == codes


def test_budget_and_fallback_codes(policy: RoutingPolicy) -> None:
    decision = policy.decide(ask(HARD_PROMPT), budget=EXCEEDED)
    assert decision.reason_codes() == ["budget", "analysis", "fallback"]


def test_config_rejects_a_bad_privacy_action(tmp_path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text("privacy: {action: shout}\n")
    with pytest.raises(ValueError, match=r"privacy\.action"):
        load_config(path)


def test_missing_config_file_uses_defaults(tmp_path) -> None:
    config = load_config(tmp_path / "absent.yaml")
    assert config.tiers["local"].model == "max-buddy" and config.privacy.action == "redirect"
