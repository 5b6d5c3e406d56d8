"""Logs say why Redis is unusable, not only the exception's type (issue 12: 152 lines of "(ResponseError)")."""

from __future__ import annotations

import asyncio
import logging
from unittest.mock import MagicMock

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from maximus_kernel.exception_text import describe
from tracker.consumer import Consumer
from tracker.settings import Settings

PROTECTED = "DENIED Redis is running in protected mode because protected mode is enabled and no password is set"


class RefusingRedis:
    """A client whose every command is refused the way a protected-mode Redis refuses a remote client."""

    def register_script(self, _script: str) -> object:
        return object()

    async def xgroup_create(self, *_args: object, **_kwargs: object) -> None:
        raise ResponseError(PROTECTED)


async def test_the_consumer_logs_why_redis_refuses(caplog: pytest.LogCaptureFixture) -> None:
    consumer = Consumer(RefusingRedis(), Settings(), {}, MagicMock(), MagicMock(), "test")  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="tracker.consumer"):
        task = asyncio.create_task(consumer.run())
        await asyncio.sleep(0.1)
        task.cancel()
    assert any("protected mode" in record.getMessage() for record in caplog.records)


def test_the_cause_behind_an_exception_is_named() -> None:
    try:
        try:
            raise OSError("Connection refused")
        except OSError as exc:
            raise RedisConnectionError("Error 111 connecting to redis:6379.") from exc
    except RedisConnectionError as exc:
        text = describe(exc)
    assert text == "ConnectionError: Error 111 connecting to redis:6379. <- OSError: Connection refused"


def test_a_long_message_is_bounded_to_one_line() -> None:
    text = describe(ValueError("x" * 5000 + "\nsecond line"))
    assert len(text) <= 400 and "\n" not in text and "second line" not in text
