"""The `shapes` section of litellm/routing.yaml: capabilities of the local models, the vision tier's shapes and
the model names clients send by default (aliases). Parsed into immutable settings; no framework imports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from router.request_view import SHAPES


@dataclass(frozen=True)
class ShapeSettings:
    # How often the background reader re-reads Ollama's /api/show, and its socket timeout.
    refresh_s: float = 30.0
    timeout_s: float = 2.0
    # The first request after start waits at most this for the first read (then never again).
    first_read_wait_s: float = 1.0
    # A non-private request that no local model can serve goes to the power tier when it may (budget, health,
    # the key's tiers); else, and always for private data, a 400 naming the model to pull.
    escalate: bool = True
    # Shapes whose image requests the vision tier (V-JEPA 2) answers. On the others an image goes to a local
    # model with the `vision` capability; a video always goes to the vision tier (no Ollama model reads video).
    vision_tier_shapes: frozenset[str] = frozenset({"chat", "completions"})
    # What the 400 tells the operator to pull, by the capabilities each model has (Ollama's library).
    pull: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Per shape, model-name patterns (fnmatch, case-sensitive) routed as the virtual model when they name no
    # group of ours: what a client asks for by default (Claude Code's claude-sonnet-4-5). The answer echoes it.
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def is_alias(self, shape: str, model: str) -> bool:
        return any(fnmatchcase(model, pattern) for pattern in self.aliases.get(shape, ()))

    def model_to_pull(self, needs: frozenset[str]) -> str | None:
        """The first listed model with every capability needed (besides completion, which every chat model has)."""
        wanted = needs - {"completion"}
        return next((model for model, caps in self.pull.items() if wanted <= caps), None)


def parse_shape_settings(raw: Mapping[str, Any]) -> ShapeSettings:
    defaults = ShapeSettings()
    shapes = frozenset(str(s) for s in raw.get("vision_tier_shapes", defaults.vision_tier_shapes))
    aliases = {
        str(shape): tuple(str(p) for p in patterns or ()) for shape, patterns in (raw.get("aliases") or {}).items()
    }
    unknown = (shapes | set(aliases)) - set(SHAPES)
    if unknown:
        raise ValueError(f"shapes: unknown API shapes {sorted(unknown)}; known: {', '.join(SHAPES)}")
    settings = ShapeSettings(
        refresh_s=float(raw.get("refresh_s", defaults.refresh_s)),
        timeout_s=float(raw.get("timeout_s", defaults.timeout_s)),
        first_read_wait_s=float(raw.get("first_read_wait_s", defaults.first_read_wait_s)),
        escalate=bool(raw.get("escalate", defaults.escalate)),
        vision_tier_shapes=shapes,
        pull={str(model): frozenset(str(c) for c in caps or ()) for model, caps in (raw.get("pull") or {}).items()},
        aliases=aliases,
    )
    if settings.refresh_s <= 0 or settings.timeout_s <= 0 or settings.first_read_wait_s < 0:
        raise ValueError("shapes: refresh_s and timeout_s > 0, first_read_wait_s >= 0")
    return settings
