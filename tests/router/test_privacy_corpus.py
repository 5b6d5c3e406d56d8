"""The privacy corpus (tests/router/privacy_corpus.py): every positive, in every field and position, pins the
request to the local tier; every look-alike does not. Decoding is bounded whatever the input size."""

from __future__ import annotations

import base64
import dataclasses
import random

import pytest

from router.encoded_views import MAX_DECODED_CHARS, base64_payloads
from router.policy import RoutingPolicy
from router.privacy import PrivacyGuard
from tests.router import fakes
from tests.router import privacy_corpus as corpus
from tests.router.benign_set import benign_prompts

POSITIVES = corpus.positive_cases()
NEGATIVES = corpus.negative_cases()


@pytest.fixture(scope="module")
def guard(config) -> PrivacyGuard:
    return PrivacyGuard(config.privacy)


def test_the_corpus_is_large_enough() -> None:
    assert len(POSITIVES) + len(NEGATIVES) >= 300


@pytest.mark.parametrize("case", POSITIVES, ids=[c.id for c in POSITIVES])
def test_every_positive_is_kept_local(policy: RoutingPolicy, case: corpus.Case) -> None:
    decision = policy.decide({**case.body, "model": "max-genius"})
    assert decision.pinned_local and decision.tier == "local", case.id
    assert all(case.text not in reason for reason in decision.reasons)


@pytest.mark.parametrize("case", NEGATIVES, ids=[c.id for c in NEGATIVES])
def test_look_alikes_do_not_fire(guard: PrivacyGuard, case: corpus.Case) -> None:
    assert not guard.scan(case.body).hit, guard.scan(case.body).detectors


def test_at_most_two_percent_of_the_benign_set_is_flagged(guard: PrivacyGuard) -> None:
    prompts = benign_prompts()
    flagged = [p for p in prompts if guard.scan_texts([p]).hit]
    assert len(prompts) > 10_000
    assert len(flagged) / len(prompts) <= 0.02, f"{len(flagged)} of {len(prompts)} flagged"


def test_an_iban_is_found_whatever_surrounds_it(guard: PrivacyGuard) -> None:
    for text in (f"pay {corpus.IBAN} now", f"{corpus.IBAN} NOW", f"IBAN:{corpus.IBAN.replace(' ', '')}, thanks"):
        assert "iban" in guard.scan_texts([text]).detectors, text


def test_decoding_is_bounded_on_megabytes_of_base64() -> None:
    blob = base64.b64encode(b"\x00\x01" * 1_500_000).decode()
    decoded = sum(len(data) for data in base64_payloads(blob))
    assert decoded <= MAX_DECODED_CHARS


def test_a_key_after_megabytes_of_padding_is_still_judged_on_its_own_text(guard: PrivacyGuard) -> None:
    padding = base64.b64encode(b"\x00" * 300_000).decode()
    found = guard.scan_texts([padding, "client-key-data: " + base64.b64encode(corpus.RSA_PKCS1_PEM.encode()).decode()])
    assert "secret" in found.kinds


def test_a_request_over_the_scan_cap_is_kept_local_unscanned(config) -> None:
    capped = dataclasses.replace(config, privacy=dataclasses.replace(config.privacy, max_scan_chars=50_000))
    policy = RoutingPolicy(capped)
    clean = "Write a Python function that merges intervals. " * 900  # ~44,000 characters: scanned, clean
    assert not policy.decide({**fakes.ask(clean), "model": "max-genius"}).pinned_local
    decision = policy.decide({**fakes.ask(clean + clean), "model": "max-genius"})
    assert decision.pinned_local and decision.tier == "local"
    assert decision.privacy_detectors == ("too_large_to_scan",)


_NOISE = base64.b64encode(random.Random(3).randbytes(150_000)).decode()  # 200,000 characters, one token


@pytest.mark.parametrize(
    ("secret", "detector"),
    [
        (fakes.GITHUB_TOKEN, "github_token"),
        (fakes.AWS_KEY_ID, "aws_key"),
        (" " + fakes.SLACK_TOKEN + " ", "slack_token"),
        (" " + fakes.JWT + " ", "jwt"),
        ("\n" + fakes.PRIVATE_KEY + "\n", "private_key"),
        (" " + fakes.DB_URL + " ", "db_connection_string"),
        (" " + fakes.ANTHROPIC_KEY + " ", "anthropic_key"),
    ],
)
def test_a_secret_inside_a_long_text_is_found_in_its_trigger_window(
    guard: PrivacyGuard, secret: str, detector: str
) -> None:
    # Past router.secret_detect.WINDOWED_ABOVE characters the plugins read windows around their triggers.
    half = len(_NOISE) // 2
    assert detector in guard.scan(fakes.ask(_NOISE[:half] + secret + _NOISE[half:])).detectors
