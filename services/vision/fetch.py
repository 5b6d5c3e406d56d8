"""Download a V-JEPA 2 checkpoint for the vision service (needs internet; the service itself never downloads).

`maximus vision fetch-model <id>` wraps `fetch_model`; the equivalent without the CLI is
`python -m vision.fetch facebook/vjepa2-vitl-fpc16-256-ssv2 ./models/vision`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vision.tiny import make_readable

# What the service needs; the hub repos also hold README files and .gitattributes.
ALLOW_PATTERNS = ["config.json", "*.safetensors", "*.safetensors.index.json", "*preprocessor_config.json"]
DEFAULT_DIR = Path("models/vision")


class FetchError(RuntimeError):
    """The download failed or did not give a usable V-JEPA 2 checkpoint."""


def fetch_model(model_id: str, target_dir: Path) -> Path:
    """Download `model_id` from the Hugging Face Hub into `target_dir`; return the directory."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    target_dir = Path(target_dir).expanduser().resolve()
    target_dir.mkdir(parents=True, exist_ok=True)
    try:
        snapshot_download(repo_id=model_id, local_dir=str(target_dir), allow_patterns=ALLOW_PATTERNS)
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as exc:
        raise FetchError(
            f"Could not download {model_id}: {type(exc).__name__}: {exc}. This needs internet access "
            "(and HF_HUB_OFFLINE unset); gated repos need `hf auth login` first."
        ) from exc
    check_checkpoint(target_dir, model_id)
    make_readable(target_dir)
    return target_dir


def check_checkpoint(target_dir: Path, model_id: str = "the checkpoint") -> None:
    config_path = target_dir / "config.json"
    if not config_path.is_file():
        raise FetchError(f"{model_id} gave no config.json in {target_dir}.")
    model_type = json.loads(config_path.read_text()).get("model_type")
    if model_type != "vjepa2":
        raise FetchError(f"{model_id} is a {model_type!r} model, not V-JEPA 2 (model_type 'vjepa2').")
    if not any(target_dir.glob("*.safetensors")):
        raise FetchError(f"{model_id} gave no .safetensors weights in {target_dir}.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Download a V-JEPA 2 checkpoint for the vision service.")
    parser.add_argument("model_id", help="e.g. facebook/vjepa2-vitl-fpc16-256-ssv2")
    parser.add_argument("target_dir", type=Path, nargs="?", default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    print(f"downloaded {args.model_id} to {fetch_model(args.model_id, args.target_dir)}")


if __name__ == "__main__":
    main()
