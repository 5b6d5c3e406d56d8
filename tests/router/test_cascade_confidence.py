"""The cascade's confidence and its calibrated threshold (router.cascade), without the proxy."""

from __future__ import annotations

import dataclasses
import random

import pytest

from router.cascade import Armed, CascadeThreshold, confidence, token_logprobs
from router.config import CascadeConfig, parse_config
from router.decision import reason_code

MEAN = CascadeConfig()
TAIL = dataclasses.replace(MEAN, statistic="quantile", quantile=0.1)


def test_the_mean_is_length_normalised() -> None:
    """Ten confident tokens and a hundred: the same confidence (a sum would escalate every long answer)."""
    assert confidence([-0.1] * 10, MEAN) == pytest.approx(confidence([-0.1] * 100, MEAN))


def test_a_low_quantile_catches_the_one_unsure_token_the_mean_hides() -> None:
    tokens = [-0.01] * 18 + [-6.0] * 2
    assert confidence(tokens, MEAN) > -0.7
    assert confidence(tokens, TAIL) < -0.7


def test_no_log_probabilities_no_confidence() -> None:
    assert confidence([], MEAN) is None
    assert confidence([float("nan")], MEAN) is None
    assert token_logprobs(None) == []
    assert token_logprobs([{"token": "a", "logprob": -0.5}, {"token": "b"}]) == [-0.5]


def test_the_configured_threshold_until_min_samples_then_the_escalate_share() -> None:
    config = dataclasses.replace(MEAN, threshold=-0.7, escalate_share=0.1, min_samples=50, window=200)
    threshold = CascadeThreshold(config)
    rng = random.Random(7)
    scale = 5.0  # a model whose log-probabilities sit far below the configured threshold
    for _ in range(49):
        threshold.observe(-scale * rng.random())
    assert not threshold.calibrated and threshold.current == -0.7
    threshold.observe(-scale * rng.random())
    assert threshold.calibrated
    escalated = sum(threshold.escalates(-scale * rng.random()) for _ in range(400)) / 400
    assert 0.06 <= escalated <= 0.14  # the least confident tenth, whatever the model's scale


def test_a_decision_is_judged_before_it_joins_the_calibration() -> None:
    threshold = CascadeThreshold(dataclasses.replace(MEAN, threshold=-1.0))
    assert threshold.escalates(-1.5) and not threshold.escalates(-0.5)


def test_the_armed_state_round_trips_and_only_armed_is_armed() -> None:
    armed = Armed("max-genius", "power", client_logprobs=False, stream=True)
    assert Armed.from_meta(armed.as_meta()) == armed
    assert Armed.from_meta({"state": "escalated"}) is None
    assert Armed.from_meta(None) is None


def test_only_a_moved_decision_counts_under_cascade() -> None:
    assert reason_code("cascade: local answer confidence -3.00 < configured threshold -1.00: moved it to power") == (
        "cascade"
    )
    assert reason_code("cascade: local answer confidence -0.10 >= threshold -1.00 (8 tokens): kept local") == ""
    assert reason_code("cascade: power tier failed (APIError): the local answer kept") == "fallback"


@pytest.mark.parametrize(
    "bad",
    [{"statistic": "median"}, {"threshold": 0.5}, {"escalate_share": 1.5}, {"stream_prefix_tokens": 0}],
)
def test_a_bad_cascade_setting_is_refused(bad: dict) -> None:
    with pytest.raises(ValueError, match=r"learning\.cascade"):
        parse_config({"learning": {"cascade": bad}})


def test_the_cascade_is_off_by_default() -> None:
    assert parse_config({}).learning.cascade.enabled is False
