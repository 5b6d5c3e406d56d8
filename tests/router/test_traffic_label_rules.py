"""The rules behind the traffic labels, on a real Redis: which local answers may be shadowed (off by default, never
private, never near the budget, the share, one daily bound for every process), how a judge's verdict reads, and
the bounds of the request records and the re-ask memory."""

from __future__ import annotations

import dataclasses

import pytest
import redis

from router.budget import BudgetStatus
from router.config import LearningConfig, load_config, parse_config
from router.request_records import Record, RequestRecords, new_request_id, prompt_hash
from router.shadow_judge import ShadowGate, day_key, judge_messages, parse_verdict, verdict_outcome

ON = dataclasses.replace(LearningConfig(), shadow_share=1.0, shadow_max_per_day=2, shadow_key="test:shadow:{day}")


@pytest.fixture
def client(redis_server) -> redis.Redis:
    found = redis.Redis.from_url(redis_server.url)
    found.flushdb()
    return found


def test_shadowing_is_off_as_shipped() -> None:
    shipped = load_config().learning
    assert shipped.shadow_share == 0.0
    assert not ShadowGate(None, shipped, draw=lambda: 0.0).wanted(False, BudgetStatus("uncapped"))


@pytest.mark.parametrize(
    ("state", "wanted"),
    [("uncapped", True), ("ok", True), ("warning", False), ("exceeded", False), ("stale", False), ("unknown", False)],
)
def test_shadowing_stops_at_the_budget_guards_warning(state: str, wanted: bool) -> None:
    assert ShadowGate(None, ON, draw=lambda: 0.0).wanted(False, BudgetStatus(state)) is wanted


def test_a_private_request_is_never_wanted_and_the_share_is_drawn() -> None:
    assert not ShadowGate(None, ON, draw=lambda: 0.0).wanted(True, BudgetStatus("ok"))
    share = dataclasses.replace(ON, shadow_share=0.25)
    assert ShadowGate(None, share, draw=lambda: 0.2).wanted(False, BudgetStatus("ok"))
    assert not ShadowGate(None, share, draw=lambda: 0.25).wanted(False, BudgetStatus("ok"))


def test_the_daily_bound_is_one_counter_for_every_process(client, redis_server) -> None:
    other = redis.Redis.from_url(redis_server.url)  # a second gateway process's own connection
    gates = [ShadowGate(client, ON), ShadowGate(other, ON)]
    taken = [gates[n % 2].take_daily() for n in range(5)]
    assert taken == [True, True, False, False, False]
    assert 0 < client.ttl(day_key(ON)) <= 2 * 86400
    assert day_key(ON).startswith("test:shadow:20") and len(day_key(ON)) == len("test:shadow:YYYY-MM-DD")


@pytest.mark.parametrize(
    ("text", "verdict"),
    [("A is wrong. [[B]]", "B"), ("[[A]]", "A"), ("Both fine.\n[[C]]", "C"), ("first [[A]] then [[B]]", "B"),
     ("no verdict", None), ("[[D]]", None), ("[B]", None)],
)  # fmt: skip
def test_the_judges_verdict_is_its_last_bracketed_letter(text: str, verdict: str | None) -> None:
    assert parse_verdict(text) == verdict


def test_only_a_clearly_better_strong_answer_marks_the_local_one_insufficient() -> None:
    assert verdict_outcome("B") == (False, True)
    assert verdict_outcome("C") == (True, True)
    assert verdict_outcome("A") == (True, False)


def test_the_judge_sees_the_question_and_both_answers_local_first() -> None:
    system, user = judge_messages("Q?", "local words", "strong words")
    assert system["role"] == "system" and "[[B]]" in system["content"]
    body = user["content"]
    assert body.index("Q?") < body.index("local words") < body.index("strong words")


def _record(person: str = "alice") -> Record:
    return Record(person, "local", True, False, {"h": [1], "f": {}, "gain": 0.0, "need": 0.0}, 1, 0.0)


def test_request_records_are_bounded_in_count_and_time(client) -> None:
    config = dataclasses.replace(LearningConfig(), requests_key="test:req", max_requests=3, request_ttl_s=60)
    records = RequestRecords(client, config)
    ids = [new_request_id() for _ in range(5)]
    for request_id in ids:
        records.put(request_id, _record())
    assert [records.get(i) is not None for i in ids] == [False, False, True, True, True]
    assert client.llen("test:req") == 3
    assert all(0 < client.ttl(f"test:req:{i}") <= 60 for i in ids[2:])


def test_the_reask_memory_is_per_person_bounded_and_taken_once(client) -> None:
    config = dataclasses.replace(LearningConfig(), requests_key="test:req", reask_max_per_person=2, reask_window_s=30)
    records = RequestRecords(client, config)
    digests = [prompt_hash(f"question {n}") for n in range(3)]
    for n, digest in enumerate(digests):
        records.remember_local("alice", digest, f"id-{n}")
    assert records.take_reask("bob", digests[2]) is None, "another person's memory"
    assert records.take_reask("alice", digests[0]) is None, "the oldest went past the per-person bound"
    assert records.take_reask("alice", digests[2]) == "id-2"
    assert records.take_reask("alice", digests[2]) is None, "taken once"
    assert 0 < client.ttl(f"test:req:reask:alice:{digests[1]}") <= 30


def test_the_prompt_hash_ignores_spacing_and_needs_the_installations_key(monkeypatch) -> None:
    monkeypatch.setenv("MAXIMUS_MASTER_KEY", "sk-one")
    first = prompt_hash("what  is\nthe capital of peru ")
    assert first == prompt_hash("what is the capital of peru") and "peru" not in first
    monkeypatch.setenv("MAXIMUS_MASTER_KEY", "sk-two")
    assert prompt_hash("what is the capital of peru") != first


@pytest.mark.parametrize(
    "learning",
    [{"shadow_share": 1.5}, {"shadow_share": -0.1}, {"shadow_tier": "local"}, {"shadow_tier": "nowhere"},
     {"shadow_max_per_day": -1}, {"request_ttl_s": 0}, {"max_requests": 0}, {"reask_max_per_person": 0}],
)  # fmt: skip
def test_a_wrong_learning_setting_is_refused_at_load(learning: dict) -> None:
    with pytest.raises(ValueError, match="learning"):
        parse_config({"budget": {"monthly_usd": 0}, "learning": learning})
