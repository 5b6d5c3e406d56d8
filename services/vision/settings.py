"""Vision settings: packaged defaults (defaults.yaml), an optional YAML file (VISION_CONFIG), then VISION_* env."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULTS_FILE = Path(__file__).with_name("defaults.yaml")
ENV_PREFIX = "VISION_"


class SettingsError(ValueError):
    """A setting is missing or wrong; the message says which and how to fix it."""


@dataclass(frozen=True)
class Limits:
    max_request_bytes: int
    max_input_bytes: int
    max_inputs: int
    max_image_pixels: int
    max_frames: int
    max_video_frames: int
    default_top_k: int
    max_top_k: int


@dataclass(frozen=True)
class VisionSettings:
    model_dir: Path
    served_model_name: str
    model_kind: str
    device: str
    dtype: str
    max_batch_size: int
    max_wait_ms: float
    max_queue: int
    max_request_bytes: int
    max_input_bytes: int
    max_inputs: int
    max_image_pixels: int
    max_frames: int
    max_video_frames: int
    default_top_k: int
    max_top_k: int
    chat_api_base: str
    chat_model: str
    chat_api_key: str = field(repr=False)
    chat_timeout_s: float
    local_chat_models: tuple[str, ...]
    api_key: str | None = field(default=None, repr=False)

    @property
    def limits(self) -> Limits:
        names = [f.name for f in dataclasses.fields(Limits)]
        return Limits(**{name: getattr(self, name) for name in names})


_CHOICES = {
    "model_kind": {"auto", "encoder", "classifier"},
    "dtype": {"auto", "float32", "float16", "bfloat16"},
}


def _convert(name: str, raw: Any, kind: str) -> Any:
    """`kind` is the field's annotation as written (this module uses postponed annotations)."""
    try:
        if kind == "Path":
            return Path(str(raw)).expanduser()
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "tuple[str, ...]":
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(str(item).strip() for item in items if str(item).strip())
        return "" if raw is None else str(raw)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"Setting {name}={raw!r} is not a valid {kind}.") from exc


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"Cannot read vision settings file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"Vision settings file {path} must hold a mapping of keys to values.")
    return data


def _check(settings: VisionSettings) -> None:
    for name, allowed in _CHOICES.items():
        if getattr(settings, name) not in allowed:
            raise SettingsError(f"{ENV_PREFIX}{name.upper()} must be one of {sorted(allowed)}.")
    if not (settings.device == "auto" or settings.device == "cpu" or settings.device.startswith("cuda")):
        raise SettingsError(f"{ENV_PREFIX}DEVICE must be auto, cpu, cuda or cuda:N.")
    positive = [
        "max_batch_size",
        "max_queue",
        "max_request_bytes",
        "max_input_bytes",
        "max_inputs",
        "max_image_pixels",
        "max_frames",
        "max_video_frames",
        "default_top_k",
        "max_top_k",
    ]
    for name in positive:
        if getattr(settings, name) < 1:
            raise SettingsError(f"{ENV_PREFIX}{name.upper()} must be at least 1.")
    if settings.max_wait_ms < 0:
        raise SettingsError(f"{ENV_PREFIX}MAX_WAIT_MS must not be negative.")
    if settings.chat_api_base and settings.chat_model not in settings.local_chat_models:
        raise SettingsError(
            f"{ENV_PREFIX}CHAT_MODEL={settings.chat_model!r} is not a local model group "
            f"({', '.join(settings.local_chat_models)}): answers about pictures must stay local."
        )


def load_settings(env: Mapping[str, str] | None = None) -> VisionSettings:
    env = os.environ if env is None else env
    values = _read_yaml(DEFAULTS_FILE)
    if env.get("VISION_CONFIG"):
        values.update(_read_yaml(Path(env["VISION_CONFIG"])))
    fields = {f.name: f for f in dataclasses.fields(VisionSettings) if f.name != "api_key"}
    unknown = set(values) - set(fields)
    if unknown:
        raise SettingsError(f"Unknown vision settings: {', '.join(sorted(unknown))}.")
    kwargs: dict[str, Any] = {}
    for name, spec in fields.items():
        raw = env.get(ENV_PREFIX + name.upper(), values.get(name))
        if raw is None:
            raise SettingsError(f"Vision setting {name} has no value.")
        kwargs[name] = _convert(name, raw, str(spec.type))
    kwargs["api_key"] = env.get("VISION_API_KEY") or None
    # LiteLLM is called with its master key unless a separate key is given (one key per stack).
    kwargs["chat_api_key"] = kwargs["chat_api_key"] or env.get("MAXIMUS_MASTER_KEY", "")
    settings = VisionSettings(**kwargs)
    _check(settings)
    return settings
