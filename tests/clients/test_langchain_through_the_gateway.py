"""LangChain's OpenAI integration (`langchain-openai`, pinned in pyproject.toml) against the gateway:
`ChatOpenAI(base_url=<gateway>/v1, api_key=<key>, model="max-auto")` and `OpenAIEmbeddings(model="max-embed")`.

OpenAIEmbeddings is given `check_embedding_ctx_length=False`, as its documentation says for providers other than
OpenAI: otherwise it tokenises the input with tiktoken first, which downloads its encoding files from the
internet, and sends token ids instead of text. The headers come from `include_response_headers=True`.
"""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

from tests.clients.stack import CLIENT_TIMEOUT_S, ClientStack, assert_no_litellm_text

pytestmark = pytest.mark.integration


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def answer_text(message: BaseMessage) -> str:
    """What the gateway answered, as LangChain keeps it, less the response headers (x-litellm-* headers are
    LiteLLM's, not answer text)."""
    metadata = {k: v for k, v in message.response_metadata.items() if k != "headers"}
    return json.dumps([message.model_dump(exclude={"response_metadata"}), metadata], default=str)


def chat(maximus: ClientStack) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=maximus.openai_base_url,
        api_key=maximus.key,
        model="max-auto",
        max_retries=0,
        timeout=CLIENT_TIMEOUT_S,
        include_response_headers=True,
    )


def test_invoke_answers_locally(maximus: ClientStack) -> None:
    mark = maximus.mark()
    reply = chat(maximus).invoke("say hello")
    assert reply.content.startswith("Local answer from ")
    assert reply.response_metadata["headers"]["x-maximus-tier"] == "local"
    assert_no_litellm_text(answer_text(reply))
    maximus.assert_counted(mark)


def test_bind_tools_round_trip(maximus: ClientStack) -> None:
    mark = maximus.mark()
    model = chat(maximus).bind_tools([get_weather])
    question = HumanMessage("What is the weather in Lyon?")
    first = model.invoke([question])
    assert first.response_metadata["headers"]["x-maximus-tier"] == "local"
    assert [c["name"] for c in first.tool_calls] == ["get_weather"]
    result = get_weather.invoke(first.tool_calls[0]["args"])
    final = model.invoke([question, first, ToolMessage(result, tool_call_id=first.tool_calls[0]["id"])])
    assert final.response_metadata["headers"]["x-maximus-tier"] == "local"
    assert result in final.content and not final.tool_calls
    assert_no_litellm_text(answer_text(first), answer_text(final))
    assert len(maximus.assert_counted(mark)) == 2
    maximus.assert_tools_went_to_a_tools_model(mark)


def test_embeddings_stay_local(maximus: ClientStack) -> None:
    mark = maximus.mark()
    embeddings = OpenAIEmbeddings(
        base_url=maximus.openai_base_url,
        api_key=maximus.key,
        model="max-embed",
        check_embedding_ctx_length=False,
        max_retries=0,
        timeout=CLIENT_TIMEOUT_S,
    )
    vectors = embeddings.embed_documents(["a private document", "another one"])
    query = embeddings.embed_query("a private document")
    assert len(vectors) == 2 and len(query) == len(vectors[0]) > 0
    assert query == pytest.approx(vectors[0]), "the same text embeds the same way"
    assert len(maximus.assert_counted(mark)) == 2
    assert maximus.embeds_since(mark), "the local tier computed them"
