"""Inputs → clips: base64 images, data URLs, lists of frames and short video files, decoded locally.

Images are decoded with Pillow, videos with PyAV (FFmpeg's libraries, shipped inside the wheel). Frames are
sampled evenly to the model's clip length and each one is processed as soon as it is decoded, so a long
video never sits in memory whole.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from vision.preprocess import IMAGE_FRAMES, Recipe, clip_tensor, frame_to_tensor, sample_indices
from vision.settings import Limits

DATA_URL = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[\w.+-]+)*)(?P<b64>;base64)?,", re.IGNORECASE
)
# Pillow would happily refuse these after allocating: we check sizes ourselves first.
Image.MAX_IMAGE_PIXELS = None


class InputError(ValueError):
    """A bad input: `status` (400 or 413), a message for the client, and which parameter it concerns."""

    def __init__(self, message: str, param: str, status: int = 400, code: str = "invalid_input") -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Clip:
    pixels: torch.Tensor  # (T, 3, crop, crop) float32
    kind: str  # image | frames | video
    source_frames: int  # frames in the input before sampling


def _decode_base64(text: str, param: str, limits: Limits) -> tuple[bytes, str | None]:
    mime = None
    text = text.strip()
    if text.lower().startswith(("http://", "https://", "file:")):
        raise InputError(
            "Remote and file URLs are not fetched: send the image or video as base64 or a data URL.",
            param,
            code="unsupported_url",
        )
    if text.lower().startswith("data:"):
        match = DATA_URL.match(text)
        if not match or not match.group("b64"):
            raise InputError("Data URLs must be base64-encoded ('data:<type>;base64,<data>').", param)
        mime = (match.group("mime") or "").lower() or None
        text = text[match.end() :]
    if len(text) * 3 // 4 > limits.max_input_bytes:
        raise InputError(
            f"Input is larger than the limit of {limits.max_input_bytes} bytes.", param, 413, "input_too_large"
        )
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError("Input is not valid base64 (send base64 or a data URL).", param) from exc
    if not data:
        raise InputError("Input is empty.", param)
    return data, mime


def _check_pixels(width: int, height: int, param: str, limits: Limits) -> None:
    if width * height > limits.max_image_pixels:
        raise InputError(
            f"Image of {width}x{height} pixels is over the limit of {limits.max_image_pixels} pixels.",
            param,
            413,
            "image_too_large",
        )


def _pil_frame(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _open_image(data: bytes, param: str, limits: Limits) -> Image.Image | None:
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError):
        return None
    _check_pixels(image.width, image.height, param, limits)
    return image


def _image_clip(image: Image.Image, recipe: Recipe, param: str, limits: Limits) -> Clip:
    frames = getattr(image, "n_frames", 1)
    try:
        if frames <= 1:
            return Clip(clip_tensor([frame_to_tensor(_pil_frame(image), recipe)]), "image", 1)
        if frames > limits.max_video_frames:
            raise InputError(
                f"Animation has {frames} frames, over the limit of {limits.max_video_frames}.",
                param,
                code="too_many_frames",
            )
        processed = {}
        for index in sorted(set(sample_indices(frames, recipe.clip_frames))):
            image.seek(index)
            processed[index] = frame_to_tensor(_pil_frame(image), recipe)
        picked = [processed[i] for i in sample_indices(frames, recipe.clip_frames)]
        return Clip(clip_tensor(picked), "video", frames)
    except (OSError, ValueError, EOFError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError("Image could not be decoded (truncated or corrupt).", param) from exc


def _count_video_frames(data: bytes) -> tuple[int, int, int]:
    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        count = sum(1 for packet in container.demux(stream) if packet.size)
        return count, stream.codec_context.width, stream.codec_context.height


def _video_clip(data: bytes, recipe: Recipe, param: str, limits: Limits) -> Clip:
    try:
        count, width, height = _count_video_frames(data)
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise InputError(
            "Input is neither a decodable image nor a decodable video.", param, code="undecodable_input"
        ) from exc
    if count < 1:
        raise InputError("Video has no frames.", param, code="undecodable_input")
    if count > limits.max_video_frames:
        raise InputError(
            f"Video has {count} frames, over the limit of {limits.max_video_frames}.", param, code="too_many_frames"
        )
    _check_pixels(width, height, param, limits)
    wanted = sample_indices(count, recipe.clip_frames)
    needed = set(wanted)
    processed: dict[int, torch.Tensor] = {}
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            for index, frame in enumerate(container.decode(video=0)):
                if index in needed:
                    _check_pixels(frame.width, frame.height, param, limits)
                    processed[index] = frame_to_tensor(frame.to_ndarray(format="rgb24"), recipe)
                if index >= wanted[-1]:
                    break
    except (av.FFmpegError, OSError) as exc:
        raise InputError("Video could not be decoded (truncated or corrupt).", param, code="undecodable_input") from exc
    if not processed:
        raise InputError("Video has no decodable frames.", param, code="undecodable_input")
    # A container may hold fewer decodable frames than packets: reuse the last frame we have.
    last = processed[max(processed)]
    picked = [processed.get(i, last) for i in wanted]
    return Clip(clip_tensor(picked), "video", count)


def media_clip(text: str, recipe: Recipe, param: str, limits: Limits) -> Clip:
    """One base64 string or data URL holding an image or a video → a clip."""
    data, mime = _decode_base64(text, param, limits)
    if not (mime or "").startswith("video/"):
        image = _open_image(data, param, limits)
        if image is not None:
            return _image_clip(image, recipe, param, limits)
    return _video_clip(data, recipe, param, limits)


def frames_clip(frames: list[Any], recipe: Recipe, param: str, limits: Limits) -> Clip:
    """A list of images, the frames of one clip in order → a clip sampled evenly to the model's length."""
    if not frames:
        raise InputError("A list of frames must hold at least one frame.", param)
    if len(frames) > limits.max_frames:
        raise InputError(
            f"{len(frames)} frames is over the limit of {limits.max_frames} frames per input.",
            param,
            code="too_many_frames",
        )
    if not all(isinstance(frame, str) for frame in frames):
        raise InputError("Each frame must be a base64 image or a data URL string.", param)
    wanted = sample_indices(len(frames), IMAGE_FRAMES if len(frames) == 1 else recipe.clip_frames)
    processed: dict[int, torch.Tensor] = {}
    for index in sorted(set(wanted)):
        where = f"{param}[{index}]"
        data, _ = _decode_base64(frames[index], where, limits)
        image = _open_image(data, where, limits)
        if image is None:
            raise InputError("Frame is not a decodable image.", where, code="undecodable_input")
        try:
            processed[index] = frame_to_tensor(_pil_frame(image), recipe)
        except (OSError, ValueError) as exc:
            raise InputError(
                "Frame could not be decoded (truncated or corrupt).", where, code="undecodable_input"
            ) from exc
    return Clip(clip_tensor([processed[i] for i in wanted]), "frames", len(frames))


def input_clip(item: Any, recipe: Recipe, param: str, limits: Limits) -> Clip:
    """Any accepted input: a base64 image or video, a data URL, or a list of frames."""
    if isinstance(item, str):
        return media_clip(item, recipe, param, limits)
    if isinstance(item, list):
        return frames_clip(item, recipe, param, limits)
    raise InputError("Each input must be a base64 string, a data URL, or a list of frames.", param)
