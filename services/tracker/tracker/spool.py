"""A local JSONL spool for events that could not reach Redis; replayed when Redis answers again.

Each process appends to its own file (spool-<pid>.jsonl). To replay, a process first renames a file to
replay-<pid>-<ns>.jsonl (atomic, so two processes never replay the same file), sends it, then deletes it.
A crash during a replay leaves the file: it is sent again later, and the tracker drops the duplicates
by event id. A torn last line (a crash while writing) is skipped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

from tracker.events import AttemptEvent, InvalidEvent

log = logging.getLogger("tracker.spool")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_pid(path: Path) -> int | None:
    parts = path.stem.split("-")
    try:
        return int(parts[1])
    except (IndexError, ValueError):
        return None


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @property
    def path(self) -> Path:
        return self.directory / f"spool-{os.getpid()}.jsonl"

    def append(self, events: Iterable[AttemptEvent]) -> int:
        lines = [event.to_json() + "\n" for event in events]
        if not lines:
            return 0
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.writelines(lines)
            handle.flush()
            os.fsync(handle.fileno())
        return len(lines)

    def has_pending(self) -> bool:
        """True when a file waits that this process would replay: its own, or one whose writer is gone."""
        if not self.directory.is_dir():
            return False
        for path in self.directory.glob("*.jsonl"):
            owner = _owner_pid(path)
            if owner is None or owner == os.getpid() or not _pid_alive(owner):
                return True
        return False

    def claim(self) -> list[Path]:
        """Files this process may replay now: its own, and those left by processes that are gone."""
        if not self.directory.is_dir():
            return []
        claimed = []
        for path in sorted(self.directory.glob("*.jsonl")):
            owner = _owner_pid(path)
            mine = owner == os.getpid()
            if path.name.startswith("replay-") and mine:
                claimed.append(path)
                continue
            if not mine and owner is not None and _pid_alive(owner):
                continue
            target = self.directory / f"replay-{os.getpid()}-{time.time_ns()}.jsonl"
            with contextlib.suppress(FileNotFoundError):
                path.rename(target)
                claimed.append(target)
        return claimed

    @staticmethod
    def read(path: Path) -> list[AttemptEvent]:
        events = []
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    events.append(AttemptEvent.from_dict(json.loads(line)))
                except (ValueError, InvalidEvent):
                    log.warning("skipping unreadable spool line %s:%d", path.name, number)
        return events

    @staticmethod
    def done(path: Path) -> None:
        path.unlink(missing_ok=True)
