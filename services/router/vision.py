"""Vision content: image or video parts send a request to the vision tier; remote image URLs stay local."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from router.request import media_parts
from router.request_view import RequestView


@dataclass(frozen=True)
class VisionFinding:
    kinds: tuple[str, ...]  # image, video
    remote: bool  # some part points at an http(s) URL

    @property
    def hit(self) -> bool:
        return bool(self.kinds)


def detect(request: dict[str, Any]) -> VisionFinding:
    return _finding(media_parts(request))


def detect_view(view: RequestView) -> VisionFinding:
    """The media of any API shape (Anthropic image blocks and tool results, Responses input_image parts too)."""
    return _finding(view.media)


def _finding(parts: Any) -> VisionFinding:
    return VisionFinding(tuple(sorted({p.kind for p in parts})), any(p.is_remote for p in parts))
