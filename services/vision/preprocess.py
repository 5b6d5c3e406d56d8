"""V-JEPA 2's preprocessing recipe without torchvision.

Short side resized to int(crop * 256 / 224) (bilinear, antialiased), centre crop to `crop`, scaled to [0, 1]
and normalised with ImageNet's mean and std: what transformers' VJEPA2VideoProcessor does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The authors feed a single image as a two-frame clip (one tubelet).
IMAGE_FRAMES = 2
PROCESSOR_FILES = ("video_preprocessor_config.json", "preprocessor_config.json")


@dataclass(frozen=True)
class Recipe:
    crop_size: int
    clip_frames: int
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @property
    def resize_short(self) -> int:
        return int(self.crop_size * 256 / 224)


def _processor_overrides(model_dir: Path) -> dict:
    for name in PROCESSOR_FILES:
        path = model_dir / name
        if path.is_file():
            data = json.loads(path.read_text())
            return {key: tuple(data[key]) for key in ("image_mean", "image_std") if key in data}
    return {}


def recipe_for(model_dir: Path, crop_size: int, frames_per_clip: int) -> Recipe:
    """The recipe for a checkpoint: crop and clip length from its config, mean/std from its processor file."""
    extra = _processor_overrides(model_dir)
    return Recipe(
        crop_size=int(crop_size),
        clip_frames=max(IMAGE_FRAMES, int(frames_per_clip) // 2 * 2),
        mean=extra.get("image_mean", IMAGENET_MEAN),
        std=extra.get("image_std", IMAGENET_STD),
    )


def sample_indices(available: int, wanted: int) -> list[int]:
    """`wanted` frame indices spread evenly over `available` frames (repeating frames when there are few)."""
    if available < 1:
        raise ValueError("no frames to sample from")
    return [int(i) for i in np.linspace(0, available - 1, wanted).round().astype(int)]


def _resized_size(height: int, width: int, short: int) -> tuple[int, int]:
    if height <= width:
        return short, max(short, int(short * width / height))
    return max(short, int(short * height / width)), short


def frame_to_tensor(frame: np.ndarray, recipe: Recipe) -> torch.Tensor:
    """An RGB uint8 frame (H, W, 3) → a normalised float32 tensor (3, crop, crop)."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 frame, got shape {frame.shape} {frame.dtype}")
    if not frame.flags.writeable:  # Pillow's arrays are read-only; torch wants writable memory
        frame = frame.copy()
    image = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).unsqueeze(0).float()
    height, width = frame.shape[:2]
    size = _resized_size(height, width, recipe.resize_short)
    if size != (height, width):
        image = F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False)
        # The reference processor resizes uint8 frames: round and clamp back to whole 0..255 values.
        image = image.round().clamp(0, 255)
    crop = recipe.crop_size
    top = round((size[0] - crop) / 2.0)
    left = round((size[1] - crop) / 2.0)
    image = image[0, :, top : top + crop, left : left + crop] / 255.0
    mean = torch.tensor(recipe.mean).view(3, 1, 1)
    std = torch.tensor(recipe.std).view(3, 1, 1)
    return (image - mean) / std


def clip_tensor(frames: list[torch.Tensor]) -> torch.Tensor:
    """Processed frames → one clip (T, 3, crop, crop); a single frame is repeated as the model expects."""
    if len(frames) == 1:
        frames = frames * IMAGE_FRAMES
    return torch.stack(frames)
