"""The tracker's per-API figures: an embedding request is counted once under api "embeddings", with its tokens, saved
at an embedding price, kept out of the recent answers the router steers on, and shown by `maximus dashboard`."""

from __future__ import annotations

from tests.tracker.conftest import TEST_TRACKER_CONFIG
from tests.tracker.shapes import attempt_kwargs, request_data
from tracker.accounting import increments, resolve
from tracker.dashboard import embeddings_line
from tracker.events import SUCCESS
from tracker.litellm_callback import TierLookup, build_attempt_event, build_request_failed_event
from tracker.metrics import DURABLE_COUNTERS, known_fields
from tracker.settings import load_settings
from tracker.stats import _apis

SETTINGS = load_settings(TEST_TRACKER_CONFIG, env={})


class NoTiers(TierLookup):
    def __init__(self) -> None:
        super().__init__()
        self._groups, self._loaded_at = {}, float("inf")


def embedding_kwargs(call_id: str, group: str = "max-embed", tier: str = "local", **extra) -> dict:
    kwargs = attempt_kwargs(call_id, group, tier, prompt_tokens=7, completion_tokens=0, **extra)
    kwargs["standard_logging_object"]["call_type"] = "aembedding"
    return kwargs


def test_an_embedding_is_one_request_of_its_api_with_its_tokens() -> None:
    event = build_attempt_event(SUCCESS, embedding_kwargs("e1"), NoTiers())
    assert event.api == "embeddings"
    inc = increments(resolve(event, SETTINGS, {}))
    assert inc.totals["api|embeddings|local|success"] == 1
    assert inc.totals["apitok|embeddings|local"] == 7
    assert inc.totals["req|local|max-embed|success"] == 1


def test_the_routers_word_wins_over_the_call_type() -> None:
    kwargs = embedding_kwargs("e2", metadata={"maximus_api": "embeddings"})
    kwargs["standard_logging_object"]["call_type"] = "acompletion"
    assert build_attempt_event(SUCCESS, kwargs, NoTiers()).api == "embeddings"
    chat = attempt_kwargs("c1", "max-buddy", "local")
    chat["standard_logging_object"]["call_type"] = "acompletion"
    assert build_attempt_event(SUCCESS, chat, NoTiers()).api == "chat"
    odd = attempt_kwargs("c2", "max-buddy", "local", metadata={"maximus_api": "telepathy"})
    assert build_attempt_event(SUCCESS, odd, NoTiers()).api == "other"  # bounded label values


def test_embeddings_stay_out_of_the_routers_steering_list_but_chat_does_not() -> None:
    embedding = increments(resolve(build_attempt_event(SUCCESS, embedding_kwargs("e3"), NoTiers()), SETTINGS, {}))
    assert embedding.recent is None and embedding.month["sovereign"] == 1
    chat = attempt_kwargs("c3", "max-buddy", "local")
    assert increments(resolve(build_attempt_event(SUCCESS, chat, NoTiers()), SETTINGS, {})).recent == "1"


def test_a_local_embedding_saves_an_embedding_price_not_a_chat_price() -> None:
    saved = resolve(build_attempt_event(SUCCESS, embedding_kwargs("e4"), NoTiers()), SETTINGS, {}).saved_usd
    assert saved == SETTINGS.embedding_reference.cost(7, 0)
    assert saved < SETTINGS.cloud_reference.cost(7, 0) / 100


def test_a_failed_embedding_request_is_counted_under_its_api() -> None:
    data = request_data("e5", "max-embed", "local")
    data["metadata"]["maximus_api"] = "embeddings"
    event = build_request_failed_event(data, RuntimeError("down"), NoTiers())
    assert increments(resolve(event, SETTINGS, {})).totals["api|embeddings|local|failure"] == 1


def test_api_series_are_exported_at_zero_before_their_first_count() -> None:
    fields = known_fields(SETTINGS, {})
    assert "api|embeddings|local|success" in fields and "apitok|embeddings|cloud" in fields
    assert DURABLE_COUNTERS["api"][0] == "maximus_api_requests"


def test_stats_and_the_terminal_dashboard_show_embeddings() -> None:
    totals = {
        "api|embeddings|local|success": 3.0,
        "api|embeddings|cloud|success": 1.0,
        "api|embeddings|local|failure": 1.0,
        "apitok|embeddings|local": 40.0,
        "apitok|embeddings|cloud": 2.0,
        "api|chat|local|success": 5.0,
    }
    apis = _apis(totals)
    assert apis["embeddings"] == {"requests": 4, "failures": 1, "sovereign": 3, "tokens": 42}
    assert embeddings_line({"apis": apis}) == "Embeddings  4 answered (3 on the machine), 1 failed, 42 tokens"
    assert embeddings_line({}) == "Embeddings  0 answered (0 on the machine), 0 failed, 0 tokens"
