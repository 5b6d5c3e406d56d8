"""Vision tier speed: inputs per second and p50 latency for a 2-frame image and a 16-frame clip at batch 1 and 8.

Runs the service's own inference path (vision.model.LoadedModel.run: encoder with skip_predictor, mean-pool,
L2-normalise, pooler and head) on randomly initialised V-JEPA 2 models: the tiny test model and a mid-size one
on the CPU by default; `--vitl` adds the real ViT-L/16 256 px shape (meant for a GPU: `--device cuda`).
Ratios are against batch 1 of the same model and input, measured in the same run. Also times local decoding
and preprocessing (PNG image, MP4 clip), which the service does on the CPU before batching.

    .venv/bin/python -m bench.vision [--device cpu|cuda] [--vitl] [--repeats N]
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from vision.model import LoadedModel, choose_dtype, warm_up
from vision.preprocess import recipe_for
from vision.tiny import MID_CONFIG, TINY_CONFIG, VITL_CONFIG, build_model

INPUTS = {"image (2 frames)": 2, "clip (16 frames)": 16}
BATCHES = (1, 8)


def loaded_model(config: dict[str, Any], device: str, dtype: str) -> LoadedModel:
    torch_device = torch.device(device)
    torch_dtype = choose_dtype(dtype, torch_device)
    model = build_model(classifier=True, **config).to(device=torch_device, dtype=torch_dtype)
    loaded = LoadedModel(
        model=model,
        kind="classifier",
        device=torch_device,
        dtype=torch_dtype,
        recipe=recipe_for(Path("/nonexistent"), config["crop_size"], 16),
        labels=[str(i) for i in range(model.config.num_labels)],
        hidden_size=config["hidden_size"],
        tubelet_size=config["tubelet_size"],
        patch_size=config["patch_size"],
        load_seconds=0.0,
    )
    warm_up(loaded)
    return loaded


def timed(fn: Callable[[], Any], repeats: int, sync: Callable[[], None]) -> list[float]:
    fn()  # warm-up for this shape
    sync()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - started)
    return times


def bench_model(name: str, config: dict[str, Any], device: str, dtype: str, repeats: int) -> None:
    loaded = loaded_model(config, device, dtype)
    sync = torch.cuda.synchronize if loaded.device.type == "cuda" else (lambda: None)
    crop = config["crop_size"]
    print(
        f"\n{name}: hidden {config['hidden_size']}, {config['num_hidden_layers']} layers, {crop} px, "
        f"{loaded.device} {str(loaded.dtype).removeprefix('torch.')}"
    )
    print(f"  {'input':<18} {'batch':>5} {'tokens/clip':>11} {'p50 ms/batch':>13} {'inputs/s':>9} {'vs batch 1':>10}")
    for label, frames in INPUTS.items():
        baseline = None
        for batch in BATCHES:
            clips = torch.randn(batch, frames, 3, crop, crop)
            times = timed(lambda clips=clips: loaded.run(clips), repeats, sync)
            p50 = statistics.median(times)
            rate = batch / p50
            baseline = baseline or rate
            print(
                f"  {label:<18} {batch:>5} {loaded.tokens_per_clip(frames):>11} {p50 * 1000:>13.1f} "
                f"{rate:>9.1f} {rate / baseline:>9.2f}x"
            )


def bench_decoding(repeats: int) -> None:
    import av
    import numpy as np
    from PIL import Image

    from vision.media import input_clip
    from vision.preprocess import Recipe
    from vision.settings import load_settings

    limits = load_settings({}).limits
    recipe = Recipe(crop_size=256, clip_frames=16)
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "PNG")
    png = base64.b64encode(buffer.getvalue()).decode()
    video = io.BytesIO()
    with av.open(video, mode="w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=30)
        stream.height, stream.width, stream.pix_fmt = 480, 640, "yuv420p"
        for _ in range(60):
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    mp4 = base64.b64encode(video.getvalue()).decode()
    print("\ndecode + preprocess on the CPU (to 256 px, 16-frame clips), baseline: the PNG image")
    baseline = None
    for label, item in (("PNG 640x480 image", png), ("MP4 640x480, 60 frames", mp4)):
        times = timed(lambda item=item: input_clip(item, recipe, "input", limits), repeats, lambda: None)
        p50 = statistics.median(times)
        baseline = baseline or p50
        print(f"  {label:<24} p50 {p50 * 1000:7.1f} ms  {1 / p50:7.1f} inputs/s  {p50 / baseline:5.1f}x the time")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Vision tier benchmark")
    on_gpu = torch.cuda.is_available()
    parser.add_argument("--device", default="cuda" if on_gpu else "cpu")
    parser.add_argument("--dtype", default="auto", help="auto: fp32 on CPU, bf16/fp16 on a GPU")
    # ViT-L takes about 36 s a clip on these CPUs: by default it runs only where a GPU is.
    parser.add_argument(
        "--vitl",
        action=argparse.BooleanOptionalAction,
        default=on_gpu,
        help="also the ViT-L/16 256 px shape (default: on with a GPU)",
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    card = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {threads} threads"
    print(f"vision bench on {card}; torch {torch.__version__}; {args.repeats} timed runs per row")
    bench_model("tiny (test model)", TINY_CONFIG, args.device, args.dtype, args.repeats)
    bench_model("mid-size (ViT-S width)", MID_CONFIG, args.device, args.dtype, args.repeats)
    if args.vitl:
        bench_model("ViT-L/16 (vjepa2-vitl shape)", VITL_CONFIG, args.device, args.dtype, args.repeats)
    bench_decoding(args.repeats)


if __name__ == "__main__":
    main()
