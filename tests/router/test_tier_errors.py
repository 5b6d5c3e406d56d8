"""A tier that cannot answer gives a clean 503/504 naming the tier, its address and the fix; other failures are
left alone. Exceptions are recognised by class name and status, as LiteLLM raises them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litellm.types.router import RouterRateLimitError

import litellm
from router.config import load_config
from router.tier_errors import DOWN, TIMEOUT, UNREACHABLE, address_of, describe, failure_kind

ENDPOINTS = load_config().endpoints
LOCAL_ENV = {"OLLAMA_API_BASE": "http://127.0.0.1:11434"}
# What LiteLLM 1.108 answered for a local tier that is down (issue 13), less the part after the first line.
OLLAMA_DOWN = (
    "litellm.APIConnectionError: Ollama_chatException - Cannot connect to host REDACTED:11434 "
    "ssl:<ssl.SSLContext object at 0x7fec12345678> [Connect call failed ('127.0.0.1', 11434)]"
)

# What LiteLLM 1.108 raised for a local tier that went silent after the first chunks of a stream (aiohttp's read
# timeout, wrapped).
OLLAMA_STALLED_MIDSTREAM = "litellm.APIConnectionError: Ollama_chatException - Timeout on reading data from socket"


def _connection_error(message: str = OLLAMA_DOWN) -> Exception:
    return litellm.APIConnectionError(message=message, llm_provider="ollama_chat", model="gemma3")


def test_local_tier_down_names_tier_address_and_fix() -> None:
    failure = describe(_connection_error(), "local", ENDPOINTS, LOCAL_ENV)
    assert failure is not None and failure.status == 503 and failure.kind == UNREACHABLE
    assert failure.message == (
        "local tier unavailable: nothing answers at http://127.0.0.1:11434: start Ollama or set OLLAMA_API_BASE"
    )
    assert "REDACTED" not in failure.message and "<" not in failure.message


@pytest.mark.parametrize(
    ("exc", "kind", "status"),
    [
        (litellm.Timeout(message="timed out", model="gemma3", llm_provider="ollama_chat"), TIMEOUT, 504),
        (RouterRateLimitError("max-genius", 30.0, False, ["id"], ("id",)), DOWN, 503),
        (_connection_error("httpx.ConnectError: All connection attempts failed"), UNREACHABLE, 503),
        (_connection_error(OLLAMA_STALLED_MIDSTREAM), TIMEOUT, 504),
    ],
)
def test_outage_kinds_and_statuses(exc: Exception, kind: str, status: int) -> None:
    failure = describe(exc, "power", ENDPOINTS, {"CLI_PROXY_API_BASE": "http://127.0.0.1:8080/v1"})
    assert failure is not None and (failure.kind, failure.status) == (kind, status)
    assert failure.message.startswith("power tier unavailable: ") and "http://127.0.0.1:8080/v1" in failure.message


@pytest.mark.parametrize(
    "exc",
    [
        litellm.BadRequestError(message="bad", model="x", llm_provider="openai"),
        litellm.AuthenticationError(message="no key", llm_provider="openai", model="x"),
        litellm.ServiceUnavailableError(message="cli_overloaded", llm_provider="openai", model="x"),  # its own words
        _connection_error("litellm.APIConnectionError: could not parse the response"),  # not an outage
        ValueError("something else"),
    ],
)
def test_other_failures_are_left_alone(exc: Exception) -> None:
    assert failure_kind(exc) is None
    assert describe(exc, "local", ENDPOINTS, LOCAL_ENV) is None


async def test_the_last_failed_fallback_names_the_tier_the_request_ended_on() -> None:
    from router.litellm_hook import RoutingHook

    power_refused = litellm.AuthenticationError(
        message="cli_not_authenticated\n\nLiteLLM: model group 'max-genius' failed with the error above. "
        f"Fallback to max-buddy also failed: {OLLAMA_DOWN}",
        llm_provider="openai",
        model="claude-sonnet",
    )
    replaced = await RoutingHook().async_post_call_failure_hook({"model": "max-genius"}, power_refused, None)
    assert replaced is not None and replaced.status_code == 503
    assert replaced.detail["error"]["message"].startswith("local tier unavailable: nothing answers at ")


def test_unknown_tier_is_left_alone() -> None:
    assert describe(_connection_error(), None, ENDPOINTS, LOCAL_ENV) is None


def test_address_never_echoes_credentials_and_defaults_without_env() -> None:
    endpoint = ENDPOINTS["local"]
    assert address_of(endpoint, {"OLLAMA_API_BASE": "http://user:pw@ollama.lan:11434/"}) == "http://ollama.lan:11434"
    assert address_of(endpoint, {}) == "http://127.0.0.1:11434"


async def test_proxy_hook_turns_a_tier_outage_into_a_clean_503_for_the_tracker(monkeypatch) -> None:
    from router.litellm_hook import RoutingHook

    assert "async_post_call_failure_hook" in vars(RoutingHook)  # the proxy skips inherited hooks
    monkeypatch.setenv("OLLAMA_API_BASE", "http://127.0.0.1:11434")
    data = {"model": "max-buddy", "metadata": {"maximus_tier": "local"}}
    replaced = await RoutingHook().async_post_call_failure_hook(data, _connection_error(), None)
    assert replaced is not None and replaced.status_code == 503
    assert replaced.detail["error"]["message"].startswith("local tier unavailable: nothing answers at http://127.0.0")
    assert data["metadata"]["maximus_error"] == "local_tier_unreachable"
    bad = litellm.BadRequestError(message="bad", model="x", llm_provider="openai")
    assert await RoutingHook().async_post_call_failure_hook({"model": "max-buddy"}, bad, None) is None


async def _stalling_stream(exc: Exception) -> AsyncIterator[str]:
    yield "chunk 1"
    yield "chunk 2"
    raise exc


async def test_a_tier_stalling_mid_stream_ends_the_stream_with_the_clean_error() -> None:
    from router.litellm_hook import RoutingHook, TierStreamFailure

    hook, data = RoutingHook(), {"model": "max-buddy", "metadata": {}}
    received = []
    with pytest.raises(TierStreamFailure) as raised:
        async for chunk in hook.async_post_call_streaming_iterator_hook(
            None, _stalling_stream(_connection_error(OLLAMA_STALLED_MIDSTREAM)), data
        ):
            received.append(chunk)
    assert received == ["chunk 1", "chunk 2"]
    # LiteLLM's proxy writes the stream's error event from these attributes.
    failure = raised.value
    assert failure.message.startswith("local tier unavailable: ") and failure.message.endswith(
        " did not answer in time: start Ollama or set OLLAMA_API_BASE"
    )
    assert (failure.type, failure.param, failure.status_code) == ("timeout_error", None, 504)
    assert failure.__cause__ is None and failure.__suppress_context__, "no exception chain for the proxy to print"
    await hook.async_post_call_failure_hook(data, failure, None)
    assert data["metadata"]["maximus_error"] == "local_tier_timeout", "the tracker's error code"


async def test_other_failures_mid_stream_are_left_alone() -> None:
    from router.litellm_hook import RoutingHook

    other = ValueError("something else")
    with pytest.raises(ValueError) as raised:
        async for _ in RoutingHook().async_post_call_streaming_iterator_hook(None, _stalling_stream(other), {}):
            pass
    assert raised.value is other
