"""Personal data and markers the review of issue 6 found missed, and documentation addresses that must not count
as personal data (docs/reference/routing.md)."""

from __future__ import annotations

import pytest

from router.privacy import PrivacyGuard
from tests.router import fakes
from tests.router.fakes import ask


@pytest.fixture(scope="module")
def guard(config) -> PrivacyGuard:
    return PrivacyGuard(config.privacy)


@pytest.mark.parametrize(
    ("text", "detector"),
    [
        ("my passport number is " + "X12345678", "passport"),
        ("Passport number: " + "X 1234 5678", "passport"),
        ("passport no. = " + "K4821937", "passport"),
        ("send the refund to " + fakes.IBAN_VALID.lower(), "iban"),
        ("why is the card " + fakes.VISA_TEST_CARD.replace(" ", ".") + " declined?", "payment_card"),
    ],
)
def test_personal_data_phrasings_fire(guard: PrivacyGuard, text: str, detector: str) -> None:
    assert detector in guard.scan(ask(text)).detectors, text


def test_quoted_marker_fires(guard: PrivacyGuard) -> None:
    assert "marker" in guard.scan(ask("'Confidential' - refactor this")).kinds
    assert "marker" in guard.scan(ask('"confidential": refactor this')).kinds


@pytest.mark.parametrize(
    "text",
    [
        "What size is a passport photo? 2 inches by 2 inches?",
        "The version went from 4111.1111.1111.1111.2 to 4111.1111.1111.1111.3",
        "pi is 3.14159265358979323846",
    ],
)
def test_phrasing_look_alikes_do_not_fire(guard: PrivacyGuard, text: str) -> None:
    assert not guard.scan(ask(text)).hit, text


@pytest.mark.parametrize(
    "text",
    [
        "Write a regex that matches addresses like john.smith@example.com",
        "Validate olga.ivanova@example.org and jane.roe@example.net in the unit test.",
        "Our docs use billing@shop.example and qa.lead@staging.test as sample addresses.",
        "Mail to bounce@mailer.invalid or dev@box.localhost must be dropped.",
    ],
)
def test_documentation_addresses_are_placeholders(guard: PrivacyGuard, text: str) -> None:
    assert not guard.scan(ask(text)).hit, text


@pytest.mark.parametrize(
    "text",
    [
        "write to priya.raman@" + "gmail.com",
        "john.smith@" + "bergmann-logistik.de asked for the invoice",
        "jan.novak@" + "build.local wants the report",
    ],
)
def test_real_personal_addresses_still_fire(guard: PrivacyGuard, text: str) -> None:
    assert "personal_email" in guard.scan(ask(text)).detectors, text
