"""`maximus route learn` offline: a labels file in, an adapter out in Redis that `maximus route` then uses (and says
so); the guard refuses an adapter that ranks the held-back labels worse than the shipped model; --reset removes
it; the pure-Python adapter scores exactly as the fitted scikit-learn model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import redis

from router import adapter as adapter_store
from router.adapter_train import learn as fit_models
from router.adapter_train import rows
from router.config import load_config
from router.labels import label_vector
from router.need import NeedModel
from router.need_data import mmlu

HARD, EASY = "global_facts", "high_school_biology"  # labelled: the local model fails one, passes the other


def _body(text: str) -> dict:
    return {"model": "max-auto", "messages": [{"role": "user", "content": text}]}


def _questions(domain: str) -> list[str]:
    return [e.text for e in mmlu() if e.group == domain]


def _line(text: str, local_ok: bool, strong_ok: bool) -> str:
    return json.dumps({"request": _body(text), "local_ok": local_ok, "strong_ok": strong_ok})


def in_domain_lines() -> list[str]:
    """Every HARD question but the last 10 needs the strong tier; the EASY ones are answered well locally."""
    return [_line(t, False, True) for t in _questions(HARD)[:-10]] + [_line(t, True, True) for t in _questions(EASY)]


def misleading_lines() -> list[str]:
    """Labels the shipped model already ranks perfectly (need exactly where its score is in the top half): an
    adapter can only add noise to that ranking, so on held-back labels it ranks worse."""
    need = NeedModel.load(load_config().need.model_file)
    texts = _questions(HARD) + _questions(EASY)
    scores = [need.score(t) for t in texts]
    median = float(np.median(scores))
    return [_line(t, s < median, True) for t, s in zip(texts, scores, strict=True)]


def _maximus(args: list[str], redis_url: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "MAXIMUS_REDIS_URL": redis_url}
    cmd = [sys.executable, "-m", "maximus.cli", "route", *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture()
def client(redis_server):
    connection = redis.Redis.from_url(redis_server.url)
    yield connection
    adapter_store.remove(connection, load_config().learning)
    connection.close()


def _learn(tmp_path: Path, lines: list[str], redis_url: str) -> dict:
    path = tmp_path / "labels.jsonl"
    path.write_text("\n".join(lines) + "\n")
    done = _maximus(["learn", str(path)], redis_url)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _route(text: str, redis_url: str) -> dict:
    done = _maximus([], redis_url, json.dumps(_body(text)) + "\n")
    return json.loads(done.stdout)


def test_learn_from_a_file_stores_an_adapter_that_route_uses_and_reset_removes(tmp_path, client, redis_server):
    unseen = _questions(HARD)[-1]  # a HARD question no label holds
    before = _route(unseen, redis_server.url)
    result = _learn(tmp_path, in_domain_lines(), redis_server.url)
    assert result["used"] is True and result["guard"]["verdict"] == "accepted"
    assert result["guard"]["adapted_apgr"] >= result["guard"]["shipped_apgr"]
    assert result["labels"] == len(in_domain_lines()) and 0.0 < result["threshold"] < 1.0
    stored = adapter_store.load(client, load_config().learning)
    assert stored is not None and stored.id == result["adapter"]
    assert client.hget(adapter_store.meta_key(load_config().learning), "verdict") == b"accepted"

    after = _route(unseen, redis_server.url)
    assert after["score"] > before["score"]
    assert any(r.startswith("adapter: need score") for r in after["reasons"])
    assert not any(r.startswith("adapter") for r in before["reasons"])

    done = _maximus(["learn", "--reset"], redis_server.url)
    assert done.returncode == 0 and json.loads(done.stdout) == {"reset": True, "removed": True}
    assert adapter_store.load(client, load_config().learning) is None
    assert _route(unseen, redis_server.url) == before


def test_guard_refuses_an_adapter_that_ranks_held_back_labels_worse(tmp_path, client, redis_server):
    result = _learn(tmp_path, misleading_lines(), redis_server.url)
    guard = result["guard"]
    assert guard["verdict"] == "refused" and result["used"] is False
    assert guard["adapted_apgr"] < guard["shipped_apgr"]
    # Stored for the metrics (its verdict), never used to route.
    text = _questions(HARD)[0]
    assert not any(r.startswith("adapter") for r in _route(text, redis_server.url)["reasons"])


def test_private_lines_are_never_labelled_and_bad_lines_are_counted(tmp_path, client, redis_server):
    secret = "my key is ghp_" + "A1b2" * 9 + " why does this fail?"
    lines = [*in_domain_lines(), _line(secret, False, True), "not json", json.dumps({"request": _body("x")})]
    result = _learn(tmp_path, lines, redis_server.url)
    assert result["private_skipped"] == 1 and result["skipped_lines"] == 2
    assert result["labels"] == len(in_domain_lines())


def test_learn_explains_what_is_missing(tmp_path, redis_server):
    few = tmp_path / "few.jsonl"
    few.write_text("\n".join(in_domain_lines()[:5]) + "\n")
    done = _maximus(["learn", str(few)], redis_server.url)
    assert done.returncode == 2 and "learning.min_labels" in done.stderr and "Traceback" not in done.stderr
    down = _maximus(["learn", str(few)], "redis://127.0.0.1:1/0")
    assert down.returncode == 1 and "does not answer: start the stack" in down.stderr
    missing = _maximus(["learn", str(tmp_path / "absent.jsonl")], redis_server.url)
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_the_exported_adapter_scores_as_the_fitted_scikit_learn_model() -> None:
    from router.adapter import Adapter
    from router.adapter_train import export

    texts = _questions(HARD)[:40] + _questions(EASY)[:40]
    labels = [{"x": label_vector(t), "local_ok": i < 40, "strong_ok": True} for i, t in enumerate(texts)]
    data = rows(labels)
    fitted = fit_models(data, np.arange(len(data)), alpha=0.1, weight=0.3)
    weights = export(fitted, data)
    adapter = Adapter(threshold=0.5, guard={}, labels=len(labels), created=0.0, id="t", **weights)
    unseen = [label_vector(t) for t in _questions(HARD)[40:60] + _questions("anatomy")[:20]]
    expected = fitted.predict(rows([{"x": x} for x in unseen]).terms)
    assert np.allclose([adapter.vector_delta(x) for x in unseen], expected, atol=1e-4)


def test_the_decision_path_scores_a_text_as_its_stored_label_vector() -> None:
    """router.adapter.text_delta (arrays, the gateway's path) against delta on hashed_terms (the labels' path)."""
    from router.adapter import Adapter, hashed_buckets, hashed_terms
    from router.adapter_train import export

    texts = _questions(HARD)[:40] + _questions(EASY)[:40]
    labels = [{"x": label_vector(t), "local_ok": i < 40, "strong_ok": True} for i, t in enumerate(texts)]
    data = rows(labels)
    adapter = Adapter(
        threshold=0.5,
        guard={},
        labels=80,
        created=0.0,
        id="t",
        **export(fit_models(data, np.arange(80), 0.1, 0.3), data),
    )
    for text in [*_questions(HARD)[40:60], "", "!!!", "naïve café " * 300]:
        assert list(hashed_buckets(text)) == sorted(hashed_terms(text))
        assert adapter.text_delta(text) == pytest.approx(adapter.delta(hashed_terms(text)), abs=1e-12)
