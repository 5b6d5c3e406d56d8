"""The routing policy of /v1/embeddings: an embedding stays on the machine unless the client names a cloud model.

Decision order, each step recording its reason (router.decision.Decision, so the headers and the tracker's event
are the chat ones):
1. the input: a string, an array of strings, or token arrays (OpenAI's shapes); anything else is a 400;
2. max-auto (or no model) → the local embedding group (routing.yaml `embeddings.model`, max-embed);
3. a named embedding group (model_info.mode embedding): a local one answers; a cloud one only for an input
   without private data (privacy guard over every input text, token arrays decoded first) and under the budget;
4. any other model (a chat group, an unknown name) → a 400 that names the models that embed.

Private data named to a cloud model is refused (403) by default, not redirected: a vector of the local model lives
in another space (and dimension) than the one the client's index was built with. `embeddings.private_action:
redirect` answers from the local model instead.

No LiteLLM import: the groups and the token decoder come from the caller (router.litellm_embeddings).
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from router.budget import BudgetStatus
from router.decision import Decision
from router.privacy import TOO_LARGE_TO_SCAN as UNSCANNED
from router.privacy import PrivacyFinding
from router.request import MalformedRequest

EMBEDDING_CALL_TYPES = frozenset({"embedding", "aembedding"})
SOVEREIGN_TIERS = frozenset({"local", "vision"})
MAX_INPUTS = 2048  # OpenAI's limit of inputs per request
API_META = "maximus_api"  # the API shape, for the tracker's per-API counts
FORMAT_META = "maximus_encoding_format"  # the client's encoding_format (LiteLLM drops it for Ollama)
REDIRECT, REFUSE = "redirect", "refuse"

Decoder = Callable[[list[int]], str]


@dataclass(frozen=True)
class EmbeddingSettings:
    model: str = "max-embed"  # the local embedding group: max-auto embeds here
    private_action: str = REFUSE  # refuse | redirect: private data named to a cloud embedding model


@dataclass(frozen=True)
class Group:
    """A model group of the proxy as this policy sees it: its tier and whether it embeds."""

    tier: str | None
    embeds: bool


class EmbeddingRefusal(Exception):
    """A request answered with an OpenAI-style error instead of an embedding (the hook turns it into an
    HTTPException)."""

    def __init__(self, status: int, message: str, type: str, param: str | None, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code


@lru_cache(maxsize=4)
def load_settings(source: Path | None) -> EmbeddingSettings:
    """routing.yaml's `embeddings` section (defaults without one)."""
    raw = yaml.safe_load(source.read_text(encoding="utf-8")) if source is not None and source.is_file() else {}
    section = (raw or {}).get("embeddings") or {}
    action = str(section.get("private_action", REFUSE)).lower()
    if action not in (REDIRECT, REFUSE):
        raise ValueError(f"embeddings.private_action must be redirect or refuse, not {action!r}")
    return EmbeddingSettings(model=str(section.get("model", EmbeddingSettings.model)), private_action=action)


# -- the input ---------------------------------------------------------------------------------------------
def _is_tokens(value: Any) -> bool:
    return (
        isinstance(value, list) and bool(value) and all(isinstance(t, int) and not isinstance(t, bool) for t in value)
    )


def input_items(data: Mapping[str, Any]) -> list[str | list[int]]:
    """The inputs, one per vector: texts or token arrays. Raises MalformedRequest for anything OpenAI refuses."""
    value = data.get("input")
    if value == "":
        raise MalformedRequest("'input' must not be empty.", "input")
    if isinstance(value, str):
        value = [value]
    elif _is_tokens(value):
        value = [value]  # one token array
    if not isinstance(value, list) or not value:
        raise MalformedRequest(
            "'input' must be a non-empty string, an array of strings, or an array of token arrays.", "input"
        )
    if len(value) > MAX_INPUTS:
        raise MalformedRequest(f"'input' holds {len(value)} items; at most {MAX_INPUTS} per request.", "input")
    for i, item in enumerate(value):
        if isinstance(item, str) and item:
            continue
        if not _is_tokens(item):
            raise MalformedRequest(
                f"'input[{i}]' must be a non-empty string or a non-empty array of token ids.", f"input[{i}]"
            )
    return value


def texts_of(items: Sequence[str | list[int]], decode: Decoder | None) -> list[str] | None:
    """Every input as text, token arrays decoded; None when a token array cannot be decoded (no decoder)."""
    texts = []
    for item in items:
        if isinstance(item, str):
            texts.append(item)
        elif decode is None:
            return None
        else:
            texts.append(decode(item))
    return texts


# -- the decision ------------------------------------------------------------------------------------------
def _bad_model(model: str, groups: Mapping[str, Group], settings: EmbeddingSettings, virtual: str) -> MalformedRequest:
    embedders = [settings.model, virtual, *sorted(n for n, g in groups.items() if g.embeds and n != settings.model)]
    names = ", ".join(embedders)
    if model in groups:
        what = f"'{model}' is a chat model and does not embed"
    else:
        what = f"'{model}' is not an embedding model of this gateway"
    return MalformedRequest(
        f"{what}: use one of {names} on /v1/embeddings ({settings.model} is local). A cloud embedding model is "
        "there only when its API key is set (OPENAI_API_KEY for text-embedding-3-small).",
        "model",
    )


def _explicit_tier(data: Mapping[str, Any], headers: Mapping[str, str], header: str, key: str) -> str | None:
    metadata = data.get("metadata") if isinstance(data.get("metadata"), Mapping) else {}
    for value in (headers.get(header), metadata.get(key)):
        if isinstance(value, str) and value.strip():
            return value.strip().lower()[:20]
    return None


@dataclass
class EmbeddingPolicy:
    """The decision for one /v1/embeddings request. `scan` is the privacy guard's (router.privacy.PrivacyGuard.scan):
    the kinds and detectors of private data in a request body's texts."""

    settings: EmbeddingSettings
    virtual_model: str
    explicit_header: str
    explicit_metadata_key: str
    scan: Callable[[dict[str, Any]], PrivacyFinding]

    def decide(
        self,
        data: Mapping[str, Any],
        headers: Mapping[str, str],
        groups: Mapping[str, Group],
        budget: BudgetStatus,
        decode: Decoder | None = None,
    ) -> Decision:
        items = input_items(data)
        model = data.get("model") if isinstance(data.get("model"), str) else ""
        if not model or model == self.virtual_model:
            return self._auto(data, headers, budget)
        group = groups.get(model)
        if group is None or not group.embeds:
            raise _bad_model(model, groups, self.settings, self.virtual_model)
        reasons = [f"explicit model: {model}"]
        if group.tier in SOVEREIGN_TIERS:
            return Decision(group.tier, model, reasons, explicit=True, budget_state=budget.state)
        return self._cloud(data, group, items, budget, reasons, decode)

    def _auto(self, data: Mapping[str, Any], headers: Mapping[str, str], budget: BudgetStatus) -> Decision:
        reasons = [f"embeddings: {self.virtual_model} embeds on the machine ({self.settings.model})"]
        tier = _explicit_tier(data, headers, self.explicit_header, self.explicit_metadata_key)
        if tier is not None and tier != "local":
            reasons.append(f"explicit tier '{tier}' has no embedding model, ignored")
        return Decision("local", self.settings.model, reasons, budget_state=budget.state)

    def _cloud(
        self,
        data: Mapping[str, Any],
        group: Group,
        items: Sequence[str | list[int]],
        budget: BudgetStatus,
        reasons: list[str],
        decode: Decoder | None,
    ) -> Decision:
        model = str(data["model"])
        texts = texts_of(items, decode)
        # Token arrays that cannot be read may hold anything: they stay on the machine (fail closed).
        finding = self.scan({"input": texts, "metadata": data.get("metadata")}) if texts is not None else UNSCANNED
        if finding.hit:
            return self._private(model, finding.kinds, finding.detectors, budget, reasons)
        if budget.blocks_cloud:
            raise EmbeddingRefusal(
                429,
                f"{model} is a cloud embedding model and cloud use is stopped ({budget.block_label}); "
                f"use {self.settings.model} (local) or max-auto.",
                "insufficient_quota",
                "model",
                "budget_exceeded",
            )
        return Decision(group.tier or "cloud", model, reasons, explicit=True, budget_state=budget.state)

    def _private(
        self,
        model: str,
        kinds: tuple[str, ...],
        detectors: tuple[str, ...],
        budget: BudgetStatus,
        reasons: list[str],
    ) -> Decision:
        reasons.append(f"privacy: {', '.join(kinds)} ({', '.join(detectors)}) kept local, fallbacks disabled")
        common = {"pinned_local": True, "privacy_kinds": kinds, "privacy_detectors": detectors, "explicit": True}
        if self.settings.private_action == REFUSE:
            reasons.append(f"refused: {model} is not a local model")
            return Decision("local", model, reasons, refused=True, budget_state=budget.state, **common)
        reasons.append(f"explicit {model} redirected to the local embedding model")
        return Decision("local", self.settings.model, reasons, budget_state=budget.state, **common)


def refusal_of(decision: Decision, local_model: str) -> EmbeddingRefusal:
    return EmbeddingRefusal(
        403,
        f"This input carries private data and {decision.model} is a cloud embedding model; the operator's policy "
        f"refuses it. Use {local_model} (local) or max-auto.",
        "permission_error",
        "model",
        "private_data_not_local",
    )


def apply(data: dict[str, Any], decision: Decision, decode: Decoder | None) -> dict[str, Any]:
    """The request as the proxy sends it on: the chosen group, no fallbacks (an embedding's model is the
    client's index: no other model may answer it), the decision in the metadata, token arrays decoded for a local
    model (Ollama embeds text only)."""
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        metadata = data["metadata"] = {}
    metadata.update(decision.metadata())
    metadata[API_META] = "embeddings"
    if isinstance(data.get("encoding_format"), str):
        metadata[FORMAT_META] = data["encoding_format"]
    data["model"] = decision.model
    data["disable_fallbacks"] = True
    for key in ("fallbacks", "context_window_fallbacks", "default_fallbacks"):
        data.pop(key, None)
    if decision.tier in SOVEREIGN_TIERS:
        texts = texts_of(input_items(data), decode)
        if texts is None:
            raise MalformedRequest("The local embedding model takes text: send 'input' as strings.", "input")
        data["input"] = texts
    return data


# -- the answer --------------------------------------------------------------------------------------------
def as_base64(vector: Sequence[float]) -> str:
    """OpenAI's base64 encoding of an embedding: the little-endian float32 values."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def check_answer(vectors: Sequence[Any], expected: int) -> str | None:
    """What is wrong with an embedding answer (one non-empty vector of numbers per input), None when nothing."""
    if len(vectors) != expected:
        return f"{len(vectors)} vectors for {expected} inputs"
    for vector in vectors:
        if isinstance(vector, str):
            continue  # already base64
        if not isinstance(vector, list) or not vector or not all(isinstance(v, int | float) for v in vector):
            return "a vector that is empty or not numbers"
    return None
