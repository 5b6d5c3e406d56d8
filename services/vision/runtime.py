"""The running service's state: the model (loading, ready or failed), the batcher, and clip inference."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from maximus_kernel.openai_errors import OpenAIError
from vision.batcher import Batcher, QueueFull
from vision.media import Clip, InputError, input_clip
from vision.metrics import VisionMetrics
from vision.model import ClipResult, LoadedModel, ModelLoadError, load_model
from vision.settings import VisionSettings

log = logging.getLogger("vision")


@dataclass
class Analysed:
    clip: Clip
    result: ClipResult
    tokens: int


class VisionRuntime:
    def __init__(self, settings: VisionSettings) -> None:
        self.settings = settings
        self.metrics = VisionMetrics()
        self.model: LoadedModel | None = None
        self.error: ModelLoadError | None = None
        self.batcher: Batcher | None = None
        self._load_task: asyncio.Task | None = None

    # --- life cycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self._load_task = asyncio.get_running_loop().create_task(self._load(), name="vision-load")

    async def _load(self) -> None:
        s = self.settings
        log.info("loading V-JEPA 2 from %s (device=%s dtype=%s)", s.model_dir, s.device, s.dtype)
        try:
            model = await asyncio.to_thread(load_model, s.model_dir, s.model_kind, s.device, s.dtype)
        except ModelLoadError as exc:
            self.error = exc
            log.error("vision model not loaded: %s Fix: %s", exc.message, exc.fix)
            return
        except Exception as exc:  # an unexpected failure still shows in /readyz rather than killing the app
            self.error = ModelLoadError(
                f"Loading failed: {type(exc).__name__}: {exc}",
                "See the service log; check the checkpoint and the PyTorch install.",
            )
            log.exception("vision model not loaded")
            return
        self.batcher = Batcher(
            model.run, s.max_batch_size, s.max_wait_ms / 1000.0, s.max_queue, on_batch=self.metrics.observe_batch
        )
        self.batcher.start()
        self.model = model
        self.metrics.ready.set(1)
        log.info("vision model ready: %s", model.describe())

    async def stop(self) -> None:
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        if self.batcher is not None:
            await self.batcher.stop()

    # --- readiness --------------------------------------------------------------------------------
    def readiness(self) -> dict[str, Any]:
        base = {"model_dir": str(self.settings.model_dir), "served_model_name": self.settings.served_model_name}
        if self.model is not None:
            name = f"V-JEPA 2 {self.model.kind} ({self.settings.model_dir.name or self.settings.model_dir})"
            return {"ready": True, "status": "ready", "model": name, **base, **self.model.describe()}
        if self.error is not None:
            return {"ready": False, "status": "failed", **base, "error": self.error.message, "fix": self.error.fix}
        return {"ready": False, "status": "loading", "reason": "loading and warming up the model", **base}

    def require_model(self) -> LoadedModel:
        if self.model is not None:
            return self.model
        if self.error is not None:
            raise OpenAIError(
                503, f"Vision model not loaded: {self.error.message} Fix: {self.error.fix}", code="model_not_loaded"
            )
        raise OpenAIError(
            503, "Vision model is still loading; retry shortly.", code="model_loading", headers={"Retry-After": "2"}
        )

    # --- inference --------------------------------------------------------------------------------
    def _decode_all(self, items: list[Any], param: str, model: LoadedModel) -> list[Clip]:
        limits = self.settings.limits
        return [input_clip(item, model.recipe, f"{param}[{i}]", limits) for i, item in enumerate(items)]

    async def analyse(self, items: list[Any], param: str = "input") -> list[Analysed]:
        """Decode, preprocess and run every input through the batcher; bad inputs raise 4xx."""
        model = self.require_model()
        if not items:
            raise OpenAIError(400, "No inputs given.", code="invalid_input", param=param)
        if len(items) > self.settings.max_inputs:
            raise OpenAIError(
                400,
                f"{len(items)} inputs is over the limit of {self.settings.max_inputs} per request.",
                code="too_many_inputs",
                param=param,
            )
        try:
            clips = await asyncio.to_thread(self._decode_all, items, param, model)
        except InputError as exc:
            raise OpenAIError(exc.status, exc.message, code=exc.code, param=exc.param) from exc
        assert self.batcher is not None
        try:
            results = await asyncio.gather(*(self.batcher.submit(clip.pixels) for clip in clips))
        except QueueFull as exc:
            raise OpenAIError(
                503, "Vision service is busy; retry shortly.", code="overloaded", headers={"Retry-After": "1"}
            ) from exc
        finally:
            self.metrics.queue_depth.set(self.batcher.depth)
        for clip in clips:
            self.metrics.inputs.labels(clip.kind).inc()
        return [
            Analysed(clip, result, model.tokens_per_clip(clip.pixels.shape[0]))
            for clip, result in zip(clips, results, strict=True)
        ]

    def top_labels(self, result: ClipResult, k: int) -> list[dict[str, Any]]:
        model = self.require_model()
        if result.probabilities is None:
            return []
        scores, indices = result.probabilities.topk(min(k, len(model.labels)))
        return [
            {"label": model.labels[int(i)], "index": int(i), "score": round(float(s), 6)}
            for s, i in zip(scores, indices, strict=True)
        ]
