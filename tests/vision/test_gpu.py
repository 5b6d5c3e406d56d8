"""On a CUDA machine: half precision by default, batching equal to one-by-one, and the service on the GPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.vision.conftest import vision_services
from tests.vision.media import png_b64
from vision.model import load_model

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (no GPU on this machine)"),
]


def test_half_precision_on_the_gpu_matches_fp32_and_batches(tiny_models: dict[str, Path]) -> None:
    gpu = load_model(tiny_models["classifier"], device="cuda")
    assert gpu.device.type == "cuda"
    assert gpu.dtype == (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    cpu = load_model(tiny_models["classifier"], device="cpu")
    clips = torch.randn(8, 4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    together = gpu.run(clips)
    reference = cpu.run(clips)
    for index in range(8):
        alone = gpu.run(clips[index : index + 1])[0]
        assert torch.allclose(alone.embedding, together[index].embedding, atol=2e-2)
        cosine = float(together[index].embedding @ reference[index].embedding)
        assert cosine > 0.99, f"half precision drifted from fp32 (cosine {cosine:.4f})"
        assert together[index].probabilities.argmax() == reference[index].probabilities.argmax()


def test_service_runs_on_the_gpu(tmp_path: Path, tiny_models: dict[str, Path]) -> None:
    specs = {"gpu": (tiny_models["encoder"], None, {"VISION_DEVICE": "auto", "VISION_MAX_WAIT_MS": "50"})}
    with vision_services(tmp_path, specs) as started:
        service = started["gpu"]
        state = service.get("/readyz").json()
        assert state["device"].startswith("cuda") and state["dtype"] in ("bfloat16", "float16")
        items = [png_b64(seed) for seed in range(8)]
        alone = [service.post("/v1/embeddings", {"input": item}).json()["data"][0]["embedding"] for item in items]
        together = [d["embedding"] for d in service.post("/v1/embeddings", {"input": items}).json()["data"]]
        np.testing.assert_allclose(np.array(together), np.array(alone), atol=2e-2)
