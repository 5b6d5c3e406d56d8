"""Property-based campaign against the real proxy with our hook: requests generated from the shipped
chat-completions document (docs/openapi/chat-completions.yaml), fitting it and breaking it. 0 answers 5xx, 0 hangs."""

from __future__ import annotations

import pytest
import yaml

from tests.support.fuzz import assert_clean, field_mutations, run_body_campaign, run_campaign
from tests.support.processes import REPO
from tests.support.stack import LiteLLMProxy

pytestmark = pytest.mark.integration

DOCUMENT = REPO / "docs" / "openapi" / "chat-completions.yaml"
EXAMPLES = 120
MUTATIONS = 120
VALID = {"model": "max-buddy", "messages": [{"role": "user", "content": "hello"}]}


def test_chat_completions_campaign_has_no_5xx_and_no_hang(litellm_proxy: LiteLLMProxy) -> None:
    document = yaml.safe_load(DOCUMENT.read_text())
    campaign = run_campaign(document, litellm_proxy.base_url, litellm_proxy.headers(), EXAMPLES)
    assert len(campaign.outcomes) >= EXAMPLES // 2  # the campaign really ran
    assert_clean(campaign, document)
    assert {200, 400} <= campaign.statuses()  # both valid and refused requests were generated


def test_any_json_in_any_field_has_no_5xx_and_no_hang(litellm_proxy: LiteLLMProxy) -> None:
    """Each field of the document (and the whole body) replaced by arbitrary JSON: what a schema-driven generator
    rarely tries (a string for `stream`, an array for the body)."""
    fields = list(yaml.safe_load(DOCUMENT.read_text())["components"]["schemas"]["ChatCompletionRequest"]["properties"])
    bodies = field_mutations(VALID, fields)
    campaign = run_body_campaign(
        f"{litellm_proxy.openai_base_url}/chat/completions", litellm_proxy.headers(), bodies, MUTATIONS
    )
    assert len(campaign.outcomes) >= MUTATIONS // 2
    assert campaign.server_errors == []
    assert campaign.hangs == []
