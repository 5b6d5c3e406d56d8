"""Test media made in code: PNG/JPEG/GIF images and MP4 videos, as bytes, base64 and data URLs."""

from __future__ import annotations

import base64
import io

import av
import numpy as np
from PIL import Image


def pattern(height: int, width: int, seed: int) -> np.ndarray:
    """A deterministic RGB picture: smooth gradients plus blocks, different for each seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / max(1, width - 1), y * 255 / max(1, height - 1), (x + y) % 256], axis=-1)
    blocks = rng.integers(0, 256, size=(4, 4, 3)).repeat(-(-height // 4), 0).repeat(-(-width // 4), 1)
    return ((base + blocks[:height, :width]) / 2).astype(np.uint8)


def image_bytes(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt)
    return buffer.getvalue()


def gif_bytes(frames: list[np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    images = [Image.fromarray(f) for f in frames]
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=40, loop=0)
    return buffer.getvalue()


def video_bytes(frames: list[np.ndarray], codec: str = "mpeg4", container: str = "mp4") -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=10)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for array in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{b64(data)}"


def png_b64(seed: int, height: int = 48, width: int = 64) -> str:
    return b64(image_bytes(pattern(height, width, seed)))


def clip_frames(count: int, seed: int, height: int = 48, width: int = 64) -> list[np.ndarray]:
    return [pattern(height, width, seed * 1000 + i) for i in range(count)]
