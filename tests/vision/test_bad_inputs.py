"""Bad inputs answer 4xx with OpenAI-style errors; the limits come from the settings (see TEST_LIMITS)."""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import pytest

from tests.vision.conftest import VisionService
from tests.vision.media import b64, clip_frames, data_url, image_bytes, pattern, png_b64, video_bytes

pytestmark = pytest.mark.integration

TRUNCATED_PNG = image_bytes(pattern(48, 64, 1))[:200]
NOISE = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and error["type"]
    return error


@pytest.mark.parametrize(
    ("name", "body", "status", "code", "param"),
    [
        ("not base64", {"input": "this is not base64!"}, 400, "invalid_input", "input[0]"),
        ("neither image nor video", {"input": b64(NOISE)}, 400, "undecodable_input", "input[0]"),
        ("truncated image", {"input": b64(TRUNCATED_PNG)}, 400, None, "input[0]"),
        ("remote url", {"input": "https://example.com/cat.png"}, 400, "unsupported_url", "input[0]"),
        ("data url not base64", {"input": "data:image/png,abc"}, 400, "invalid_input", "input[0]"),
        ("video data url with an image", {"input": data_url(NOISE, "video/mp4")}, 400, "undecodable_input", "input[0]"),
        ("too many pixels", {"input": b64(image_bytes(pattern(600, 600, 1)))}, 413, "image_too_large", "input[0]"),
        ("too many frames", {"input": [[png_b64(1)] * 13]}, 400, "too_many_frames", "input[0]"),
        ("video too long", {"input": b64(video_bytes(clip_frames(31, 1, 16, 16)))}, 400, "too_many_frames", "input[0]"),
        ("too many inputs", {"input": [png_b64(1)] * 9}, 400, "too_many_inputs", "input"),
        ("empty list", {"input": []}, 400, "invalid_input", "input"),
        ("empty frames", {"input": [[]]}, 400, "invalid_input", "input[0]"),
        ("token ids", {"input": [1, 2, 3]}, 400, "invalid_request", None),
        ("bad frame", {"input": [[png_b64(1), b64(NOISE)]]}, 400, "undecodable_input", "input[0][1]"),
        ("dimensions", {"input": png_b64(1), "dimensions": 32}, 400, "unsupported_dimensions", "dimensions"),
        ("no input", {"model": "vjepa2"}, 400, "invalid_request", "input"),
    ],
)
def test_bad_embedding_inputs(
    classifier: VisionService, name: str, body: dict, status: int, code: str | None, param: str | None
) -> None:
    error = error_of(classifier.post("/v1/embeddings", body), status)
    if code:
        assert error["code"] == code, name
    if param:
        assert error["param"] == param, name


def test_input_over_the_byte_limit(classifier: VisionService) -> None:
    big = base64.b64encode(b"\0" * 310_000).decode()  # VISION_MAX_INPUT_BYTES is 300000
    assert error_of(classifier.post("/v1/embeddings", {"input": big}), 413)["code"] == "input_too_large"


def test_request_over_the_body_limit(classifier: VisionService) -> None:
    items = [base64.b64encode(b"\0" * 290_000).decode()] * 8  # 8 x 387 kB > VISION_MAX_REQUEST_BYTES
    assert error_of(classifier.post("/v1/embeddings", {"input": items}), 413)["code"] == "request_too_large"


def test_chunked_request_over_the_body_limit(classifier: VisionService) -> None:
    """Without a Content-Length the body is counted as it arrives."""

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"input": ["'
        for _ in range(30):
            yield b"A" * 100_000
        yield b'"]}'

    response = httpx.post(
        classifier.base_url + "/v1/embeddings",
        content=chunks(),
        timeout=30,
        headers={**classifier.headers(), "content-type": "application/json"},
    )
    assert error_of(response, 413)["code"] == "request_too_large"


def test_chunked_request_under_the_limit_is_answered(classifier: VisionService) -> None:
    body = json.dumps({"input": png_b64(3)}).encode()
    response = httpx.post(
        classifier.base_url + "/v1/embeddings",
        content=iter([body[:50], body[50:]]),
        headers={**classifier.headers(), "content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert "content-length" not in response.request.headers


def test_classify_top_k_over_the_limit(classifier: VisionService) -> None:
    error = error_of(classifier.post("/v1/classify", {"input": png_b64(1), "top_k": 5}), 400)
    assert error["param"] == "top_k"
    assert error_of(classifier.post("/v1/classify", {"input": png_b64(1), "top_k": 0}), 400)["param"] == "top_k"


def test_chat_without_pictures(classifier: VisionService) -> None:
    body = {"model": "vjepa2", "messages": [{"role": "user", "content": "hello"}]}
    assert error_of(classifier.post("/v1/chat/completions", body), 400)["code"] == "no_media"


def test_chat_with_a_bad_picture_names_it(classifier: VisionService) -> None:
    content = [{"type": "text", "text": "what?"}, {"type": "image_url", "image_url": {"url": data_url(NOISE)}}]
    body = {"model": "vjepa2", "messages": [{"role": "user", "content": content}]}
    error = error_of(classifier.post("/v1/chat/completions", body), 400)
    assert error["param"] == "messages[0]"
    assert error_of(classifier.post("/v1/chat/completions", {"messages": []}), 400)["param"] == "messages"


def test_service_still_answers_after_bad_inputs(classifier: VisionService) -> None:
    assert classifier.post("/v1/embeddings", {"input": png_b64(2)}).status_code == 200
