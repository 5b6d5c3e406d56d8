"""Labels from the installation's own traffic, through two real gateway processes on one Redis (the Ollama double
as the local tier, an OpenAI double as the power tier): every answer's x-maximus-request-id, feedback under the
key that made the request (given to the other gateway process), re-asks on a strong tier, shadow judging in the
background with its daily bound, a private request never labelled and never shadowed, and `maximus route learn`
reading what they stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml

from maximus_kernel.team_keys import KeyStore
from router.config import load_config
from router.labels import LabelStore, label_vector
from router.need_data import mmlu
from router.request_records import RequestRecords
from router.shadow_judge import day_key
from tests.router import fakes
from tests.support import stack
from tests.support.processes import REPO

pytestmark = pytest.mark.integration

MASTER_KEY = "sk-labels-" + "M4ster" * 4
JUDGE_REPLY = "B is more complete. [[B]]"  # the power double's every answer: also its judge's verdict
LEARNING = load_config().learning


@dataclass
class Traffic:
    client: redis.Redis
    redis_url: str
    ollama: stack.HttpDouble
    power: stack.HttpDouble
    plain: stack.LiteLLMProxy  # the shipped learning settings: shadowing off
    shadowing: stack.LiteLLMProxy  # shadow_share 1.0, at most 2 a day
    keys: dict[str, str]
    workdir: Path

    @property
    def labels(self) -> LabelStore:
        return LabelStore(self.client, LEARNING)

    @property
    def records(self) -> RequestRecords:
        return RequestRecords(self.client, LEARNING)


def _routing_config(workdir: Path, name: str, **learning: Any) -> Path:
    raw = yaml.safe_load((REPO / "litellm" / "routing.yaml").read_text())
    raw["learning"] = {**raw["learning"], **learning}
    path = workdir / f"routing-{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traffic]:
    workdir = tmp_path_factory.mktemp("traffic")
    with (
        stack.redis_server(workdir) as server,
        stack.ollama_double(workdir) as ollama,
        stack.openai_double(workdir, "power", reply=JUDGE_REPLY) as power,
    ):
        client = redis.Redis.from_url(server.url)
        store = KeyStore(client)
        keys = {"alice": store.create("alice"), "bob": store.create("bob"), "admin": MASTER_KEY}
        backends = {"OLLAMA_API_BASE": ollama.base_url, "CLI_PROXY_API_BASE": power.base_url, "REDIS_URL": server.url}
        backends["MAXIMUS_MONTHLY_BUDGET_USD"] = "20"
        plain_config = _routing_config(workdir, "plain")
        shadow_config = _routing_config(workdir, "shadow", shadow_share=1.0, shadow_max_per_day=2)
        with (
            stack.litellm_proxy(workdir, {**backends, "MAXIMUS_ROUTING_CONFIG": str(plain_config)}, MASTER_KEY) as a,
            stack.litellm_proxy(workdir, {**backends, "MAXIMUS_ROUTING_CONFIG": str(shadow_config)}, MASTER_KEY) as b,
        ):
            yield Traffic(client, server.url, ollama, power, a, b, keys, workdir)


@pytest.fixture
def fresh(traffic: Traffic) -> Traffic:
    """No labels, no shadowed request today, nothing recorded by the power double, nothing held."""
    traffic.labels.clear()
    traffic.client.delete(day_key(LEARNING))
    traffic.power.hold(False)
    traffic.power.clear()
    return traffic


def until(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _headers(key: str, tier: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key}"}
    return headers | ({"x-maximus-tier": tier} if tier else {})


def ask(gateway: stack.LiteLLMProxy, key: str, text: str, model: str = "max-buddy", **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": text}]}
    response = httpx.post(
        f"{gateway.openai_base_url}/chat/completions", json=body, headers=_headers(key, extra.get("tier")), timeout=60
    )
    assert response.status_code == 200, response.text
    return response


def recorded(traffic: Traffic, request_id: str) -> Any:
    """The request's record, once its background write (and the re-ask it made before it) is done."""
    found = until(lambda: traffic.records.get(request_id))
    assert found is not None, f"no record of {request_id}"
    return found


def feedback(gateway: stack.LiteLLMProxy, key: str | None, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers["content-type"] = "application/json"
    return httpx.post(f"{gateway.base_url}/v1/maximus/feedback", content=raw, headers=headers, timeout=30)


def stored(traffic: Traffic) -> list[dict[str, Any]]:
    return [{k: v for k, v in label.items() if k != "ts"} for label in traffic.labels.read()]


def expected(text: str, request_id: str, source: str, local_ok: bool | None, strong_ok: bool | None) -> dict:
    return {
        "v": 1,
        "x": label_vector(text, 1),
        "local_ok": local_ok,
        "strong_ok": strong_ok,
        "source": source,
        "request_id": request_id,
    }


# -- request ids -------------------------------------------------------------------------------------------------


def _chat(gateway: stack.LiteLLMProxy, key: str, text: str) -> httpx.Response:
    return ask(gateway, key, text)


def _stream(gateway: stack.LiteLLMProxy, key: str, text: str) -> httpx.Response:
    body = {"model": "max-auto", "stream": True, "messages": [{"role": "user", "content": text}]}
    url = f"{gateway.openai_base_url}/chat/completions"
    with httpx.stream("POST", url, json=body, headers=_headers(key), timeout=60) as response:
        assert response.status_code == 200
        assert "[DONE]" in "".join(response.iter_text())
        return response


def _completion(gateway: stack.LiteLLMProxy, key: str, text: str) -> httpx.Response:
    body = {"model": "max-buddy", "prompt": text, "max_tokens": 20}
    response = httpx.post(f"{gateway.openai_base_url}/completions", json=body, headers=_headers(key), timeout=60)
    assert response.status_code == 200, response.text
    return response


def _responses(gateway: stack.LiteLLMProxy, key: str, text: str) -> httpx.Response:
    body = {"model": "max-buddy", "input": text}
    response = httpx.post(f"{gateway.openai_base_url}/responses", json=body, headers=_headers(key), timeout=60)
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize("shape", [_chat, _stream, _completion, _responses], ids=lambda f: f.__name__.strip("_"))
def test_every_answer_carries_a_request_id_that_finds_its_decision(fresh: Traffic, shape: Callable) -> None:
    text = f"name a colour of the rainbow ({shape.__name__})"
    ids = [shape(fresh.plain, fresh.keys["alice"], text).headers["x-maximus-request-id"] for _ in range(2)]
    assert len(set(ids)) == 2, "each answer has its own id"
    record = recorded(fresh, ids[0])
    assert (record.person, record.tier, record.local, record.private) == ("alice", "local", True, False)
    assert record.x == label_vector(text, 1)


# -- feedback ----------------------------------------------------------------------------------------------------


def test_feedback_labels_a_local_answer_from_the_other_gateway_process(fresh: Traffic) -> None:
    text = "what is the boiling point of water at sea level"
    request_id = ask(fresh.plain, fresh.keys["alice"], text).headers["x-maximus-request-id"]
    recorded(fresh, request_id)
    response = feedback(fresh.shadowing, fresh.keys["alice"], {"request_id": request_id, "verdict": "insufficient"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "request_id": request_id,
        "labelled": True,
        "label": {"source": "feedback", "local_ok": False, "strong_ok": None},
    }
    assert stored(fresh) == [expected(text, request_id, "feedback", False, None)]
    again = feedback(fresh.plain, fresh.keys["alice"], {"request_id": request_id, "verdict": "good"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "feedback_already_given"
    assert len(stored(fresh)) == 1


def test_feedback_on_someone_elses_request_is_refused_the_master_key_may(fresh: Traffic) -> None:
    text = "how many legs does a spider have"
    request_id = ask(fresh.plain, fresh.keys["alice"], text).headers["x-maximus-request-id"]
    recorded(fresh, request_id)
    refused = feedback(fresh.plain, fresh.keys["bob"], {"request_id": request_id, "verdict": "insufficient"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] | {"message": ""} == {
        "message": "",
        "type": "permission_error",
        "param": "request_id",
        "code": "not_your_request",
    }
    assert stored(fresh) == []
    admin = feedback(fresh.plain, MASTER_KEY, {"request_id": request_id, "verdict": "good"})
    assert admin.status_code == 200, admin.text
    assert stored(fresh) == [expected(text, request_id, "feedback", True, None)]


def test_feedback_on_a_strong_answer_labels_the_strong_tier(fresh: Traffic) -> None:
    text = "compare two sorting algorithms for nearly sorted data"
    request_id = ask(fresh.plain, fresh.keys["bob"], text, model="max-genius").headers["x-maximus-request-id"]
    assert recorded(fresh, request_id).tier == "power"
    response = feedback(fresh.plain, fresh.keys["bob"], {"request_id": request_id, "verdict": "good"})
    assert response.status_code == 200, response.text
    assert stored(fresh) == [expected(text, request_id, "feedback", None, True)]


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (b"[]", 400, "body"),
        (b"{not json", 400, "body"),
        ({"verdict": "good"}, 400, "request_id"),
        ({"request_id": "mxr-" + "0" * 32, "verdict": "meh"}, 400, "verdict"),
        ({"request_id": "mxr-" + "0" * 32, "verdict": "good", "why": "x"}, 400, "why"),
        ({"request_id": "mxr-" + "0" * 32, "verdict": "good"}, 404, "request_id"),
        ({"request_id": "../../etc", "verdict": "good"}, 404, "request_id"),
    ],
)
def test_malformed_or_unknown_feedback_is_a_clear_openai_error(fresh: Traffic, body: Any, status: int, param: str):
    response = feedback(fresh.plain, fresh.keys["alice"], body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]
    assert stored(fresh) == []


def test_feedback_without_a_key_is_401_and_other_methods_405(fresh: Traffic) -> None:
    assert feedback(fresh.plain, None, {"request_id": "mxr-" + "0" * 32, "verdict": "good"}).status_code == 401
    got = httpx.get(f"{fresh.plain.base_url}/v1/maximus/feedback", headers=_headers(MASTER_KEY), timeout=30)
    assert got.status_code == 405 and got.json()["error"]["code"] == "method_not_allowed"


# -- private requests --------------------------------------------------------------------------------------------


def test_a_private_request_is_never_labelled_its_id_says_so(fresh: Traffic) -> None:
    text = f"Say hi. My token is {fakes.GITHUB_TOKEN}"
    response = ask(fresh.plain, fresh.keys["alice"], text)
    request_id = response.headers["x-maximus-request-id"]
    record = recorded(fresh, request_id)
    assert record.private and record.x is None
    answer = feedback(fresh.plain, fresh.keys["alice"], {"request_id": request_id, "verdict": "insufficient"})
    assert answer.status_code == 200, answer.text
    assert answer.json() | {"message": ""} == {
        "request_id": request_id,
        "labelled": False,
        "reason": "private",
        "message": "",
    }
    assert answer.json()["message"].startswith("not labelled: private")
    reask = ask(fresh.plain, fresh.keys["alice"], text, model="max-genius")  # redirected local, never a re-ask
    recorded(fresh, reask.headers["x-maximus-request-id"])
    assert stored(fresh) == []
    everything = b"".join(v for k in fresh.client.scan_iter("maximus:*") if (v := _value(fresh.client, k)))
    assert fakes.GITHUB_TOKEN.encode() not in everything


def _value(client: redis.Redis, key: bytes) -> bytes:
    kind = client.type(key)
    if kind == b"string":
        return client.get(key) or b""
    if kind == b"list":
        return b"".join(client.lrange(key, 0, -1))
    return b""


# -- re-asks ------------------------------------------------------------------------------------------------------


def test_a_reask_on_a_strong_tier_labels_the_local_answer_insufficient_once(fresh: Traffic) -> None:
    text = "what year did the berlin wall fall"
    first = ask(fresh.plain, fresh.keys["alice"], text).headers["x-maximus-request-id"]
    recorded(fresh, first)
    ttls = [fresh.client.ttl(k) for k in fresh.client.scan_iter(f"{LEARNING.requests_key}:reask:alice:*")]
    assert ttls and all(0 < t <= LEARNING.reask_window_s for t in ttls), "remembered for the window only"
    someone_else = ask(fresh.plain, fresh.keys["bob"], text, model="max-genius")
    recorded(fresh, someone_else.headers["x-maximus-request-id"])
    other_prompt = ask(fresh.plain, fresh.keys["alice"], "what year did the first moon landing happen", "max-genius")
    recorded(fresh, other_prompt.headers["x-maximus-request-id"])
    assert stored(fresh) == [], "another person's re-ask, or another prompt, labels nothing"
    reask = ask(fresh.plain, fresh.keys["alice"], f"  {text} ", model="max-auto", tier="power")
    assert reask.headers["x-maximus-tier"] == "power"
    recorded(fresh, reask.headers["x-maximus-request-id"])
    assert stored(fresh) == [expected(text, first, "reask", False, None)]
    again = ask(fresh.plain, fresh.keys["alice"], text, model="max-opus")
    recorded(fresh, again.headers["x-maximus-request-id"])
    assert len(stored(fresh)) == 1, "a local answer is labelled by one re-ask"


# -- shadow judging ------------------------------------------------------------------------------------------------


def _power_bodies(traffic: Traffic) -> list[dict[str, Any]]:
    return [r["body"] for r in traffic.power.requests()]


def _local_answer(traffic: Traffic, text: str, streaming: bool) -> tuple[str, str]:
    """(request id, answer text) of a local answer, streamed or not."""
    if not streaming:
        response = ask(traffic.shadowing, traffic.keys["alice"], text)
        return response.headers["x-maximus-request-id"], response.json()["choices"][0]["message"]["content"]
    body = {"model": "max-buddy", "stream": True, "messages": [{"role": "user", "content": text}]}
    url = f"{traffic.shadowing.openai_base_url}/chat/completions"
    with httpx.stream("POST", url, json=body, headers=_headers(traffic.keys["alice"]), timeout=60) as response:
        assert response.status_code == 200
        lines = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]", "the stream ended while the strong tier held the shadow call"
    pieces = [json.loads(line)["choices"] for line in lines[:-1]]
    text_out = "".join(c[0]["delta"].get("content") or "" for c in pieces if c)
    return response.headers["x-maximus-request-id"], text_out


@pytest.mark.parametrize("streaming", [False, True], ids=["json", "stream"])
def test_shadow_judging_labels_a_local_answer_in_the_background(fresh: Traffic, streaming: bool) -> None:
    fresh.power.hold(True)  # the strong tier answers nothing until released: a client waiting on it would hang
    text = f"what is the tallest mountain in africa ({'streamed' if streaming else 'whole'})"
    request_id, answer = _local_answer(fresh, text, streaming)
    assert answer.startswith("Local answer")
    assert until(lambda: len(_power_bodies(fresh)) == 1), "the shadow call reached the strong tier"
    assert stored(fresh) == [], "no label while the strong tier has not answered"
    assert _power_bodies(fresh)[0]["messages"] == [{"role": "user", "content": text}]
    fresh.power.hold(False)
    assert until(lambda: stored(fresh))
    assert stored(fresh) == [expected(text, request_id, "judge", False, True)]
    judge = _power_bodies(fresh)[1]["messages"]
    assert "[[B]]" in judge[0]["content"] and text in judge[1]["content"]
    assert answer in judge[1]["content"]
    assert int(fresh.client.get(day_key(LEARNING))) == 1


def test_a_secret_bearing_request_is_never_shadowed_even_at_100_percent(fresh: Traffic) -> None:
    secret = f"Summarise this config: token={fakes.GITHUB_TOKEN}"
    private_id = ask(fresh.shadowing, fresh.keys["alice"], secret).headers["x-maximus-request-id"]
    plain_text = "what is the capital of canada"
    plain_id = ask(fresh.shadowing, fresh.keys["alice"], plain_text).headers["x-maximus-request-id"]
    assert until(lambda: stored(fresh)), "the request after it was shadowed and judged"
    assert stored(fresh) == [expected(plain_text, plain_id, "judge", False, True)]
    bodies = _power_bodies(fresh)
    assert len(bodies) == 2, "the power double received the plain request's shadow and judge calls only"
    assert fakes.GITHUB_TOKEN not in json.dumps(bodies)
    assert recorded(fresh, private_id).private
    assert int(fresh.client.get(day_key(LEARNING))) == 1, "the private request never reached the daily counter"


def test_the_daily_bound_holds_across_requests(fresh: Traffic) -> None:
    texts = [f"name a famous river in country number {n}" for n in range(5)]
    for text in texts:
        ask(fresh.shadowing, fresh.keys["bob"], text)
    assert until(lambda: fresh.client.get(day_key(LEARNING)) == b"5"), "all five answers went through the gate"
    assert until(lambda: len(stored(fresh)) == 2)
    assert len(_power_bodies(fresh)) == 4, "exactly two shadowed: a strong answer and a judgement each"
    assert {label["source"] for label in stored(fresh)} == {"judge"}
    assert 0 < fresh.client.ttl(day_key(LEARNING)) <= 2 * 86400


# -- route learn ---------------------------------------------------------------------------------------------------


def test_route_learn_fits_an_adapter_on_the_labels_the_gateway_stored(fresh: Traffic) -> None:
    hard = [e.text for e in mmlu() if e.group == "global_facts"][:12]
    easy = [e.text for e in mmlu() if e.group == "high_school_biology"][:12]
    for texts, verdict in ((hard, "insufficient"), (easy, "good")):
        for text in texts:
            request_id = ask(fresh.plain, fresh.keys["alice"], text).headers["x-maximus-request-id"]
            recorded(fresh, request_id)
            assert feedback(fresh.plain, fresh.keys["alice"], {"request_id": request_id, "verdict": verdict}).is_success
    assert len(stored(fresh)) == 24
    config = _routing_config(fresh.workdir, "learn", min_labels=20, guard_folds=2, guard_repeats=1)
    env = {**os.environ, "MAXIMUS_REDIS_URL": fresh.redis_url, "MAXIMUS_ROUTING_CONFIG": str(config)}
    cmd = [sys.executable, "-m", "maximus.cli", "route", "learn"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr + done.stdout
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        assert summary["source"] == "stored labels" and summary["labels"] == 24
        assert summary["guard"]["verdict"] in ("accepted", "refused")
    finally:
        subprocess.run([*cmd, "--reset"], capture_output=True, env=env, timeout=120)
