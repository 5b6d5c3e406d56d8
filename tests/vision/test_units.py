"""In-process checks of the pieces: settings, preprocessing, the batcher, model loading errors, fetching."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vision.batcher import Batcher, QueueFull
from vision.fetch import FetchError, check_checkpoint, fetch_model
from vision.model import ModelLoadError, load_model, read_config
from vision.preprocess import Recipe, frame_to_tensor, recipe_for, sample_indices
from vision.settings import SettingsError, load_settings
from vision.tiny import write_tiny_model

# --- settings -------------------------------------------------------------------------------------------


def test_settings_defaults_yaml_and_env(tmp_path: Path) -> None:
    defaults = load_settings({})
    assert defaults.max_batch_size == 8 and defaults.chat_model == "max-buddy" and defaults.api_key is None
    override = tmp_path / "vision.yaml"
    override.write_text("max_batch_size: 4\nmax_frames: 7\n")
    settings = load_settings(
        {
            "VISION_CONFIG": str(override),
            "VISION_MAX_FRAMES": "9",
            "VISION_MODEL_DIR": "/models",
            "VISION_API_KEY": "vi-" + "s3cr3t" * 3,
        }
    )
    assert (settings.max_batch_size, settings.max_frames, str(settings.model_dir)) == (4, 9, "/models")
    assert settings.limits.max_frames == 9 and settings.api_key == "vi-" + "s3cr3t" * 3
    assert "s3cr3t" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VISION_DTYPE": "int8"}, "VISION_DTYPE"),
        ({"VISION_DEVICE": "tpu"}, "VISION_DEVICE"),
        ({"VISION_MAX_BATCH_SIZE": "0"}, "at least 1"),
        ({"VISION_MAX_FRAMES": "many"}, "not a valid"),
        ({"VISION_CHAT_API_BASE": "http://litellm:4000/v1", "VISION_CHAT_MODEL": "max-genius"}, "must stay local"),
    ],
)
def test_bad_settings_are_refused(env: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_unknown_yaml_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text("max_batch: 3\n")
    with pytest.raises(SettingsError, match="Unknown vision settings: max_batch"):
        load_settings({"VISION_CONFIG": str(path)})


# --- preprocessing --------------------------------------------------------------------------------------


def test_sample_indices_spread_evenly() -> None:
    assert sample_indices(10, 4) == [0, 3, 6, 9]
    assert sample_indices(64, 16)[0] == 0 and sample_indices(64, 16)[-1] == 63
    assert sample_indices(2, 4) == [0, 0, 1, 1]
    assert sample_indices(1, 2) == [0, 0]


def test_frame_is_resized_on_the_short_side_then_centre_cropped() -> None:
    recipe = Recipe(crop_size=32, clip_frames=4)
    assert recipe.resize_short == 36
    # A frame whose left and right halves differ: after resize (36 x 72) and crop (columns 20..51), the
    # centre column boundary stays in the middle of the crop.
    frame = np.zeros((100, 200, 3), dtype=np.uint8)
    frame[:, 100:] = 255
    out = frame_to_tensor(frame, recipe)
    assert out.shape == (3, 32, 32)
    low = (0 - 0.485) / 0.229
    high = (1 - 0.485) / 0.229
    assert out[0, 16, 0].item() == pytest.approx(low, abs=1e-5)
    assert out[0, 16, 31].item() == pytest.approx(high, abs=1e-5)
    assert out[0, :, :15].allclose(torch.tensor(low)) and out[0, :, 17:].allclose(torch.tensor(high))


def test_frame_at_the_resize_size_is_only_cropped_and_normalised() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (36, 36, 3), dtype=np.uint8)
    out = frame_to_tensor(frame, Recipe(crop_size=32, clip_frames=4))
    expected = (frame[2:34, 2:34] / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(out.permute(1, 2, 0).numpy(), expected, atol=1e-5)


def test_recipe_reads_the_checkpoint_processor_file(tmp_path: Path) -> None:
    (tmp_path / "video_preprocessor_config.json").write_text(
        json.dumps({"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]})
    )
    recipe = recipe_for(tmp_path, 256, 64)
    assert (recipe.crop_size, recipe.clip_frames, recipe.resize_short) == (256, 64, 292)
    assert recipe.mean == (0.5, 0.5, 0.5)


# --- batcher --------------------------------------------------------------------------------------------


class RecordingModel:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[tuple[int, ...]] = []
        self.fail = fail

    def __call__(self, clips: torch.Tensor) -> list[float]:
        self.batches.append(tuple(clips.shape))
        if self.fail:
            raise RuntimeError("device lost")
        return [float(clip.sum()) for clip in clips]


async def test_batcher_groups_by_shape_and_routes_results() -> None:
    model = RecordingModel()
    batcher = Batcher(model, max_batch=3, max_wait_s=0.2, max_queue=100)
    batcher.start()
    small = [torch.full((2, 1), float(i)) for i in range(5)]
    large = [torch.full((4, 1), float(i)) for i in range(2)]
    results = await asyncio.gather(*(batcher.submit(c) for c in [*small, *large]))
    await batcher.stop()
    assert results == [2.0 * i for i in range(5)] + [4.0 * i for i in range(2)]
    assert sorted(model.batches) == [(2, 2, 1), (2, 4, 1), (3, 2, 1)]


async def test_batcher_runs_a_full_batch_without_waiting_out_the_window() -> None:
    model = RecordingModel()
    batcher = Batcher(model, max_batch=2, max_wait_s=3600, max_queue=10)
    batcher.start()
    results = await asyncio.wait_for(asyncio.gather(*(batcher.submit(torch.ones(1)) for _ in range(2))), 30)
    await batcher.stop()
    assert results == [1.0, 1.0] and model.batches == [(2, 1)]


async def test_batcher_bounds_its_queue_and_reports_model_errors() -> None:
    batcher = Batcher(RecordingModel(fail=True), max_batch=4, max_wait_s=0.05, max_queue=2)
    batcher.start()
    waiting = [asyncio.ensure_future(batcher.submit(torch.ones(1))) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(QueueFull):
        await batcher.submit(torch.ones(1))
    for task in waiting:
        with pytest.raises(RuntimeError, match="device lost"):
            await task
    await batcher.stop()


# --- model loading --------------------------------------------------------------------------------------


def test_missing_directory_is_not_taken_for_a_hub_id(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist") as caught:
        load_model(tmp_path / "facebook" / "vjepa2-vitl-fpc64-256")
    assert "fetch-model" in caught.value.fix


def test_wrong_or_broken_checkpoints_are_explained(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelLoadError, match="not a V-JEPA 2 checkpoint"):
        read_config(tmp_path)
    broken = write_tiny_model(tmp_path / "broken", classifier=False)
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ModelLoadError, match="Loading the encoder checkpoint") as caught:
        load_model(broken)
    assert "VISION_MODEL_DIR" in caught.value.fix


def test_cuda_requested_without_cuda_is_explained(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    model_dir = write_tiny_model(tmp_path / "m", classifier=False)
    with pytest.raises(ModelLoadError, match="CUDA is not available") as caught:
        load_model(model_dir, device="cuda")
    assert "VISION_DEVICE=auto" in caught.value.fix


def test_loaded_model_reports_kind_and_batches_like_single_runs(tmp_path: Path) -> None:
    loaded = load_model(write_tiny_model(tmp_path / "c", classifier=True), device="cpu")
    assert loaded.kind == "classifier" and loaded.dtype == torch.float32 and len(loaded.labels) == 6
    clips = torch.randn(3, 4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    together = loaded.run(clips)
    for index in range(3):
        alone = loaded.run(clips[index : index + 1])[0]
        assert torch.allclose(alone.embedding, together[index].embedding, atol=1e-5)
        assert torch.allclose(alone.probabilities, together[index].probabilities, atol=1e-5)
    assert loaded.tokens_per_clip(4) == 8


# --- fetching -------------------------------------------------------------------------------------------


def test_fetch_offline_fails_with_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real huggingface_hub call, offline: no network is touched and the error says what is needed."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(FetchError, match="needs internet access"):
        fetch_model("facebook/vjepa2-vitl-fpc16-256-ssv2", tmp_path / "weights")


def test_fetch_puts_a_checked_checkpoint_in_the_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """snapshot_download stands in for the hub (no internet here); fetch_model's wiring and checks are real."""
    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo_id: str, local_dir: str, allow_patterns: list[str]) -> str:
        calls.append((repo_id, allow_patterns))
        write_tiny_model(Path(local_dir), classifier=True)
        return local_dir

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    target = fetch_model("facebook/vjepa2-vitl-fpc16-256-ssv2", tmp_path / "models" / "vision")
    assert target == (tmp_path / "models" / "vision").resolve()
    assert calls[0][0] == "facebook/vjepa2-vitl-fpc16-256-ssv2" and "*.safetensors" in calls[0][1]
    assert load_model(target, device="cpu").kind == "classifier"
    (target / "config.json").write_text(json.dumps({"model_type": "clip"}))
    with pytest.raises(FetchError, match="not V-JEPA 2"):
        check_checkpoint(target)


# --- key rule and chat phrasing -------------------------------------------------------------------------


def test_service_refuses_to_start_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from vision.app import create_app

    monkeypatch.delenv("VISION_API_KEY", raising=False)
    monkeypatch.delenv("MAXIMUS_ALLOW_NO_KEY", raising=False)
    with pytest.raises(RuntimeError, match="VISION_API_KEY is not set"):
        create_app()
    monkeypatch.setenv("MAXIMUS_ALLOW_NO_KEY", "1")
    assert create_app().title == "vision"


async def test_phrasing_falls_back_when_the_chat_model_is_unreachable() -> None:
    from tests.support.stack import closed_port_url
    from vision.chat import phrase

    settings = load_settings({"VISION_CHAT_API_BASE": closed_port_url("/v1"), "VISION_CHAT_TIMEOUT_S": "5"})
    assert await phrase(settings, "Image 1: most likely 'x'.", "what?", None) is None
    assert await phrase(load_settings({}), "facts", "what?", None) is None  # not configured
