"""Pieces of the CLI proxy on their own: config, chat conversion, line parsers, error mapping, redaction."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from cli_proxy.adapters.claude import ClaudeParser
from cli_proxy.adapters.codex import CodexParser, toml_string
from cli_proxy.adapters.codex import retry_seconds as codex_retry
from cli_proxy.adapters.gemini import GeminiParser
from cli_proxy.adapters.gemini import retry_seconds as gemini_retry
from cli_proxy.chat import ChatRequest, build_prompt, check_supported
from cli_proxy.config import DEFAULT_CONFIG, PROXY_DIR, ConfigError, load_settings, parse_settings
from cli_proxy.errors import redact, to_openai_error
from cli_proxy.events import Failure, FailureKind, Finished, TextDelta, Usage
from maximus_kernel.openai_errors import OpenAIError

# --- config ----------------------------------------------------------------------------------------------------


def test_packaged_config_maps_models_to_clis() -> None:
    settings = load_settings({"CLI_PROXY_CONFIG": str(DEFAULT_CONFIG)})
    assert settings.models["claude-opus"].cli == "claude" and settings.models["claude-opus"].model_flag == "opus"
    assert settings.models["gemini-2.5-pro"].model_flag == "gemini-2.5-pro"
    assert settings.models["codex"].model_flag is None
    assert set(settings.clis) == {"claude", "gemini", "codex"}
    assert settings.clis["codex"].timeouts.first_byte_timeout_s == 180
    assert settings.clis["claude"].timeouts.first_byte_timeout_s == 120
    assert settings.search_path == (PROXY_DIR / "node_modules" / ".bin",)
    assert settings.log_content is False


def test_environment_overrides() -> None:
    env = {
        "CLI_PROXY_SEARCH_PATH": "/opt/a:/opt/b",
        "CLI_PROXY_STATE_DIR": "/var/x",
        "CLI_PROXY_LOG_CONTENT": "1",
        "CLI_PROXY_CLAUDE_CREDENTIALS_FROM": "/mnt/claude-host",
    }
    data = {"models": {"m": {"cli": "claude"}}, "clis": {"claude": {"credentials_from": "~/.claude"}}}
    settings = parse_settings(data, env)
    assert settings.search_path == (Path("/opt/a"), Path("/opt/b"))
    assert settings.clis["claude"].credentials_from == Path("/mnt/claude-host")
    assert settings.state_dir == Path("/var/x") and settings.log_content is True


def test_child_environment_is_an_allowlist_from_the_config() -> None:
    settings = load_settings({"CLI_PROXY_CONFIG": str(DEFAULT_CONFIG), "CLI_PROXY_CLAUDE_ENV": "ANTHROPIC_API_KEY, X"})
    claude, gemini, codex = (settings.clis[n] for n in ("claude", "gemini", "codex"))
    for cli in (claude, gemini, codex):
        assert all(cli.passes(n) for n in ("PATH", "HOME", "LC_ALL", "no_proxy", "HTTPS_PROXY", "SSL_CERT_FILE"))
        assert not any(cli.passes(n) for n in ("MAXIMUS_MASTER_KEY", "OPENAI_API_KEY", "CLI_PROXY_API_KEY"))
    assert claude.passes("CLAUDE_CODE_OAUTH_TOKEN") and claude.passes("ANTHROPIC_API_KEY") and claude.passes("X")
    assert not gemini.passes("ANTHROPIC_API_KEY") and not codex.passes("ANTHROPIC_API_KEY")
    assert gemini.passes("GOOGLE_APPLICATION_CREDENTIALS") and not gemini.passes("CODEX_API_KEY")
    assert codex.passes("CODEX_API_KEY") and not codex.passes("GEMINI_API_KEY")
    assert not load_settings({"CLI_PROXY_CONFIG": str(DEFAULT_CONFIG)}).clis["claude"].passes("ANTHROPIC_API_KEY")


def test_custom_config_without_env_lists_gets_the_packaged_ones() -> None:
    settings = parse_settings({"models": {"m": {"cli": "codex"}}, "clis": {"codex": {}}}, {})
    assert settings.clis["codex"].passes("PATH") and settings.clis["codex"].passes("CODEX_API_KEY")
    assert settings.refused_params["stop"]
    bare = parse_settings(
        {"models": {"m": {"cli": "codex"}}, "clis": {"codex": {"pass_env": []}}, "pass_env": ["P*"]}, {}
    )
    assert bare.clis["codex"].pass_env == ("P*",) and bare.clis["codex"].passes("PATH")
    assert not bare.clis["codex"].passes("HOME") and not bare.clis["codex"].passes("CLI_PROXY_X")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"clis": {"claude": {}}, "models": {}}, "model map is empty"),
        ({"clis": {"claude": {"pass_env": "PATH"}}, "models": {"m": {"cli": "claude"}}}, "pass_env"),
        ({"clis": {"claude": {}}, "models": {"m": {"cli": "claude"}}, "refused_params": ["stop"]}, "refused_params"),
        ({"clis": {"claude": {}}, "models": {"m": {"cli": "gemini"}}}, "models.m"),
        ({"clis": {"vim": {}}, "models": {"m": {"cli": "vim"}}}, "unknown CLI"),
        ({"clis": {"claude": {"concurrency": 0}}, "models": {"m": {"cli": "claude"}}}, "concurrency"),
        ({"clis": {"claude": {"idle_timeout_s": -1}}, "models": {"m": {"cli": "claude"}}}, "idle_timeout_s"),
    ],
)
def test_bad_config_is_refused(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings(data, {})


# --- chat conversion -------------------------------------------------------------------------------------------


def test_single_user_message_goes_in_as_is() -> None:
    prompt = build_prompt(ChatRequest(model="m", messages=[{"role": "user", "content": "Hi there"}]))
    assert prompt.system is None and prompt.text == "Hi there"


REFUSED = load_settings({"CLI_PROXY_CONFIG": str(DEFAULT_CONFIG)}).refused_params


def test_unknown_sampling_parameters_are_accepted() -> None:
    req = ChatRequest(model="m", messages=[{"role": "user", "content": "x"}], temperature=0.2, max_tokens=5, n=1)
    check_supported(req, REFUSED)  # no exception: the CLIs cannot honour them, and clients send them by default


def test_refusals_name_the_parameter() -> None:
    with pytest.raises(OpenAIError) as caught:
        check_supported(ChatRequest(model="m", messages=[{"role": "user", "content": "x"}], n=3), REFUSED)
    assert caught.value.status == 400 and caught.value.param == "n"


@pytest.mark.parametrize(("name", "value"), [("stop", "END"), ("stop", ["a"]), ("logprobs", True), ("top_logprobs", 2)])
def test_parameters_that_change_the_answer_are_refused(name: str, value: object) -> None:
    req = ChatRequest(model="m", messages=[{"role": "user", "content": "x"}], **{name: value})
    with pytest.raises(OpenAIError) as caught:
        check_supported(req, REFUSED)
    assert caught.value.status == 400 and caught.value.param == name


def test_refused_parameters_come_from_the_config() -> None:
    req = ChatRequest(model="m", messages=[{"role": "user", "content": "x"}], stop="END", seed=3)
    settings = parse_settings({"models": {"m": {"cli": "claude"}}, "clis": {"claude": {}}, "refused_params": {}}, {})
    check_supported(req, settings.refused_params)  # the operator emptied the list
    custom = parse_settings(
        {"models": {"m": {"cli": "claude"}}, "clis": {"claude": {}}, "refused_params": {"seed": "no seeds"}}, {}
    )
    with pytest.raises(OpenAIError, match="no seeds"):
        check_supported(req, custom.refused_params)


def test_lone_surrogate_is_a_400_naming_the_message() -> None:
    req = ChatRequest(model="m", messages=[{"role": "user", "content": "ok"}, {"role": "user", "content": "\ud800"}])
    with pytest.raises(OpenAIError) as caught:
        build_prompt(req)
    assert caught.value.status == 400 and caught.value.param == "messages.1.content"


# --- parsers ---------------------------------------------------------------------------------------------------


def feed_all(parser, lines: list[dict | str], code: int = 0) -> list:
    events = []
    for line in lines:
        events += parser.feed(line if isinstance(line, str) else json.dumps(line))
    return events + parser.finish(code)


def test_claude_whole_message_without_partial_deltas() -> None:
    events = feed_all(
        ClaudeParser(),
        [
            {"type": "assistant", "message": {"content": [{"type": "text", "text": "ok"}]}},
            {"type": "result", "subtype": "success", "is_error": False, "result": "ok", "usage": {}},
        ],
    )
    assert events[0] == TextDelta("ok") and isinstance(events[-1], Finished)
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("ok")]  # not twice


def test_claude_deltas_are_not_repeated_by_the_whole_message() -> None:
    delta = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Do"}}
    events = feed_all(
        ClaudeParser(),
        [
            {"type": "stream_event", "event": delta},
            {"type": "assistant", "message": {"content": [{"type": "text", "text": "Do"}]}},
            {"type": "result", "subtype": "success", "result": "Do", "total_cost_usd": 0.5, "usage": {}},
        ],
    )
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("Do")]
    assert Usage(0, 0, 0, 0.5) in events


def test_claude_not_logged_in_even_when_is_error_is_false() -> None:
    events = feed_all(
        ClaudeParser(), [{"type": "result", "subtype": "success", "is_error": False, "result": "Not logged in"}]
    )
    assert len(events) == 1 and events[0].kind is FailureKind.AUTH


def test_claude_usage_limit_reset_from_rate_limit_event() -> None:
    reset = int(time.time()) + 600
    events = feed_all(
        ClaudeParser(),
        [
            {"type": "rate_limit_event", "rate_limit_info": {"status": "rejected", "resetsAt": reset}},
            {"type": "result", "subtype": "success", "is_error": True, "result": "Claude usage limit reached"},
        ],
        1,
    )
    assert events[0].kind is FailureKind.RATE_LIMIT and 590 <= events[0].retry_after_s <= 600


def test_claude_exit_without_result_is_a_crash() -> None:
    events = feed_all(ClaudeParser(), [{"type": "system", "subtype": "init"}], 137)
    assert events[0].kind is FailureKind.CRASH and "137" in events[0].message


def test_gemini_warning_is_not_fatal_but_error_is() -> None:
    parser = GeminiParser()
    assert parser.feed(json.dumps({"type": "error", "severity": "warning", "message": "429 soon"})) == []
    events = parser.feed(json.dumps({"type": "error", "severity": "error", "message": "API key not valid"}))
    assert events[0].kind is FailureKind.AUTH


@pytest.mark.parametrize(
    ("code", "kind"), [(41, FailureKind.AUTH), (42, FailureKind.BAD_REQUEST), (1, FailureKind.CRASH)]
)
def test_gemini_exit_codes(code: int, kind: FailureKind) -> None:
    assert GeminiParser().finish(code)[0].kind is kind


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("Please retry in 23.4s.", 24), ('"retryDelay": "8s"', 8), ("Your quota will reset after 1h2m3s.", 3723)],
)
def test_gemini_retry_after(text: str, seconds: int) -> None:
    assert gemini_retry(text) == seconds


def test_codex_retry_after_clock_time_is_the_next_such_time() -> None:
    now = dt.datetime(2026, 11, 25, 23, 0, tzinfo=dt.UTC)
    assert codex_retry("You've hit your usage limit. Try again at 1:37 AM.", now) == (2 * 3600 + 37 * 60)
    assert codex_retry("Try again at 11:30 PM.", now) == 30 * 60
    assert codex_retry("Try again in 2 hours 5 minutes.", now) == 2 * 3600 + 300
    assert codex_retry("no time given", now) is None


def test_codex_updates_send_only_new_text() -> None:
    parser = CodexParser()
    events = feed_all(
        parser,
        [
            {"type": "item.updated", "item": {"id": "a", "type": "agent_message", "text": "Hel"}},
            {"type": "item.completed", "item": {"id": "a", "type": "agent_message", "text": "Hello"}},
            {"type": "item.completed", "item": {"id": "b", "type": "agent_message", "text": "Bye"}},
            {"type": "turn.completed", "usage": {"input_tokens": 3, "cached_input_tokens": 1, "output_tokens": 2}},
        ],
    )
    assert events[:3] == [TextDelta("Hel"), TextDelta("lo"), TextDelta("\n\nBye")]
    assert events[3] == Usage(3, 2, 1)


def test_codex_retries_are_progress_but_waiting_for_network_fails() -> None:
    parser = CodexParser()
    assert parser.feed(json.dumps({"type": "error", "message": "Reconnecting... 2/5 (stream disconnected)"})) == []
    events = parser.feed(json.dumps({"type": "error", "message": "Reconnecting... waiting for network (x)"}))
    assert events[0].kind is FailureKind.UNAVAILABLE


def test_codex_system_prompt_is_a_valid_toml_string() -> None:
    import tomllib

    text = 'Line "one"\nback\\slash\ttab é'
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text


# --- errors ----------------------------------------------------------------------------------------------------


def test_redaction_of_known_secret_shapes_and_values() -> None:
    anthropic = "sk-ant-oat01-" + "AbCd" * 10
    google = "AIza" + "Sy" * 15
    jwt = "eyJ" + "a" * 20 + "." + "b" * 20 + "." + "c" * 20
    own = "plain-" + "value-" + "42"
    text = f"token {anthropic} key={google} Authorization: Bearer {jwt} and {own}"
    cleaned = redact(text, [own])
    for secret in (anthropic, google, jwt, own):
        assert secret not in cleaned
    assert cleaned.count("[REDACTED]") == 4


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (FailureKind.AUTH, 401),
        (FailureKind.RATE_LIMIT, 429),
        (FailureKind.OVERLOADED, 503),
        (FailureKind.UNAVAILABLE, 503),
        (FailureKind.BUSY, 503),
        (FailureKind.MODEL_NOT_FOUND, 404),
        (FailureKind.BAD_REQUEST, 400),
        (FailureKind.CRASH, 502),
        (FailureKind.TIMEOUT, 504),
    ],
)
def test_every_failure_kind_has_its_status(kind: FailureKind, status: int) -> None:
    error = to_openai_error(Failure(kind, "m", retry_after_s=7, stderr_tail="trace"))
    assert error.status == status
    assert ("Retry-After" in error.headers) == (status == 429 or kind is FailureKind.BUSY)
    assert ("trace" in error.message) == (status in {502, 504})
    assert error.body()["error"]["type"]


# --- pump ------------------------------------------------------------------------------------------------------


async def test_a_failing_event_stream_is_a_502_not_an_empty_answer() -> None:
    from cli_proxy.pump import Pump

    async def broken():
        yield TextDelta("partial")
        raise KeyError("bug")

    pump = Pump(broken())
    assert await pump.next(5) == TextDelta("partial")
    failure = await pump.next(5)
    assert isinstance(failure, Failure) and failure.kind is FailureKind.CRASH and "KeyError" in failure.message
    assert await pump.next(5) is None
    await pump.close()


async def test_closing_the_pump_runs_the_stream_cleanup() -> None:
    import asyncio

    from cli_proxy.pump import TIMEOUT, Pump

    cleaned = asyncio.Event()

    async def endless():
        try:
            yield TextDelta("x")
            await asyncio.sleep(3600)
        finally:
            cleaned.set()

    pump = Pump(endless())
    assert await pump.next(5) == TextDelta("x")
    assert await pump.next(0.05) is TIMEOUT
    await pump.close()
    assert cleaned.is_set()
