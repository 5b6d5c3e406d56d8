"""The vision service through real HTTP: every endpoint on tiny random V-JEPA 2 checkpoints."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch

from tests.vision.conftest import VisionService
from tests.vision.media import (
    b64,
    clip_frames,
    data_url,
    gif_bytes,
    image_bytes,
    pattern,
    png_b64,
    video_bytes,
)
from vision.tiny import DEMO_LABELS

pytestmark = pytest.mark.integration


def vectors(response) -> np.ndarray:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return np.array([item["embedding"] for item in response.json()["data"]], dtype=np.float32)


def image_part(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def test_health_and_readiness_describe_the_model(classifier: VisionService, encoder: VisionService) -> None:
    assert classifier.get("/healthz").json()["status"] == "ok"
    state = classifier.get("/readyz").json()
    assert state["ready"] is True and state["model"] == "V-JEPA 2 classifier (classifier)"
    assert (state["kind"], state["device"], state["dtype"]) == ("classifier", "cpu", "float32")
    assert state["clip_frames"] == 4 and state["crop_size"] == 32 and state["labels"] == len(DEMO_LABELS)
    assert encoder.get("/readyz").json()["kind"] == "encoder"


def test_models_lists_the_served_model(classifier: VisionService) -> None:
    body = classifier.get("/v1/models").json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["vjepa2"]
    assert body["data"][0]["vision"]["kind"] == "classifier"


def test_key_is_required_except_on_open_paths(classifier: VisionService) -> None:
    import httpx

    response = httpx.post(classifier.base_url + "/v1/embeddings", json={"input": png_b64(1)})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    wrong = httpx.get(classifier.base_url + "/v1/models", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(classifier.base_url + path).status_code == 200


def test_embeddings_openai_shape_and_unit_length(classifier: VisionService) -> None:
    response = classifier.post("/v1/embeddings", {"model": "vjepa2", "input": [png_b64(1), png_b64(2)]})
    body = response.json()
    assert body["object"] == "list" and body["model"] == "vjepa2"
    assert [item["index"] for item in body["data"]] == [0, 1]
    assert all(item["object"] == "embedding" for item in body["data"])
    found = vectors(response)
    assert found.shape == (2, 64)
    np.testing.assert_allclose(np.linalg.norm(found, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(found[0], found[1], atol=1e-3), "different pictures, different vectors"
    # One image = one two-frame tubelet of (32/16)^2 patches: 4 tokens each.
    assert body["usage"] == {"prompt_tokens": 8, "total_tokens": 8}


def test_single_string_input_gives_one_vector(classifier: VisionService) -> None:
    assert vectors(classifier.post("/v1/embeddings", {"input": png_b64(3)})).shape == (1, 64)


def test_input_forms_of_the_same_picture_agree(classifier: VisionService) -> None:
    raw = image_bytes(pattern(48, 64, 7))
    found = vectors(
        classifier.post(
            "/v1/embeddings",
            {
                "input": [
                    b64(raw),
                    data_url(raw),
                    [b64(raw)],
                    data_url(image_bytes(pattern(48, 64, 7), "BMP"), "image/bmp"),
                ]
            },
        )
    )
    for row in found[1:]:
        np.testing.assert_allclose(row, found[0], atol=1e-6)


def test_base64_encoding_format_matches_floats(classifier: VisionService) -> None:
    inputs = [png_b64(4)]
    floats = vectors(classifier.post("/v1/embeddings", {"input": inputs}))[0]
    packed = classifier.post("/v1/embeddings", {"input": inputs, "encoding_format": "base64"}).json()
    decoded = np.frombuffer(base64.b64decode(packed["data"][0]["embedding"]), dtype="<f4")
    np.testing.assert_array_equal(decoded, floats)


def test_frames_video_and_animation_inputs(classifier: VisionService) -> None:
    frames = clip_frames(10, seed=3)
    inputs = [
        [b64(image_bytes(f)) for f in frames],  # a list of frames: one clip
        data_url(video_bytes(frames), "video/mp4"),  # an MP4 file (sniffed from the data URL type)
        b64(video_bytes(frames[:6], codec="libvpx", container="webm")),  # a WebM file, plain base64
        b64(gif_bytes(frames[:5])),  # an animated GIF is a clip
    ]
    response = classifier.post("/v1/embeddings", {"input": inputs})
    found = vectors(response)
    assert found.shape == (4, 64)
    np.testing.assert_allclose(np.linalg.norm(found, axis=1), 1.0, atol=1e-5)
    # Every clip is sampled to the model's 4 frames: 2 tubelets x 4 patches.
    assert response.json()["usage"]["prompt_tokens"] == 4 * 8
    assert classifier.metric("vision_inputs_total", {"kind": "video"}) >= 3
    assert classifier.metric("vision_inputs_total", {"kind": "frames"}) >= 1


def test_video_sampling_uses_the_first_and_last_frames(classifier: VisionService) -> None:
    """Ten distinct frames sampled to four are frames 0, 3, 6, 9: the same as sending just those."""
    frames = clip_frames(10, seed=5)
    every = [b64(image_bytes(f)) for f in frames]
    picked = [every[i] for i in (0, 3, 6, 9)]
    found = vectors(classifier.post("/v1/embeddings", {"input": [every, picked, every[:4]]}))
    np.testing.assert_allclose(found[0], found[1], atol=1e-6)
    assert not np.allclose(found[0], found[2], atol=1e-3)


def test_service_matches_a_reference_forward_pass(classifier: VisionService, tiny_models: dict) -> None:
    """The recipe by hand (no resize needed at 36 px: centre crop 32, /255, ImageNet norm, 2-frame repeat)."""
    from transformers import VJEPA2ForVideoClassification

    picture = pattern(36, 36, 11)
    crop = picture[2:34, 2:34].astype(np.float32) / 255.0
    normalised = (crop - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    frame = torch.tensor(normalised, dtype=torch.float32).permute(2, 0, 1)
    clip = torch.stack([frame, frame]).unsqueeze(0)
    model = VJEPA2ForVideoClassification.from_pretrained(str(tiny_models["classifier"]), local_files_only=True)
    with torch.inference_mode():
        hidden = model.vjepa2(pixel_values_videos=clip, skip_predictor=True).last_hidden_state
        expected = torch.nn.functional.normalize(hidden.mean(dim=1), dim=-1)[0].numpy()
        probs = model.classifier(model.pooler(hidden)).softmax(-1)[0]
    found = vectors(classifier.post("/v1/embeddings", {"input": b64(image_bytes(picture))}))[0]
    np.testing.assert_allclose(found, expected, atol=1e-5)
    labels = classifier.post("/v1/classify", {"input": b64(image_bytes(picture)), "top_k": 1}).json()
    best = int(probs.argmax())
    assert labels["data"][0]["labels"][0]["label"] == DEMO_LABELS[best]
    assert labels["data"][0]["labels"][0]["score"] == pytest.approx(float(probs[best]), abs=1e-5)


def test_classify_top_k(classifier: VisionService) -> None:
    response = classifier.post("/v1/classify", {"input": [png_b64(1), [png_b64(2), png_b64(3)]], "top_k": 4})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["data"]) == 2
    for item in body["data"]:
        scores = [label["score"] for label in item["labels"]]
        assert len(scores) == 4 and scores == sorted(scores, reverse=True)
        assert all(0 < s < 1 for s in scores) and sum(scores) <= 1 + 1e-6
        assert {label["label"] for label in item["labels"]} <= set(DEMO_LABELS)
    default = classifier.post("/v1/classify", {"input": png_b64(1)}).json()
    assert len(default["data"][0]["labels"]) == 3  # VISION_DEFAULT_TOP_K


def test_classify_without_a_head_is_a_clear_400(encoder: VisionService) -> None:
    response = encoder.post("/v1/classify", {"input": png_b64(1)})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "no_classifier_head" and "classifier checkpoint" in error["message"]


def chat_body(*urls: str, question: str = "What is happening here?", **extra: object) -> dict:
    content = [{"type": "text", "text": question}, *(image_part(url) for url in urls)]
    return {"model": "vjepa2", "messages": [{"role": "user", "content": content}], **extra}


def test_chat_answer_is_grounded_in_the_labels(classifier: VisionService) -> None:
    url = data_url(image_bytes(pattern(48, 64, 1)))
    labels = classifier.post("/v1/classify", {"input": url, "top_k": 3}).json()["data"][0]["labels"]
    response = classifier.post("/v1/chat/completions", chat_body(url))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion"
    message = body["choices"][0]["message"]
    assert message["role"] == "assistant" and body["choices"][0]["finish_reason"] == "stop"
    assert f"most likely '{labels[0]['label']}'" in message["content"]
    assert body["vision"]["findings"][0]["labels"] == labels
    assert body["vision"]["phrased_by"] is None  # VISION_CHAT_API_BASE empty: the plain findings
    assert body["usage"]["prompt_tokens"] == 4


def test_chat_with_video_part_and_two_inputs(encoder: VisionService) -> None:
    video = data_url(video_bytes(clip_frames(8, seed=2)), "video/mp4")
    body = chat_body(data_url(image_bytes(pattern(48, 64, 1))))
    body["messages"][0]["content"].append({"type": "video_url", "video_url": {"url": video}})
    response = encoder.post("/v1/chat/completions", body)
    assert response.status_code == 200, response.text
    answer = response.json()["choices"][0]["message"]["content"]
    assert "cannot name actions" in answer
    assert "Image 1 and video 2: cosine similarity" in answer
    assert response.json()["vision"]["findings"][1]["kind"] == "video"


def test_chat_streams_server_sent_events(classifier: VisionService) -> None:
    url = data_url(image_bytes(pattern(48, 64, 9)))
    plain = classifier.post("/v1/chat/completions", chat_body(url)).json()["choices"][0]["message"]["content"]
    response = classifier.post(
        "/v1/chat/completions", chat_body(url, stream=True, stream_options={"include_usage": True})
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line.removeprefix("data: ") for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == plain
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 4


def test_metrics_count_requests_and_batches(classifier: VisionService) -> None:
    before = classifier.metric("vision_requests_total", {"endpoint": "embeddings", "outcome": "ok"})
    classifier.post("/v1/embeddings", {"input": png_b64(1)})
    classifier.post("/v1/embeddings", {"input": "not base64 !"})
    after = classifier.metric("vision_requests_total", {"endpoint": "embeddings", "outcome": "ok"})
    assert after == before + 1
    assert classifier.metric("vision_requests_total", {"endpoint": "embeddings", "outcome": "client_error"}) >= 1
    assert classifier.metric("vision_model_ready") == 1
    assert classifier.metric("vision_batch_size_count") >= 1
