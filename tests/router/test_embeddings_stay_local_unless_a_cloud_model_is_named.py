"""router.embeddings: the /v1/embeddings policy on its own (the proxy path is in
tests/gateway/test_local_embeddings_through_the_gateway.py)."""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import pytest

from router import embeddings
from router.budget import BudgetStatus
from router.embeddings import EmbeddingPolicy, EmbeddingRefusal, EmbeddingSettings, Group
from router.policy import default_policy
from router.request import MalformedRequest

GROUPS = {
    "max-auto": Group("local", False),
    "max-buddy": Group("local", False),
    "max-genius": Group("power", False),
    "max-embed": Group("local", True),
    "text-embedding-3-small": Group("cloud", True),
}
OK = BudgetStatus("ok", 0.0, 20.0, 0.0)
EXCEEDED = BudgetStatus("exceeded", 25.0, 20.0, 0.0)
SECRET = "deploy with token ghp_" + "A1b2" * 9  # built from parts: no whole secret in the file


def policy(action: str = "refuse") -> EmbeddingPolicy:
    routing = default_policy()
    return EmbeddingPolicy(
        EmbeddingSettings("max-embed", action), "max-auto", "x-maximus-tier", "tier", routing.guard.scan
    )


def decide(body: dict, action: str = "refuse", budget: BudgetStatus = OK, headers: dict | None = None, decode=None):
    return policy(action).decide(body, headers or {}, GROUPS, budget, decode)


def test_the_shipped_routing_config_names_the_local_embedding_group() -> None:
    settings = embeddings.load_settings(default_policy().config.source)
    assert settings == EmbeddingSettings("max-embed", "refuse")
    assert default_policy().config.tier_of_model("max-embed") == "local"


@pytest.mark.parametrize("body", [{"model": "max-auto", "input": "a text"}, {"input": ["one", "two"]}])
def test_max_auto_embeds_on_the_machine(body: dict) -> None:
    decision = decide(body)
    assert (decision.tier, decision.model) == ("local", "max-embed")
    assert decision.reason_codes() == ["embedding"]


def test_a_tier_header_cannot_send_an_embedding_off_the_machine() -> None:
    decision = decide({"model": "max-auto", "input": "x"}, headers={"x-maximus-tier": "power"})
    assert (decision.tier, decision.model) == ("local", "max-embed")
    assert "explicit tier 'power' has no embedding model, ignored" in decision.reasons


def test_the_local_group_named_is_kept() -> None:
    decision = decide({"model": "max-embed", "input": SECRET})
    assert (decision.tier, decision.model, decision.refused) == ("local", "max-embed", False)


def test_a_named_cloud_embedding_model_is_used_for_an_input_without_private_data() -> None:
    decision = decide({"model": "text-embedding-3-small", "input": ["the weather is mild today"]})
    assert (decision.tier, decision.model, decision.pinned_local) == ("cloud", "text-embedding-3-small", False)


@pytest.mark.parametrize("where", ["input", "list", "metadata"])
def test_private_data_never_goes_to_a_cloud_embedding_model(where: str) -> None:
    body = {"model": "text-embedding-3-small", "input": "harmless"}
    if where == "input":
        body["input"] = SECRET
    elif where == "list":
        body["input"] = ["harmless", SECRET]
    else:
        body["metadata"] = {"note": SECRET}
    decision = decide(body)
    assert decision.refused and decision.pinned_local and decision.tier == "local"
    assert decision.privacy_labels() == ["secret"]
    redirected = decide(body, action="redirect")
    assert (redirected.tier, redirected.model, redirected.refused) == ("local", "max-embed", False)


def test_token_arrays_are_judged_by_their_decoded_text_and_kept_local_when_they_cannot_be() -> None:
    body = {"model": "text-embedding-3-small", "input": [[1, 2, 3]]}
    assert decide(body, decode=lambda tokens: SECRET).refused
    assert not decide(body, decode=lambda tokens: "a harmless sentence").refused
    assert decide(body, decode=None).refused, "unreadable tokens may hold anything: fail closed"


def test_a_spent_budget_refuses_a_cloud_embedding_rather_than_answering_from_another_model() -> None:
    with pytest.raises(EmbeddingRefusal) as refusal:
        decide({"model": "text-embedding-3-small", "input": "x"}, budget=EXCEEDED)
    assert refusal.value.status == 429 and "max-embed" in refusal.value.message


@pytest.mark.parametrize(
    ("model", "words"),
    [("max-buddy", "'max-buddy' is a chat model"), ("gemma3", "'gemma3' is not an embedding model")],
)
def test_a_model_that_does_not_embed_is_a_400_naming_the_ones_that_do(model: str, words: str) -> None:
    with pytest.raises(MalformedRequest) as bad:
        decide({"model": model, "input": "x"})
    assert bad.value.param == "model"
    assert words in bad.value.message
    assert "max-embed, max-auto, text-embedding-3-small" in bad.value.message


@pytest.mark.parametrize(
    ("value", "param"),
    [("", "input"), ([], "input"), (None, "input"), ([""], "input[0]"), ([{"text": "x"}], "input[0]"), (3, "input")],
)
def test_an_input_openai_refuses_is_a_400(value: object, param: str) -> None:
    with pytest.raises(MalformedRequest) as bad:
        decide({"model": "max-embed", "input": value})
    assert bad.value.param == param


def test_too_many_inputs_is_a_400() -> None:
    with pytest.raises(MalformedRequest, match="at most 2048"):
        decide({"model": "max-embed", "input": ["x"] * 2049})


def test_apply_pins_the_group_and_decodes_tokens_for_the_local_model() -> None:
    body = {"model": "max-auto", "input": [5, 6], "encoding_format": "base64", "fallbacks": ["max-cloud-openai"]}
    decision = decide(body)
    out = embeddings.apply(body, decision, decode=lambda tokens: f"text of {tokens}")
    assert out["model"] == "max-embed" and out["disable_fallbacks"] is True and "fallbacks" not in out
    assert out["input"] == ["text of [5, 6]"]
    assert out["metadata"]["maximus_tier"] == "local"
    assert out["metadata"][embeddings.API_META] == "embeddings"
    assert out["metadata"][embeddings.FORMAT_META] == "base64"
    with pytest.raises(MalformedRequest):
        embeddings.apply({"model": "max-embed", "input": [5, 6]}, decision, decode=None)


def test_base64_is_openais_little_endian_float32() -> None:
    vector = [0.5, -0.25, 1.0]
    assert struct.unpack("<3f", base64.b64decode(embeddings.as_base64(vector))) == tuple(vector)


def test_an_answer_without_one_vector_per_input_is_caught() -> None:
    assert embeddings.check_answer([[0.1], [0.2]], 2) is None
    assert embeddings.check_answer([[0.1]], 2) == "1 vectors for 2 inputs"
    assert embeddings.check_answer([[]], 1) == "a vector that is empty or not numbers"


def test_private_action_must_be_known(tmp_path: Path) -> None:
    config = tmp_path / "routing.yaml"
    config.write_text("embeddings: {private_action: shrug}\n")
    with pytest.raises(ValueError, match="private_action"):
        embeddings.load_settings(config)


async def test_the_hook_routes_embedding_calls_and_encodes_base64_answers() -> None:
    from router.litellm_hook import RoutingHook

    hook = RoutingHook()
    assert "async_post_call_success_hook" in vars(RoutingHook), "the proxy skips inherited hooks"
    data = {"model": "max-auto", "input": "hello", "encoding_format": "base64", "proxy_server_request": {"headers": {}}}
    out = await hook.async_pre_call_hook(None, None, data, "aembedding")
    assert out["model"] == "max-embed" and out["disable_fallbacks"] is True
    headers = await hook.async_post_call_response_headers_hook(out, None, None)
    assert headers["x-maximus-tier"] == "local"

    class Answer:
        data = [{"object": "embedding", "index": 0, "embedding": [0.5, 0.25]}]

    answer = await hook.async_post_call_success_hook(out, None, Answer())
    assert answer.data[0]["embedding"] == embeddings.as_base64([0.5, 0.25])
