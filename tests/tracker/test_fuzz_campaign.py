"""Property-based campaign against the real tracker, from its own OpenAPI document: 0 answers 5xx, 0 hangs."""

from __future__ import annotations

import pytest

from tests.support.fuzz import assert_clean, run_campaign, served_document
from tests.tracker.conftest import TRACKER_KEY, TrackerProcess

pytestmark = pytest.mark.integration

EXAMPLES = 30


def test_tracker_campaign_has_no_5xx_and_no_hang(tracker_proc: TrackerProcess) -> None:
    headers = {"Authorization": f"Bearer {TRACKER_KEY}"}
    document = served_document(tracker_proc.base_url, headers)
    assert "/stats" in document["paths"]
    assert_clean(run_campaign(document, tracker_proc.base_url, headers, EXAMPLES), document)
