"""Fake but well-formed secrets and personal data, assembled from parts so no scanner takes this file for a leak."""

from __future__ import annotations

from typing import Any

GITHUB_TOKEN = "ghp_" + "A1b2" * 9
AWS_KEY_ID = "AKIA" + "QWERTYUIOPASDFGH"
SLACK_TOKEN = "xoxb-" + "2048" + "1357911" + "-" + "9753124680" + "-" + "aBcDeFgHiJkLmNoPqRsTuVwX"
STRIPE_KEY = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
ANTHROPIC_KEY = "sk-" + "ant-api03-" + "Xy7" * 12
OPENAI_PROJECT_KEY = "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8t"
PRIVATE_KEY = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA" + "x" * 40 + "\n-----END RSA PRIVATE KEY-----"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    + "."
    + "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    + "."
    + "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
DB_URL = "postgresql://" + "app_user" + ":" + "Vq8-zR2p!mK" + "@db.internal:5432/app"
HIGH_ENTROPY = "Zq9" + "Lw2Xe7Rt5Yu3Io1Pa8Sd6Fg4Hj0Kl"
VISA_TEST_CARD = "4111" + " 1111" * 3  # valid Luhn
LUHN_INVALID_CARD = "4111 1111 1111 1112"
IBAN_VALID = "DE89 " + "3704 0044 0532 0130 00"
IBAN_BAD_CHECKSUM = "DE88 " + "3704 0044 0532 0130 00"
SSN_VALID = "536-" + "90-" + "4399"
PHONE_INTL = "+44 20 " + "7946 0958"


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def request(*messages: dict[str, Any], model: str = "max-auto", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": list(messages), **extra}


def ask(text: str, model: str = "max-auto", **extra: Any) -> dict[str, Any]:
    return request(user(text), model=model, **extra)


# Values of config-line credentials (issue 6 review): random-looking, assembled from parts.
KEY_VALUE = "Zq9Lw2Xe7Rt5" + "Yu3Io1Pa8Sd6"
HEX_KEY = "8f4c" + "2b7e9a1d03c6" + "5b8e7f4a2d9c1e06"
PASSWORD = "Xy7" + "kq9Lm2"


# Multi-step maths the local model is likely to get wrong: a high need score, escalated to power.
HARD_PROMPT = (
    "A tank fills at 12 L/min and drains at 7 L/min; after 15 minutes a second pipe adds 4 L/min. If the tank holds "
    "480 L and starts with 35 L, when is it full? Then compute how long it takes if the drain rate doubles after 30 "
    "minutes. Show each step."
)
HARD_WRITING = (
    "Write a 3,000-word short story in five acts: 1) a lighthouse keeper in 1893, 2) a storm, 3) a shipwreck with 12 "
    "survivors, 4) a betrayal, 5) a twist ending. Each act must be 600 words, use a different narrator, and end with "
    "the same line. Then write a 200-word summary and list every motif with the act it appears in."
)
