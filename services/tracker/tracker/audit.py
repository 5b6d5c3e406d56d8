"""One JSON line per counted request (never prompt or answer text), in a size-rotated file."""

from __future__ import annotations

import json
import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

from tracker.accounting import Resolved

AUDIT_FILE = "audit.jsonl"


class AuditLog:
    def __init__(self, directory: Path, max_bytes: int, backups: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / AUDIT_FILE
        self._handler = RotatingFileHandler(self.path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self._handler.setFormatter(logging.Formatter("%(message)s"))

    @staticmethod
    def line(r: Resolved) -> str:
        e = r.event
        return json.dumps({
            "ts": round(e.ts, 3), "call_id": e.call_id, "tier": r.tier, "model": e.model_group,
            "outcome": r.outcome, "prompt_tokens": e.prompt_tokens, "completion_tokens": e.completion_tokens,
            "cost_usd": r.cost_usd, "saved_usd": r.saved_usd, "latency_s": round(e.latency_s, 4),
            "stream": e.stream, "routed_tier": r.decision_tier, "route_reasons": r.reasons,
            "privacy_kinds": r.privacy_kinds, "fallback_from_tier": r.fallback_from_tier,
            "error_type": e.error_type,
        }, separators=(",", ":"))

    def write(self, r: Resolved) -> None:
        record = logging.LogRecord("tracker.audit", logging.INFO, "", 0, self.line(r), None, None)
        self._handler.emit(record)

    def close(self) -> None:
        self._handler.close()
