"""`maximus route learn [FILE] [--reset]`: fits the in-domain adapter from the stored labels (router.labels) or
from a JSONL file of `{"request": {...chat body...}, "local_ok": bool, "strong_ok": bool}` lines, guards it,
calibrates its threshold to sovereignty_target on adapted scores, and stores it in the stack's Redis, where the
running gateway picks it up within learning.refresh_s and `maximus route` reads it at start.

Why Redis and not a file: it is the one store both modes share. In compose mode the gateway runs in a container
with no writable mount of the checkout, while the stack's Redis is published on the host; natively it is the
same Redis the labels, the budget and the tracker already use. The gateway never reads it per request: a
background task re-reads the adapter's id and fetches the body only when it changed."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router import adapter as adapter_store
from router.adapter import Adapter
from router.calibrate import outcomes
from router.labels import make_label
from router.need_data import CALIBRATION_PATH
from router.policy import RoutingPolicy
from router.request import last_user_text, messages_of
from router.sovereignty import Outcome


@dataclass(frozen=True)
class FileLabels:
    labels: list[dict[str, Any]]
    skipped: int  # lines that are not a labelled chat request
    private: int  # requests the privacy guard flags: never labelled


def _outcome(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def labels_from_lines(policy: RoutingPolicy, lines: Iterable[str]) -> FileLabels:
    """Labels of the file's requests; a private request is never turned into a label."""
    labels, skipped, private = [], 0, 0
    for line in lines:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            row = None
        request = row.get("request") if isinstance(row, dict) else None
        local_ok, strong_ok = (_outcome(row.get("local_ok")), _outcome(row.get("strong_ok"))) if row else (None, None)
        text = last_user_text(request) if isinstance(request, dict) else ""
        if not text.strip() or (local_ok is None and strong_ok is None):
            skipped += 1
            continue
        if policy.guard.scan(request).hit:
            private += 1
            continue
        turns = max(1, sum(1 for m in messages_of(request) if m.get("role") == "user"))
        labels.append(make_label(text, turns, local_ok, strong_ok, "file"))
    return FileLabels(labels, skipped, private)


def _calibration_bodies(path: Path = CALIBRATION_PATH) -> Iterator[dict[str, Any]]:
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)


def calibrate_adapter(policy: RoutingPolicy, fitted: Adapter, labels: list[dict[str, Any]]) -> Adapter:
    """The threshold that keeps sovereignty_target local, on adapted scores, over the shipped calibration sample
    (every kind of request, forced decisions included) and the labelled requests (this installation's own)."""
    from router.adapter_train import calibrated

    scoring = RoutingPolicy(policy.config)
    scoring.adapter = fitted.as_accepted()
    sample = outcomes(scoring, _calibration_bodies())
    if scoring.need is not None:
        for label in labels:
            x = label["x"]
            score = scoring.need.probability(float(x["gain"]) + fitted.vector_delta(x))
            sample.append(Outcome(score, True))
    return calibrated(fitted, sample, policy.config.sovereignty_target)


def learn(policy: RoutingPolicy, labels: list[dict[str, Any]]) -> Adapter:
    """The adapter fitted on these labels, guarded and calibrated (needs the dev extra: scikit-learn)."""
    from router.adapter_train import fit

    fitted = fit(labels, policy.config.learning)
    return calibrate_adapter(policy, fitted, labels)


def summary(adapter: Adapter, source: str) -> dict[str, Any]:
    """The `route learn` output line: what was fitted, the guard's verdict and both figures."""
    return {
        "adapter": adapter.id,
        "source": source,
        "labels": adapter.labels,
        "terms": len(adapter.terms),
        "guard": adapter.guard,
        "used": adapter.accepted,
        "threshold": adapter.threshold,
    }


def store(client: Any, policy: RoutingPolicy, adapter: Adapter) -> None:
    adapter_store.save(client, policy.config.learning, adapter)


def reset(client: Any, policy: RoutingPolicy) -> bool:
    return adapter_store.remove(client, policy.config.learning)


def _client(policy: RoutingPolicy) -> tuple[Any, str]:
    import redis

    from router.labels import redis_url

    url = redis_url(policy.config)
    timeout = policy.config.learning.timeout_s * 4  # a one-shot command: more patience than the gateway's read
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout), url


def run(policy: RoutingPolicy, file: Path | None, reset_only: bool) -> tuple[int, str]:
    """The command's exit code and its one output line (JSON on success, an error sentence otherwise)."""
    import redis

    from router.labels import LabelStore

    client, url = _client(policy)
    try:
        client.ping()  # before a fit of seconds that could not be stored
        if reset_only:
            removed = reset(client, policy)
            return 0, json.dumps({"reset": True, "removed": removed})
        if file is not None:
            found = labels_from_lines(policy, file.read_text(encoding="utf-8").splitlines())
            labels, source = found.labels, str(file)
            extra = {"skipped_lines": found.skipped, "private_skipped": found.private}
        else:
            labels, source, extra = LabelStore(client, policy.config.learning).read(), "stored labels", {}
        adapter = learn(policy, labels)
        store(client, policy, adapter)
        return 0, json.dumps(summary(adapter, source) | extra)
    except (redis.RedisError, OSError) as exc:
        if isinstance(exc, FileNotFoundError | IsADirectoryError | UnicodeDecodeError):
            return 2, f"cannot read {file}: {exc.strerror or 'not a text file'}"
        return 1, f"the stack's Redis at {url} does not answer: start the stack (maximus up) or set MAXIMUS_REDIS_URL"
    except ImportError as exc:
        return 2, f"{exc.name} is needed to fit an adapter: reinstall Maximus (pip install -e .), which depends on it"
    except ValueError as exc:
        return 2, str(exc)
