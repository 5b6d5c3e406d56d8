"""The gateway process's journal: every event written to a file of its own the moment it is made, so that a
process killed with events still queued in memory loses none of them.

A publisher records each event here before queueing it, and settles events once they are in Redis or in the
spool (tracker.spool), oldest first, as the queue delivers them. A journal whose events are all settled is
emptied; one that grew past `segment_bytes` while events were pending is closed and a new one started, and the
old file goes once its last event settles.

Each file is held under an exclusive flock for its process's life. Another process that can take the lock
knows its writer is gone (a lock, unlike a pid, is never inherited by a stranger after a restart): it copies
the events into its own spool, which replays them, and deletes the file. Events that were already published
are sent again; the tracker drops them by event id. The write is not fsynced: the page cache outlives a
killed process, not a machine that loses power.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from tracker.events import AttemptEvent
from tracker.spool import Spool

log = logging.getLogger("tracker.journal")
PATTERN = "journal-*.jsonl"
SEGMENT_BYTES = 4 * 1024 * 1024


@dataclass
class _Segment:
    path: Path
    fd: int
    pending: int = 0
    size: int = 0


class Journal:
    def __init__(self, directory: Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self._segments: deque[_Segment] = deque()  # oldest first; the last one takes new events

    # ---- this process's own events ------------------------------------------------------------
    def record(self, event: AttemptEvent) -> None:
        """Write `event` down; raises OSError when the journal cannot be written (the caller spools instead)."""
        segment = self._writable()
        line = (event.to_json() + "\n").encode()
        os.write(segment.fd, line)  # one append: a reader never sees half of a line, short of a crash
        segment.pending += 1
        segment.size += len(line)

    def settle(self, count: int) -> None:
        """The `count` oldest recorded events are in Redis or in the spool."""
        while count > 0 and self._segments and self._segments[0].pending:
            oldest = self._segments[0]
            taken = min(count, oldest.pending)
            oldest.pending -= taken
            count -= taken
            if oldest.pending:
                return
            if len(self._segments) > 1:
                self._retire(self._segments.popleft())
            else:
                self._empty(oldest)

    def settle_all(self) -> None:
        self.settle(sum(segment.pending for segment in self._segments))

    @property
    def pending(self) -> int:
        return sum(segment.pending for segment in self._segments)

    def _writable(self) -> _Segment:
        current = self._segments[-1] if self._segments else None
        if current is None or (current.size >= self.segment_bytes and current.pending):
            current = self._open()
            self._segments.append(current)
        return current

    def _open(self) -> _Segment:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"journal-{os.getpid()}-{uuid.uuid4().hex[:12]}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new name: nobody else can hold it
        return _Segment(path, fd)

    @staticmethod
    def _empty(segment: _Segment) -> None:
        os.ftruncate(segment.fd, 0)
        segment.size = 0

    @staticmethod
    def _retire(segment: _Segment) -> None:
        with contextlib.suppress(FileNotFoundError):
            segment.path.unlink()
        os.close(segment.fd)

    # ---- journals of processes that died ------------------------------------------------------
    def recover(self, spool: Spool) -> int:
        """Copy the events of every journal whose writer is gone into `spool`; the number of events copied."""
        if not self.directory.is_dir():
            return 0
        own = {segment.path for segment in self._segments}
        recovered = 0
        for path in sorted(self.directory.glob(PATTERN)):
            if path not in own:
                recovered += self._recover_one(path, spool)
        return recovered

    @staticmethod
    def _recover_one(path: Path, spool: Spool) -> int:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return 0
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # its writer is alive, or another process is recovering it now
            if os.fstat(fd).st_nlink == 0:
                return 0  # recovered and deleted by another process between our open and our lock
            events = Spool.read(path)
            spool.append(events)  # fsynced: the file below may go
            path.unlink()
        finally:
            os.close(fd)
        if events:
            log.info("recovered %d events from %s, left by a process that died", len(events), path.name)
        return len(events)
