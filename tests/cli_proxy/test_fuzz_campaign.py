"""Property-based campaign against the CLI proxy (fake CLIs), from its own OpenAPI document: 0 answers 5xx,
0 hangs, and every refusal is OpenAI-shaped."""

from __future__ import annotations

import pytest

from tests.cli_proxy.conftest import API_KEY, RunningProxy
from tests.support.fuzz import assert_clean, run_campaign, served_document

pytestmark = pytest.mark.integration

EXAMPLES = 80


def test_cli_proxy_campaign_has_no_5xx_and_no_hang(proxy: RunningProxy) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    document = served_document(proxy.base_url, headers)
    assert "/v1/chat/completions" in document["paths"]
    campaign = run_campaign(document, proxy.base_url, headers, EXAMPLES)
    assert_clean(campaign, document)
    assert 400 in campaign.statuses()  # malformed bodies were generated and refused
