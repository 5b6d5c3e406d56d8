"""Vision content: image or video parts send a request to the vision tier; remote image URLs stay local."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from router.request import media_parts


@dataclass(frozen=True)
class VisionFinding:
    kinds: tuple[str, ...]  # image, video
    remote: bool  # some part points at an http(s) URL

    @property
    def hit(self) -> bool:
        return bool(self.kinds)


def detect(request: dict[str, Any]) -> VisionFinding:
    parts = media_parts(request)
    return VisionFinding(tuple(sorted({p.kind for p in parts})), any(p.is_remote for p in parts))
