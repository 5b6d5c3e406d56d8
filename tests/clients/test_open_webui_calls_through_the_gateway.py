"""The calls Open WebUI makes on an "OpenAI API" connection (base URL <gateway>/v1, the key), sent with plain
httpx exactly as Open WebUI sends them. Followed: open-webui/open-webui at commit 671f577,
backend/open_webui/routers/openai.py (`send_get_request`: GET {url}/models with `Authorization: Bearer <key>`;
`generate_chat_completion`: POST {url}/chat/completions, headers `Content-Type: application/json` and
`Authorization: Bearer <key>`, the body `json.dumps(payload)`, an SSE answer streamed through), and
backend/open_webui/retrieval/utils.py (`generate_openai_batch_embeddings`: POST {url}/embeddings with
`{"input": texts, "model": model}` and the same two headers) for RAG documents. Newer versions also set
`stream_options: {"include_usage": true}` on a streamed chat, which is sent here too.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.clients.stack import CLIENT_TIMEOUT_S, ClientStack, assert_no_litellm_text

pytestmark = pytest.mark.integration


def headers(maximus: ClientStack) -> dict[str, str]:
    return {"Content-Type": "application/json", "Authorization": f"Bearer {maximus.key}"}


def test_models_list_offers_the_groups(maximus: ClientStack) -> None:
    response = httpx.get(
        f"{maximus.openai_base_url}/models", headers={"Authorization": f"Bearer {maximus.key}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    ids = {model["id"] for model in response.json()["data"]}
    assert {"max-auto", "max-buddy", "max-embed"} <= ids, ids
    assert_no_litellm_text(response.text)


def test_streamed_chat_answers_locally(maximus: ClientStack) -> None:
    mark = maximus.mark()
    payload = {
        "model": "max-auto",
        "messages": [{"role": "user", "content": "say hello in four words"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    url = f"{maximus.openai_base_url}/chat/completions"
    with httpx.stream(
        "POST", url, content=json.dumps(payload), headers=headers(maximus), timeout=CLIENT_TIMEOUT_S
    ) as r:
        assert r.status_code == 200, r.read()
        assert "text/event-stream" in r.headers["content-type"], "Open WebUI streams only an SSE answer through"
        assert r.headers.get("x-maximus-tier") == "local"
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    assert text.startswith("Local answer from ")
    assert any(c.get("usage") for c in chunks), "usage arrives when include_usage is set"
    assert_no_litellm_text(*lines)
    maximus.assert_counted(mark)


def test_rag_embeddings_stay_local(maximus: ClientStack) -> None:
    mark = maximus.mark()
    texts = ["Chapter one of a private document.", "Chapter two of it."]
    response = httpx.post(
        f"{maximus.openai_base_url}/embeddings",
        headers=headers(maximus),
        json={"input": texts, "model": "max-embed"},
        timeout=CLIENT_TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    assert response.headers.get("x-maximus-tier") == "local"
    vectors = [item["embedding"] for item in response.json()["data"]]
    assert len(vectors) == 2 and all(isinstance(x, float) for x in vectors[0])
    assert_no_litellm_text(response.text)
    maximus.assert_counted(mark)
    assert maximus.embeds_since(mark), "the local tier computed them"
