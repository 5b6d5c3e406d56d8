"""Property-based campaign against the real proxy with our hook: requests generated from the shipped
chat-completions document (docs/openapi/chat-completions.yaml), fitting it and breaking it. 0 answers 5xx, 0 hangs."""

from __future__ import annotations

import pytest
import yaml

from tests.support.fuzz import assert_clean, run_campaign
from tests.support.processes import REPO
from tests.support.stack import LiteLLMProxy

pytestmark = pytest.mark.integration

DOCUMENT = REPO / "docs" / "openapi" / "chat-completions.yaml"
EXAMPLES = 120


def test_chat_completions_campaign_has_no_5xx_and_no_hang(litellm_proxy: LiteLLMProxy) -> None:
    document = yaml.safe_load(DOCUMENT.read_text())
    campaign = run_campaign(document, litellm_proxy.base_url, litellm_proxy.headers(), EXAMPLES)
    assert len(campaign.outcomes) >= EXAMPLES // 2  # the campaign really ran
    assert_clean(campaign, document)
    assert {200, 400} <= campaign.statuses()  # both valid and refused requests were generated
