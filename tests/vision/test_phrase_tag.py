"""The phrasing request says it is part of an image chat, so that the tracker does not count it a second time."""

from __future__ import annotations

from pathlib import Path

from tests.support.stack import openai_double
from vision.chat import phrase
from vision.settings import load_settings


async def test_the_phrasing_request_is_tagged_as_a_vision_sub_request(tmp_path: Path) -> None:
    with openai_double(tmp_path, "phrase") as double:
        settings = load_settings({"VISION_CHAT_API_BASE": double.base_url, "VISION_CHAT_TIMEOUT_S": "30"})
        assert await phrase(settings, "Image 1: most likely 'x'.", "what?", None, parent="chatcmpl-parent")
        assert await phrase(settings, "Image 1: most likely 'x'.", "what?", None)
        bodies = [request["body"] for request in double.requests()]
    assert [body["metadata"] for body in bodies] == [
        {"maximus_internal": "vision_phrase", "maximus_parent": "chatcmpl-parent"},
        {"maximus_internal": "vision_phrase"},
    ]
    assert all(body["model"] == "max-buddy" and body["disable_fallbacks"] is True for body in bodies)
