"""Property-based campaign against the real vision service (tiny classifier), from its own OpenAPI document:
0 answers 5xx, 0 hangs."""

from __future__ import annotations

import pytest

from tests.support.fuzz import assert_clean, run_campaign, served_document
from tests.vision.conftest import VisionService

pytestmark = pytest.mark.integration

EXAMPLES = 80


def test_vision_campaign_has_no_5xx_and_no_hang(classifier: VisionService) -> None:
    document = served_document(classifier.base_url, classifier.headers())
    assert {"/v1/embeddings", "/v1/classify", "/v1/chat/completions"} <= set(document["paths"])
    campaign = run_campaign(document, classifier.base_url, classifier.headers(), EXAMPLES)
    assert_clean(campaign, document)
    assert 400 in campaign.statuses()
