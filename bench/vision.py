"""Vision tier speed: inputs per second and p50 latency for a 2-frame image and a 16-frame clip at batch 1 and 8.

Runs the service's own inference path (vision.model.LoadedModel.run: encoder with skip_predictor, mean-pool,
L2-normalise, pooler and head) on randomly initialised V-JEPA 2 models: the tiny test model and a mid-size one
on the CPU by default; `--vitl` adds the real ViT-L/16 256 px shape (meant for a GPU: `--device cuda`).
Ratios are against batch 1 of the same model and input, measured in the same run. Also times local decoding
and preprocessing (PNG image, MP4 clip), which the service does on the CPU before batching.

Then the resident memory of the real service (`maximus serve vision`, uvicorn, its API key, the tiny classifier
saved to a temporary folder) after a warm-up, after N and after 2N mixed requests over loopback: a leak shows
as growth over the second N; a plateau is the healthy figure.

    .venv/bin/python -m bench.vision [--device cpu|cuda] [--vitl] [--repeats N] [--memory-requests N]
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
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


# --- the running service's memory under load ----------------------------------------------------------------------

# About a minute on a 2-core machine (tiny model on the CPU; client and service share the cores).
MEMORY_REQUESTS = 2000
MEMORY_CONCURRENCY = 4
MIX_VARIANTS = 8  # different pictures per request kind, so the service never sees one body over and over


@dataclass(frozen=True)
class Call:
    path: str
    body: dict[str, Any]
    status: int  # what the service must answer: the bench stops on anything else
    keyed: bool = True


def request_mix(seed: int) -> list[Call]:
    """One round of the load: images, clips (video file and frames), input batches, chat, then one bad input."""
    from tests.vision.media import b64, clip_frames, data_url, image_bytes, pattern, png_b64, video_bytes

    video = video_bytes(clip_frames(8, seed))
    frames = [png_b64(seed * 10 + i) for i in range(6)]
    image = data_url(image_bytes(pattern(48, 64, seed)))
    content = [
        {"type": "text", "text": "What happens here?"},
        {"type": "image_url", "image_url": {"url": image}},
        {"type": "video_url", "video_url": {"url": data_url(video, "video/mp4")}},
    ]
    chat = {"model": "vjepa2", "messages": [{"role": "user", "content": content}]}
    good = [
        Call("/v1/embeddings", {"input": png_b64(seed)}, 200),
        Call("/v1/embeddings", {"input": [png_b64(seed + i) for i in range(4)], "encoding_format": "base64"}, 200),
        Call("/v1/embeddings", {"input": [b64(video), frames]}, 200),
        Call("/v1/classify", {"input": b64(video), "top_k": 3}, 200),
        Call("/v1/classify", {"input": [frames, image, png_b64(seed + 1)]}, 200),
        Call("/v1/chat/completions", chat, 200),
        Call("/v1/chat/completions", {**chat, "stream": True, "stream_options": {"include_usage": True}}, 200),
    ]
    bad = [
        Call("/v1/embeddings", {"input": "this is not base64!"}, 400),
        Call("/v1/embeddings", {"input": [png_b64(seed)] * 9}, 400),  # over VISION_MAX_INPUTS
        Call("/v1/classify", {"input": [[b64(video)[:600]]]}, 400),  # a frame that is no image
        Call("/v1/embeddings", {"input": "A" * 420_000}, 413),  # over VISION_MAX_INPUT_BYTES
        Call("/v1/classify", {"input": png_b64(seed)}, 401, keyed=False),
    ]
    return [*good, bad[seed % len(bad)]]


def send(client: httpx.Client, call: Call) -> None:
    headers = None if call.keyed else {"Authorization": ""}
    response = client.post(call.path, json=call.body, headers=headers)
    if response.status_code != call.status:
        raise RuntimeError(f"{call.path} answered {response.status_code}, not {call.status}: {response.text[:300]}")


def load(client: httpx.Client, calls: list[Call], requests: int) -> None:
    with ThreadPoolExecutor(MEMORY_CONCURRENCY) as pool:
        list(pool.map(lambda i: send(client, calls[i % len(calls)]), range(requests)))


def bench_memory(requests: int) -> None:
    """The service's RSS after a warm-up round, after N and after 2N requests at concurrency 4."""
    from tests.support.proc_stats import rss_mib
    from tests.support.processes import free_port, running, wait_for_http
    from tests.vision.conftest import (
        CLASSIFIER_KEY,
        VisionService,
        service_env,
        vision_command,
        wait_until_settled,
    )
    from vision.tiny import write_tiny_model

    calls = [call for seed in range(MIX_VARIANTS) for call in request_mix(seed)]
    with tempfile.TemporaryDirectory(prefix="bench-vision-") as tmp:
        workdir = Path(tmp)
        model_dir = write_tiny_model(workdir / "classifier", classifier=True)
        port = free_port()
        service = VisionService(f"http://127.0.0.1:{port}", CLASSIFIER_KEY, workdir / "vision.log")
        env = service_env(workdir, model_dir, CLASSIFIER_KEY, {})
        with (
            running(vision_command(port), env=env, log_path=service.log_path) as proc,
            httpx.Client(base_url=service.base_url, headers=service.headers(), timeout=60) as client,
        ):
            wait_for_http(service.base_url + "/healthz", timeout=120, proc=proc)
            wait_until_settled(service)
            load(client, calls, len(calls))  # warm-up: every kind of request once per variant
            figures = [rss_mib(proc.pid)]
            started = time.perf_counter()
            for _ in range(2):
                load(client, calls, requests)
                figures.append(rss_mib(proc.pid))
            seconds = time.perf_counter() - started
    report_memory(figures, requests, seconds, calls)


def report_memory(figures: list[float], requests: int, seconds: float, calls: list[Call]) -> None:
    warm, after_n, after_2n = figures
    bad = sum(call.status >= 400 for call in calls) / len(calls)
    print(
        f"\nvision service resident memory (MiB, tiny classifier on the CPU; {len(calls)} distinct requests cycled, "
        f"{bad:.0%} of them 4xx; concurrency {MEMORY_CONCURRENCY}; {2 * requests / seconds:.1f} requests/s)"
    )
    print(
        f"  after warm-up {warm:.1f}, after {requests:,} requests {after_n:.1f}, after {2 * requests:,} {after_2n:.1f}"
    )
    print(
        f"  growth over the second {requests:,}: {after_2n - after_n:+.1f} MiB, {after_2n / after_n:.3f}x "
        f"(over the first: {after_n - warm:+.1f} MiB)"
    )


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
    parser.add_argument(
        "--memory-requests", type=int, default=MEMORY_REQUESTS, help="N for the service's memory (0: skip it)"
    )
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
    if args.memory_requests:
        bench_memory(args.memory_requests)


if __name__ == "__main__":
    main()
