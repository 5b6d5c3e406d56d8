"""What the Ollama double's "model" says: deterministic content made from the request, never from a model.

- capabilities per model family, as `ollama show` reports them for the real models (Ollama 0.12.6);
- the text answer, the thinking text, a tool call (first tool, arguments a minimal instance of its parameters
  schema), a JSON answer for `format` ("json" or a JSON schema: a minimal instance that validates against it);
- embedding vectors: unit length, the same text always gives the same vector.

No FastAPI import: tests and the HTTP double (tests/doubles/ollama.py) share it.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

# `ollama show <model>` for the models the project uses or names (ollama.com library pages, Ollama 0.12.6):
# gemma3 takes images but no tools, llama3.1 tools but no images, the embedding models only embed, qwen3 thinks.
CAPABILITIES: dict[str, tuple[str, ...]] = {
    "gemma3": ("completion", "vision"),
    "llama3.1": ("completion", "tools"),
    "llama3.2": ("completion", "tools"),
    "qwen3": ("completion", "tools", "thinking"),
    "deepseek-r1": ("completion", "thinking"),
    "llava": ("completion", "vision"),
    "embeddinggemma": ("embedding",),
    "nomic-embed-text": ("embedding",),
    "all-minilm": ("embedding",),
}
EMBEDDING_LENGTH = {"embeddinggemma": 768, "nomic-embed-text": 768, "all-minilm": 384}
DEFAULT_EMBEDDING_LENGTH = 768  # a chat model's /api/embed vector (Ollama 0.12.6 embeds with any model)


def tag(name: str) -> str:
    return name if ":" in name else f"{name}:latest"


def family(name: str) -> str:
    return tag(name).split(":")[0].rsplit("/", 1)[-1]


def capabilities(name: str, overrides: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    known = {**CAPABILITIES, **(overrides or {})}
    return list(known.get(family(name), ("completion",)))


def text_of(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    return content if isinstance(content, str) else json.dumps(content)


def count_tokens(text: str) -> int:
    return max(1, len(text.split()))


def answer_text(model: str, messages: list[dict[str, Any]]) -> str:
    """After a tool result, an answer that quotes it; otherwise one that counts the last user turn's words."""
    if messages and messages[-1].get("role") == "tool":
        result = text_of(messages[-1])[:200]
        return f"Local answer from {family(model)}: the tool said {result}"
    last_user = next((text_of(m) for m in reversed(messages) if m.get("role") == "user"), "")
    return f"Local answer from {family(model)}: I read {len(last_user.split())} words."


def thinking_text(messages: list[dict[str, Any]]) -> str:
    last_user = next((text_of(m) for m in reversed(messages) if m.get("role") == "user"), "")
    return f"The user wrote {len(last_user.split())} words; I answer briefly."


def calls_tool(body: dict[str, Any]) -> bool:
    """The double's one rule for tool use: tools are offered and the conversation ends with a user turn (after a
    `tool` message it answers with text, so a client's tool round trip ends)."""
    messages = body.get("messages") or []
    tools = body.get("tools")
    return bool(tools) and isinstance(tools, list) and bool(messages) and messages[-1].get("role") == "user"


def tool_call(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """A call of the first tool, `arguments` an object (Ollama never sends them as a JSON string)."""
    function = tools[0].get("function") if isinstance(tools[0], dict) else None
    function = function if isinstance(function, dict) else {}
    schema = function.get("parameters") if isinstance(function.get("parameters"), dict) else {"type": "object"}
    arguments = instance(resolve_refs(schema))
    return {"function": {"index": 0, "name": str(function.get("name") or "tool"), "arguments": arguments}}


_SCALARS: dict[str, Any] = {"string": "local", "integer": 1, "number": 1.5, "boolean": True, "null": None}


def instance(schema: Any, depth: int = 0) -> Any:
    """A minimal value that validates against `schema` (type, enum, const, required properties, minItems,
    minLength, minimum, anyOf/oneOf/allOf, $ref to $defs); every property is filled so a client sees a full object."""
    if not isinstance(schema, dict) or depth > 8:
        return {}
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return instance(schema[key][0], depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part if isinstance(part, dict) else {})
        return instance(merged, depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        return {name: instance(sub, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [instance(schema.get("items", {"type": "string"}), depth + 1) for _ in range(count)]
    if kind == "string":
        return "local".ljust(int(schema.get("minLength", 0)), "x")
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 1))
        value = max(_SCALARS[kind], low + (1 if "exclusiveMinimum" in schema else 0))
        return int(value) if kind == "integer" else float(value)
    return _SCALARS.get(kind, "local")


def resolve_refs(schema: Any, root: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """Inline local `$ref`s (#/$defs/X, #/definitions/X): pydantic's schemas, which structured-output clients send."""
    root = root if root is not None else schema
    if isinstance(schema, list):
        return [resolve_refs(s, root, depth) for s in schema]
    if not isinstance(schema, dict) or depth > 8:
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return resolve_refs(target, root, depth + 1)
    return {k: resolve_refs(v, root, depth + 1) for k, v in schema.items()}


def formatted(format_: Any, text: str) -> str:
    """The answer under `format`: "json" gives a JSON object, a schema a minimal instance of it."""
    if format_ == "json":
        return json.dumps({"answer": text})
    return json.dumps(instance(resolve_refs(format_)))


def embedding(model: str, text: str) -> list[float]:
    """A deterministic unit vector of the model's embedding length (Ollama's /api/embed vectors are normalised)."""
    length = EMBEDDING_LENGTH.get(family(model), DEFAULT_EMBEDDING_LENGTH)
    raw = hashlib.shake_256(f"{family(model)}\0{text}".encode()).digest(length)
    values = [(b - 127.5) / 127.5 for b in raw]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]
