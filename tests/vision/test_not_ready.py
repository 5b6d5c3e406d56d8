"""A service whose weights are missing stays alive, says why in /readyz, and refuses work with 503."""

from __future__ import annotations

import pytest

from tests.vision.conftest import VisionService
from tests.vision.media import png_b64

pytestmark = pytest.mark.integration


def test_readyz_reports_the_error_and_the_fix(not_ready: VisionService) -> None:
    assert not_ready.get("/healthz").status_code == 200
    response = not_ready.get("/readyz")
    assert response.status_code == 503
    state = response.json()
    assert state["ready"] is False and state["status"] == "failed"
    assert "does not exist" in state["error"] and "no-such-model" in state["error"]
    assert "maximus vision fetch-model" in state["fix"] and "VISION_MODEL_DIR" in state["fix"]
    assert not_ready.metric("vision_model_ready") == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/embeddings", {"input": png_b64(1)}),
        ("/v1/classify", {"input": png_b64(1)}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
    ],
)
def test_requests_get_503_with_the_fix(not_ready: VisionService, path: str, body: dict) -> None:
    response = not_ready.post(path, body)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "model_not_loaded" and error["type"] == "service_unavailable"
    assert "fetch-model" in error["message"]


def test_models_still_lists_the_name(not_ready: VisionService) -> None:
    assert not_ready.get("/v1/models").json()["data"][0]["id"] == "vjepa2"
