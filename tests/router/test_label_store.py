"""The label store keeps feature vectors in the stack's Redis, newest first and capped, never the raw text unless
the operator opts in; label_vector is stable across processes."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
import redis

from router.adapter import hashed_terms
from router.config import LearningConfig
from router.labels import InvalidLabel, LabelStore, label_vector, make_label

PROMPT = "Explain why the sky is blue, then compute the wavelength ratio of red to blue light."


@pytest.fixture()
def client(redis_server):
    connection = redis.Redis.from_url(redis_server.url)
    yield connection
    connection.delete("test:labels")
    connection.close()


def _store(client, **changes) -> LabelStore:
    return LabelStore(client, dataclasses.replace(LearningConfig(labels_key="test:labels"), **changes))


def test_label_vector_holds_hashed_terms_features_and_the_shipped_score_never_the_text() -> None:
    x = label_vector(PROMPT, 1)
    assert set(x) == {"h", "f", "gain", "need"}
    assert x["h"] == sorted(set(x["h"])) and len(x["h"]) > 20
    assert 0.0 < x["need"] < 1.0 and "f:chars" in x["f"]
    assert "sky" not in json.dumps(x)


def test_hashed_terms_are_the_same_in_another_process() -> None:
    code = f"from router.adapter import hashed_terms; print(sorted(hashed_terms({PROMPT!r})))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=None)
    assert json.loads(other.stdout) == sorted(hashed_terms(PROMPT))


def test_store_keeps_newest_first_and_trims_to_max_labels(client) -> None:
    store = _store(client, max_labels=3)
    for i in range(5):
        store.add_from_text(f"{PROMPT} #{i}", 1, i % 2 == 0, True, "feedback", request_id=f"r{i}")
    assert store.count() == 3
    assert [label["request_id"] for label in store.read()] == ["r4", "r3", "r2"]
    assert store.read(limit=1)[0]["local_ok"] is True
    store.clear()
    assert store.count() == 0


def test_text_is_kept_only_when_the_operator_opts_in(client) -> None:
    _store(client).add(make_label(PROMPT, 1, False, None, "reask", keep_text=True))
    assert "text" not in _store(client).read()[0] and PROMPT not in str(client.lrange("test:labels", 0, -1))
    _store(client, keep_text=True).add_from_text(PROMPT, 1, False, None, "reask")
    assert _store(client).read()[0]["text"] == PROMPT


def test_malformed_labels_are_refused_and_unreadable_entries_skipped(client) -> None:
    store = _store(client)
    with pytest.raises(InvalidLabel, match="source"):
        store.add_from_text(PROMPT, 1, True, True, "guess")
    with pytest.raises(InvalidLabel, match="local_ok or strong_ok"):
        store.add_from_text(PROMPT, 1, None, None, "feedback")
    with pytest.raises(InvalidLabel, match="local_ok"):
        store.add({**make_label(PROMPT, 1, True, None, "judge"), "local_ok": "yes"})
    client.lpush("test:labels", "not json", json.dumps({"v": 1}))
    store.add_from_text(PROMPT, 1, True, False, "judge")
    assert store.count() == 3 and len(store.read()) == 1
