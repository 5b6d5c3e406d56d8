"""The gateway's request contract: what a JSON body sent to the model API must look like before any backend is
tried. Pure Python (no web framework): `maximus.gateway_edge` applies it to raw bodies, tests call it directly.

Every violation is a MalformedRequest naming the field (OpenAI's `param`), answered with 400; a body over the
size limit is a BodyTooLarge, answered with 413. Limits come from litellm/gateway.yaml (see RequestLimits).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from router.request import MalformedRequest, check_request

CHAT_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


@dataclass(frozen=True)
class RequestLimits:
    max_body_bytes: int = 32 * 1024 * 1024
    max_tokens: int = 1_000_000
    max_n: int = 8
    max_stop_sequences: int = 4
    max_top_logprobs: int = 20
    max_model_chars: int = 256


class BodyTooLarge(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than the gateway's limit of {limit} bytes.")
        self.message = str(self)
        self.limit = limit


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_body(raw: bytes, limits: RequestLimits) -> Any:
    """The parsed body; raises BodyTooLarge, or MalformedRequest for bytes that are not strict UTF-8 JSON."""
    if len(raw) > limits.max_body_bytes:
        raise BodyTooLarge(limits.max_body_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("The request body is not valid UTF-8.", "body") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise MalformedRequest("The request body is nested too deeply.", "body") from None
    except ValueError as exc:  # JSONDecodeError and the NaN/Infinity rejection
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise MalformedRequest(f"The request body is not valid JSON: {reason}.", "body") from None


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            yield item, where
        elif isinstance(item, dict):
            for key, inner in item.items():
                yield key, f"{where}.{key}" if where else str(key)
                stack.append((inner, f"{where}.{key}" if where else str(key)))
        elif isinstance(item, list):
            stack.extend((inner, f"{where}[{i}]") for i, inner in enumerate(item))


def check_encodable(body: Any) -> None:
    """Lone surrogates (a JSON escape such as \\ud800 without its pair) cannot be sent to any backend."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
        return
    except UnicodeEncodeError:
        pass
    for text, where in _strings(body, ""):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            param = where or "body"
            raise MalformedRequest(f"'{param}' contains a lone UTF-16 surrogate.", param) from None


def _check(ok: bool, message: str, param: str) -> None:
    if not ok:
        raise MalformedRequest(message, param)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _integer(body: dict[str, Any], key: str, low: int, high: int) -> None:
    value = body.get(key)
    if value is not None:
        _check(_is_int(value) and low <= value <= high, f"'{key}' must be an integer from {low} to {high}.", key)


def _number(body: dict[str, Any], key: str, low: float, high: float) -> None:
    value = body.get(key)
    if value is not None:
        _check(_is_number(value) and low <= value <= high, f"'{key}' must be a number from {low:g} to {high:g}.", key)


def _typed(body: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> None:
    value = body.get(key)
    if value is not None:
        _check(isinstance(value, kind), f"'{key}' must be {what}.", key)


def _check_model(body: dict[str, Any], required: bool, limits: RequestLimits) -> None:
    model = body.get("model")
    if model is None and not required:
        return
    _check(
        isinstance(model, str) and len(model.strip()) > 0 and len(model) <= limits.max_model_chars,
        f"'model' must be a non-empty string of at most {limits.max_model_chars} characters naming a model.",
        "model",
    )


def check_common_fields(body: dict[str, Any], limits: RequestLimits) -> None:
    """Fields every model API (chat, completions, responses, messages, embeddings) gives the same meaning."""
    _check_model(body, required=False, limits=limits)
    _typed(body, "stream", bool, "true or false")
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        _integer(body, key, 1, limits.max_tokens)
    _number(body, "temperature", 0.0, 2.0)
    _number(body, "top_p", 0.0, 1.0)
    _integer(body, "n", 1, limits.max_n)
    _typed(body, "metadata", dict, "an object")
    _typed(body, "user", str, "a string")


def _check_stop(body: dict[str, Any], limits: RequestLimits) -> None:
    stop = body.get("stop")
    if stop is None or isinstance(stop, str):
        return
    _check(
        isinstance(stop, list) and len(stop) <= limits.max_stop_sequences and all(isinstance(s, str) for s in stop),
        f"'stop' must be a string or an array of at most {limits.max_stop_sequences} strings.",
        "stop",
    )


def _check_tools(body: dict[str, Any]) -> None:
    for i, tool in enumerate(body.get("tools") or ()):
        _check(
            isinstance(tool.get("type", "function"), str), f"'tools[{i}].type' must be a string.", f"tools[{i}].type"
        )
        function = tool.get("function")
        if tool.get("type", "function") == "function":
            _check(isinstance(function, dict), f"'tools[{i}].function' must be an object.", f"tools[{i}].function")
            _check(
                isinstance(function.get("name"), str) and bool(function["name"]),
                f"'tools[{i}].function.name' must be a non-empty string.",
                f"tools[{i}].function.name",
            )
    _check_tool_choice(body.get("tool_choice"))


_TOOL_CHOICE_MODES = ("none", "auto", "required")


def _check_tool_choice(choice: Any) -> None:
    """OpenAI's forms: a mode string, {"type": mode}, {"type": "function", "function": {"name": ...}}, the custom
    and allowed_tools objects. Anything else would reach a backend and fail there, cooling its tier down."""
    if choice is None:
        return
    if isinstance(choice, str):
        _check(choice in _TOOL_CHOICE_MODES, "'tool_choice' must be one of none, auto, required.", "tool_choice")
        return
    _check(isinstance(choice, dict), "'tool_choice' must be a string or an object.", "tool_choice")
    kind = choice.get("type")
    _check(isinstance(kind, str), "'tool_choice.type' must be a string.", "tool_choice.type")
    if kind in _TOOL_CHOICE_MODES or kind == "allowed_tools":
        return
    _check(
        kind in ("function", "custom"),
        "'tool_choice.type' must be none, auto, required, function, custom or allowed_tools.",
        "tool_choice.type",
    )
    named = choice.get(kind)
    _check(
        isinstance(named, dict) and isinstance(named.get("name"), str) and bool(named["name"]),
        f"'tool_choice.{kind}.name' must be a non-empty string.",
        f"tool_choice.{kind}.name",
    )


# The content part types LiteLLM 1.108.7 accepts in a user message (litellm.types.llms.openai
# ValidUserMessageContentTypes); any other type there is a 500 inside LiteLLM, so it is refused here first.
USER_PART_TYPES = (
    "text",
    "image_url",
    "input_audio",
    "audio_url",
    "document",
    "guarded_text",
    "grounding_source",
    "query",
    "video_url",
    "file",
)


def _check_roles(body: dict[str, Any]) -> None:
    for i, message in enumerate(body["messages"]):
        role = message.get("role")
        _check(
            isinstance(role, str) and role in CHAT_ROLES,
            f"'messages[{i}].role' must be one of: {', '.join(sorted(CHAT_ROLES))}.",
            f"messages[{i}].role",
        )
        if role == "user" and isinstance(message.get("content"), list):
            _check_user_parts(message["content"], f"messages[{i}].content")


def _check_user_parts(parts: list[Any], param: str) -> None:
    for j, part in enumerate(parts):
        _check(
            not isinstance(part, dict) or part.get("type") in USER_PART_TYPES,
            f"'{param}[{j}].type' must be one of: {', '.join(USER_PART_TYPES)}.",
            f"{param}[{j}].type",
        )


def check_chat_completion(body: Any, limits: RequestLimits, model_in_path: bool = False) -> None:
    """OpenAI's chat-completions body: raises MalformedRequest naming the first field that is wrong."""
    _check(isinstance(body, dict), "The request body must be a JSON object.", "body")
    _check_model(body, required=not model_in_path, limits=limits)
    check_request(body, chat=True)
    _check_roles(body)
    check_common_fields(body, limits)
    _number(body, "presence_penalty", -2.0, 2.0)
    _number(body, "frequency_penalty", -2.0, 2.0)
    _typed(body, "logprobs", bool, "true or false")
    _integer(body, "top_logprobs", 0, limits.max_top_logprobs)
    _typed(body, "seed", int, "an integer")
    _typed(body, "stream_options", dict, "an object")
    _typed(body, "response_format", dict, "an object")
    _typed(body, "logit_bias", dict, "an object")
    _check_stop(body, limits)
    _check_tools(body)


def check_model_api_body(body: Any, limits: RequestLimits) -> None:
    """Any other JSON body sent to the gateway: an object whose shared fields have the right types."""
    _check(isinstance(body, dict), "The request body must be a JSON object.", "body")
    check_common_fields(body, limits)
