"""Loading a V-JEPA 2 checkpoint from a local directory, choosing device and dtype, and running batches.

Never downloads: the directory must exist (a missing path would be taken for a hub id), HF_HUB_OFFLINE is set
and from_pretrained gets local_files_only=True.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vision.preprocess import IMAGE_FRAMES, Recipe, recipe_for

CLASSIFIER_ARCH = "VJEPA2ForVideoClassification"
FETCH_HINT = (
    "Put a V-JEPA 2 checkpoint there: with internet, run `maximus vision fetch-model {example}` "
    "(or `python -m vision.fetch {example} {dir}`); for a demo, `python -m vision.tiny {dir}`; "
    "or set VISION_MODEL_DIR to a directory holding config.json and model.safetensors."
)
EXAMPLE_ID = "facebook/vjepa2-vitl-fpc16-256-ssv2"


class ModelLoadError(RuntimeError):
    """The checkpoint could not be loaded; `fix` says what the operator should do."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


@dataclass
class ClipResult:
    embedding: torch.Tensor  # (hidden,) float32, L2-normalised
    probabilities: torch.Tensor | None  # (num_labels,) float32, for classifiers


@dataclass
class LoadedModel:
    model: Any
    kind: str  # encoder | classifier
    device: torch.device
    dtype: torch.dtype
    recipe: Recipe
    labels: list[str]
    hidden_size: int
    tubelet_size: int
    patch_size: int
    load_seconds: float

    def tokens_per_clip(self, frames: int) -> int:
        grid = self.recipe.crop_size // self.patch_size
        return (frames // self.tubelet_size) * grid * grid

    @torch.inference_mode()
    def run(self, clips: torch.Tensor) -> list[ClipResult]:
        """A batch (B, T, 3, crop, crop) of same-length clips → one result per clip."""
        pixels = clips.to(device=self.device, dtype=self.dtype)
        encoder = self.model.vjepa2 if self.kind == "classifier" else self.model
        hidden = encoder(pixel_values_videos=pixels, skip_predictor=True).last_hidden_state
        embeddings = torch.nn.functional.normalize(hidden.float().mean(dim=1), dim=-1)
        probabilities = None
        if self.kind == "classifier":
            logits = self.model.classifier(self.model.pooler(hidden))
            probabilities = logits.float().softmax(dim=-1)
        results = []
        for index in range(clips.shape[0]):
            probs = probabilities[index].cpu() if probabilities is not None else None
            results.append(ClipResult(embeddings[index].cpu(), probs))
        return results

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
            "crop_size": self.recipe.crop_size,
            "clip_frames": self.recipe.clip_frames,
            "hidden_size": self.hidden_size,
            "labels": len(self.labels),
            "load_seconds": round(self.load_seconds, 2),
        }


def choose_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(
            f"VISION_DEVICE={requested} but CUDA is not available to this process.",
            "Give the container the GPU (compose's NVIDIA device reservation and the NVIDIA container "
            "toolkit on the host), or set VISION_DEVICE=auto to run on the CPU.",
        )
    return device


def choose_dtype(requested: str, device: torch.device) -> torch.dtype:
    if requested != "auto":
        return getattr(torch, requested)
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def read_config(model_dir: Path) -> dict[str, Any]:
    hint = FETCH_HINT.format(example=EXAMPLE_ID, dir=model_dir)
    if not model_dir.is_dir():
        raise ModelLoadError(f"Model directory {model_dir} does not exist.", hint)
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise ModelLoadError(f"Model directory {model_dir} has no config.json.", hint)
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{config_path} is not valid JSON ({exc}).", hint) from exc
    if config.get("model_type") != "vjepa2":
        raise ModelLoadError(
            f"{config_path} describes a {config.get('model_type')!r} model, not a V-JEPA 2 checkpoint.", hint
        )
    return config


def checkpoint_kind(config: dict[str, Any], requested: str) -> str:
    if requested != "auto":
        return requested
    return "classifier" if CLASSIFIER_ARCH in (config.get("architectures") or []) else "encoder"


def _from_pretrained(model_dir: Path, kind: str, dtype: torch.dtype) -> Any:
    from transformers import VJEPA2ForVideoClassification, VJEPA2Model

    cls = VJEPA2ForVideoClassification if kind == "classifier" else VJEPA2Model
    try:
        return cls.from_pretrained(str(model_dir), local_files_only=True, dtype=dtype)
    except Exception as exc:  # corrupt files raise safetensors' own errors, among others
        first_line = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise ModelLoadError(
            f"Loading the {kind} checkpoint from {model_dir} failed: {type(exc).__name__}: {first_line}",
            FETCH_HINT.format(example=EXAMPLE_ID, dir=model_dir),
        ) from exc


def load_model(model_dir: Path, kind: str = "auto", device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """Load, move and warm up the checkpoint; raise ModelLoadError with a fix when it cannot."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    config = read_config(model_dir)
    chosen_kind = checkpoint_kind(config, kind)
    torch_device = choose_device(device)
    torch_dtype = choose_dtype(dtype, torch_device)
    model = _from_pretrained(model_dir, chosen_kind, torch_dtype).to(torch_device).eval()
    labels = [str(label) for _, label in sorted((int(k), v) for k, v in model.config.id2label.items())]
    loaded = LoadedModel(
        model=model,
        kind=chosen_kind,
        device=torch_device,
        dtype=torch_dtype,
        recipe=recipe_for(model_dir, model.config.crop_size, model.config.frames_per_clip),
        labels=labels if chosen_kind == "classifier" else [],
        hidden_size=model.config.hidden_size,
        tubelet_size=model.config.tubelet_size,
        patch_size=model.config.patch_size,
        load_seconds=0.0,
    )
    warm_up(loaded)
    loaded.load_seconds = time.perf_counter() - started
    return loaded


def warm_up(loaded: LoadedModel) -> None:
    """One pass per clip length the service uses, so the first request does not pay for kernel set-up."""
    crop = loaded.recipe.crop_size
    for frames in sorted({IMAGE_FRAMES, loaded.recipe.clip_frames}):
        loaded.run(torch.zeros(1, frames, 3, crop, crop))
