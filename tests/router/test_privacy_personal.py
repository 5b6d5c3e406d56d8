"""Personal data, health details tied to a person and explicit markers: hits and look-alikes, the phrasings the
review of issue 6 found missed, and documentation addresses that must not count as personal data
(docs/reference/routing.md)."""

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
        (f"why is the card {fakes.VISA_TEST_CARD} declined?", "payment_card"),
        ("charge " + "4012888888881881" + " again tomorrow", "payment_card"),
        (f"send the refund to {fakes.IBAN_VALID}", "iban"),
        (f"her SSN is {fakes.SSN_VALID}", "national_id"),
        ("cover letter for Jane Roe, SSN " + "219-09-" + "9999", "national_id"),
        ("numéro de sécurité sociale : " + "1 85 05 78 006 084 36", "national_id"),
        ("codice fiscale " + "RSSMRA85T10A562S", "national_id"),
        ("passport number " + "K4821937" + ", fill in the visa form", "passport"),
        (f"call her on {fakes.PHONE_INTL} tomorrow", "phone_number"),
        ("my cell is (415) " + "555-2671, text me", "phone_number"),
        ("email olga.ivanova@" + "ivanova-consulting.de about the invoice", "personal_email"),
        ("write to priya.raman@" + "gmail.com", "personal_email"),
    ],
)
def test_personal_data_detectors_fire(guard: PrivacyGuard, text: str, detector: str) -> None:
    finding = guard.scan(ask(text))
    assert "personal_data" in finding.kinds
    assert detector in finding.detectors


@pytest.mark.parametrize(
    "text",
    [
        "is 4111 plus 1111 equal to 5222?",
        f"test card {fakes.LUHN_INVALID_CARD} should be rejected by my validator, right?",
        f"is {fakes.IBAN_BAD_CHECKSUM} a valid IBAN format? (checksum is wrong on purpose)",
        "Write a function that validates emails like user@example.com and explain the regex.",
        "Send alerts to support@company.com when the job fails",
        "upgrade litellm from 1.108.7 to 1.110.2 and pin it",
        "the meeting is on 2024-11-25 at 10:30, add it to the calendar format",
        "What are the passport photo requirements in Canada?",
        "How many minutes are in a day? 24 * 60 = 1440",
        "Explain the difference between int64 and uint32 for ids up to 4294967295",
    ],
)
def test_personal_look_alikes_do_not_fire(guard: PrivacyGuard, text: str) -> None:
    assert not guard.scan(ask(text)).hit


@pytest.mark.parametrize(
    "text",
    [
        "Write a sick note for Thomas Berger, diagnosed with depression last week.",
        "I was diagnosed with ADHD last month; plan my study schedule.",
        "My mother has dementia and forgets her medication, what routine helps?",
        "Mr. Alvarez's biopsy came back positive, draft a letter to his employer.",
    ],
)
def test_health_details_tied_to_a_person_fire(guard: PrivacyGuard, text: str) -> None:
    assert "health" in guard.scan(ask(text)).kinds


@pytest.mark.parametrize(
    "text",
    [
        "Explain how diabetes affects insulin production.",
        "Summarize the research on depression treatments.",
        "What is the survival rate of pancreatic cancer?",
        "Write a C++ function using std::vector that sorts patient records by id.",
    ],
)
def test_health_topics_without_a_person_do_not_fire(guard: PrivacyGuard, text: str) -> None:
    assert not guard.scan(ask(text)).hit


@pytest.mark.parametrize(
    "text",
    [
        "Confidential: summarize our Q3 board minutes.",
        "Please keep this local and review my contract draft.",
        "Do not send this to the cloud: analyze the salary table.",
        "This must not leave my machine. Plan the reorg.",
    ],
)
def test_explicit_markers_fire(guard: PrivacyGuard, text: str) -> None:
    assert "marker" in guard.scan(ask(text)).kinds


@pytest.mark.parametrize(
    "text",
    [
        "What does a local variable mean in Python?",
        "Compare cloud computing providers for a startup.",
        "How do I keep my sourdough starter alive?",
    ],
)
def test_marker_look_alikes_do_not_fire(guard: PrivacyGuard, text: str) -> None:
    assert not guard.scan(ask(text)).hit


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
