"""A bounded property-based campaign against a real HTTP service: schemathesis generates requests from an OpenAPI
document (bodies that fit it and bodies that break it), each is sent once, and every answer is recorded.

Nothing is shrunk and nothing raises inside Hypothesis: the test asserts on the whole record afterwards (0 5xx,
0 answers slower than the hang limit, 0 connection failures), and the offending requests are listed."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

HANG_S = 30.0


@dataclass
class Outcome:
    method: str
    operation: str  # the document's path template
    path: str
    status: int | None  # None: no answer (timeout or connection failure)
    seconds: float
    body: str

    def describe(self) -> str:
        return f"{self.method} {self.path} -> {self.status} in {self.seconds:.1f}s: {self.body[:300]}"


@dataclass
class Campaign:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def server_errors(self) -> list[str]:
        return [o.describe() for o in self.outcomes if o.status is not None and o.status >= 500]

    @property
    def hangs(self) -> list[str]:
        return [o.describe() for o in self.outcomes if o.status is None or o.seconds > HANG_S]

    def statuses(self) -> set[int]:
        return {o.status for o in self.outcomes if o.status is not None}

    def record(self, method: str, operation: str, path: str, body: str, call: Callable[[], Any]) -> None:
        """Send one request through `call` and keep what came back; a 5xx keeps the start of its answer."""
        started = time.monotonic()
        try:
            response = call()
            status, text = response.status_code, response.text
        except requests.RequestException as exc:
            status, text = None, type(exc).__name__
        if status is not None and status >= 500:
            body = f"{body} => {text[:200]}"
        self.outcomes.append(Outcome(method, operation, path, status, time.monotonic() - started, body))


def _campaign_settings(max_examples: int) -> settings:
    """Generate only (no shrinking, no example database): a campaign reports every outcome, not one minimal case.
    The same examples on every run, so that CI is repeatable; MAXIMUS_FUZZ_RANDOM=1 draws new ones."""
    return settings(
        max_examples=max_examples,
        derandomize=os.environ.get("MAXIMUS_FUZZ_RANDOM") != "1",
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def run_campaign(document: Mapping[str, Any], base_url: str, headers: Mapping[str, str], max_examples: int) -> Campaign:
    """`max_examples` requests in all, generated in both modes (fitting and breaking the document)."""
    schema = schemathesis.openapi.from_dict(dict(document))
    strategy = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))
    campaign = Campaign()
    session = requests.Session()

    @_campaign_settings(max_examples)
    @given(case=strategy)
    def send(case: Any) -> None:
        body = case.body if isinstance(case.body, (str, bytes)) else repr(case.body)
        campaign.record(
            case.method.upper(),
            case.path,
            case.formatted_path,
            str(body)[:200],
            lambda: case.call(base_url=base_url, session=session, headers=dict(headers), timeout=HANG_S),
        )

    try:
        send()
    finally:
        session.close()
    return campaign


# Any JSON value, small: what a careless or hostile client may put in a body or in one field of it.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def field_mutations(valid: Mapping[str, Any], fields: list[str]) -> st.SearchStrategy[Any]:
    """A valid body with one field replaced by any JSON value, or any JSON value as the whole body."""
    one_field = st.builds(lambda key, value: {**valid, key: value}, st.sampled_from(fields), JSON_VALUES)
    return st.one_of(one_field, JSON_VALUES)


def run_body_campaign(
    url: str, headers: Mapping[str, str], bodies: st.SearchStrategy[Any], max_examples: int
) -> Campaign:
    """POST `max_examples` JSON bodies drawn from `bodies` to `url`."""
    campaign = Campaign()
    session = requests.Session()

    @_campaign_settings(max_examples)
    @given(body=bodies)
    def send(body: Any) -> None:
        # json.dumps writes Infinity for an infinite float: non-standard JSON the gateway must refuse too.
        raw = json.dumps(body).encode("utf-8", "surrogatepass")
        json_headers = {**headers, "content-type": "application/json"}
        campaign.record(
            "POST",
            url,
            url,
            repr(body)[:200],
            lambda: session.post(url, data=raw, headers=json_headers, timeout=HANG_S),
        )

    try:
        send()
    finally:
        session.close()
    return campaign


def served_document(base_url: str, headers: Mapping[str, str]) -> dict[str, Any]:
    """A Maximus service's own OpenAPI document; it is served only with the key (maximus_kernel.service_app)."""
    without_key = requests.get(f"{base_url}/openapi.json", timeout=30)
    assert without_key.status_code == 401, f"/openapi.json answered {without_key.status_code} without the key"
    response = requests.get(f"{base_url}/openapi.json", headers=dict(headers), timeout=30)
    response.raise_for_status()
    return response.json()


def operations(document: Mapping[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    return {(m.upper(), path) for path, item in document["paths"].items() for m in item if m in methods}


def assert_clean(campaign: Campaign, document: Mapping[str, Any]) -> None:
    assert {(o.method, o.operation) for o in campaign.outcomes} == operations(document)  # every operation was tried
    assert campaign.server_errors == []
    assert campaign.hangs == []
