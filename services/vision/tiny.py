"""Tiny randomly initialised V-JEPA 2 checkpoints (encoder or classifier) for tests and demos.

`python -m vision.tiny DIR [--classifier]` writes one (about 0.7 MB); the service loads it like a real one.
The weights are random: embeddings and labels are meaningless, but every code path is the real one.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEMO_LABELS = (
    "Pushing something from left to right",
    "Pushing something from right to left",
    "Lifting something up",
    "Putting something down",
    "Opening something",
    "Closing something",
)
TINY_CONFIG: dict[str, Any] = {
    "crop_size": 32,
    "patch_size": 16,
    "frames_per_clip": 4,
    "tubelet_size": 2,
    "hidden_size": 64,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "mlp_ratio": 2.0,
    "pred_hidden_size": 32,
    "pred_num_attention_heads": 4,
    "pred_num_hidden_layers": 1,
    "pred_num_mask_tokens": 2,
    "num_pooler_layers": 1,
}
# A mid-size configuration for benchmarks (ViT-S width, 6 layers, 128 px).
MID_CONFIG: dict[str, Any] = {
    **TINY_CONFIG,
    "crop_size": 128,
    "frames_per_clip": 16,
    "hidden_size": 384,
    "num_attention_heads": 6,
    "num_hidden_layers": 6,
    "mlp_ratio": 4.0,
    "pred_hidden_size": 192,
    "pred_num_attention_heads": 6,
}
# The real ViT-L/16 at 256 px (facebook/vjepa2-vitl-fpc16-256-ssv2's encoder), random weights.
VITL_CONFIG: dict[str, Any] = {
    "crop_size": 256,
    "patch_size": 16,
    "frames_per_clip": 16,
    "tubelet_size": 2,
    "hidden_size": 1024,
    "num_attention_heads": 16,
    "num_hidden_layers": 24,
    "mlp_ratio": 4.0,
    "pred_hidden_size": 384,
    "pred_num_attention_heads": 12,
    "pred_num_hidden_layers": 12,
    "num_pooler_layers": 3,
}


def build_model(classifier: bool, labels: tuple[str, ...] = DEMO_LABELS, seed: int = 0, **overrides: Any) -> Any:
    """A randomly initialised V-JEPA 2 model (in memory) with `overrides` applied to the tiny config."""
    import torch
    from transformers import VJEPA2Config, VJEPA2ForVideoClassification, VJEPA2Model

    options = {**TINY_CONFIG, **overrides}
    if classifier:
        options["id2label"] = dict(enumerate(labels))
        options["label2id"] = {label: i for i, label in enumerate(labels)}
    torch.manual_seed(seed)
    config = VJEPA2Config(**options)
    model = VJEPA2ForVideoClassification(config) if classifier else VJEPA2Model(config)
    return model.eval()


def write_tiny_model(
    target_dir: Path, classifier: bool, labels: tuple[str, ...] = DEMO_LABELS, seed: int = 0, **overrides: Any
) -> Path:
    """Save a tiny random V-JEPA 2 checkpoint (config.json + model.safetensors) to `target_dir`."""
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    build_model(classifier, labels, seed, **overrides).save_pretrained(str(target_dir))
    make_readable(target_dir)
    return target_dir


def make_readable(directory: Path) -> None:
    """Weights readable by the container's non-root user (safetensors writes files as 0600)."""
    for path in directory.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target_dir", type=Path)
    parser.add_argument("--classifier", action="store_true", help="with an action head (demo labels)")
    args = parser.parse_args(argv)
    path = write_tiny_model(args.target_dir, args.classifier)
    print(f"wrote a tiny random V-JEPA 2 {'classifier' if args.classifier else 'encoder'} to {path}")


if __name__ == "__main__":
    main()
