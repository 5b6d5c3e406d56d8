"""One JSON line per counted request (never prompt or answer text), in a size-rotated file.

Lines are buffered per batch and written with one flush; past `max_bytes` the file rotates to audit.jsonl.1
(and .1 to .2, ...), keeping `backups` old files.
"""

from __future__ import annotations

import json
from pathlib import Path

from tracker.accounting import Resolved

AUDIT_FILE = "audit.jsonl"


class AuditLog:
    def __init__(self, directory: Path, max_bytes: int, backups: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / AUDIT_FILE
        self.max_bytes = max_bytes
        self.backups = backups
        self._pending: list[str] = []

    @staticmethod
    def line(r: Resolved) -> str:
        e = r.event
        return json.dumps(
            {
                "ts": round(e.ts, 3),
                "call_id": e.call_id,
                "tier": r.tier,
                "model": e.model_group,
                "outcome": r.outcome,
                "prompt_tokens": e.prompt_tokens,
                "completion_tokens": e.completion_tokens,
                "cost_usd": r.cost_usd,
                "saved_usd": r.saved_usd,
                "latency_s": round(e.latency_s, 4),
                "stream": e.stream,
                "routed_tier": r.decision_tier,
                "route_reasons": r.reasons,
                "route_score": e.route_score,
                "privacy_kinds": r.privacy_kinds,
                "fallback_from_tier": r.fallback_from_tier,
                "error_type": e.error_type,
            },
            separators=(",", ":"),
        )

    def add(self, r: Resolved) -> None:
        self._pending.append(self.line(r) + "\n")

    def flush(self) -> None:
        if not self._pending:
            return
        with self.path.open("a", encoding="utf-8") as handle:
            handle.writelines(self._pending)
        self._pending = []
        if self.path.stat().st_size >= self.max_bytes:
            self._rotate()

    def _rotate(self) -> None:
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{AUDIT_FILE}.{index}")
            if older.exists():
                older.replace(self.path.with_name(f"{AUDIT_FILE}.{index + 1}"))
        if self.backups > 0:
            self.path.replace(self.path.with_name(f"{AUDIT_FILE}.1"))
        else:
            self.path.unlink()

    def close(self) -> None:
        self.flush()
