"""tracker.journal: the events a gateway process made are on disk from the moment it makes them; once delivered
the journal empties, and the journal of a process that died is copied into a live process's spool, once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.processes import REPO
from tracker.events import SUCCESS, AttemptEvent
from tracker.journal import Journal
from tracker.spool import Spool


def _events(n: int, prefix: str = "c") -> list[AttemptEvent]:
    return [AttemptEvent(kind=SUCCESS, call_id=f"{prefix}{i}") for i in range(n)]


def _spooled(spool: Spool) -> list[str]:
    return sorted(e.call_id for path in spool.directory.glob("*.jsonl") for e in Spool.read(path))


def test_settled_events_empty_the_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    for event in _events(3):
        journal.record(event)
    (path,) = tmp_path.glob("journal-*.jsonl")
    assert len(path.read_text().splitlines()) == 3
    journal.settle(2)
    assert journal.pending == 1 and len(path.read_text().splitlines()) == 3  # one still undelivered: all kept
    journal.settle(1)
    assert journal.pending == 0 and path.read_text() == ""


def test_a_journal_rolls_over_while_events_wait_and_the_old_file_goes_when_they_settle(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=200)
    for event in _events(6):
        journal.record(event)
    files = sorted(tmp_path.glob("journal-*.jsonl"), key=os.path.getmtime)
    assert len(files) > 1, "never rolled over"
    journal.settle(journal.pending - 1)
    assert len(list(tmp_path.glob("journal-*.jsonl"))) == 1
    journal.settle_all()
    (left,) = tmp_path.glob("journal-*.jsonl")
    assert left.read_text() == ""


WRITER = """
import sys, time
sys.path[:0] = {paths!r}
from tracker.events import SUCCESS, AttemptEvent
from tracker.journal import Journal
journal = Journal({directory!r})
for i in range(3):
    journal.record(AttemptEvent(kind=SUCCESS, call_id=f"held{{i}}"))
print("recorded", flush=True)
time.sleep(600)
"""


def _writer(directory: Path) -> subprocess.Popen:
    paths = [str(REPO / "services"), str(REPO / "services" / "tracker")]
    code = textwrap.dedent(WRITER.format(paths=paths, directory=str(directory)))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "recorded"
    return proc


def test_a_live_writers_journal_is_left_alone_and_a_dead_ones_is_recovered_once(tmp_path: Path) -> None:
    journals, spool = tmp_path / "journal", Spool(tmp_path / "spool")
    writer = _writer(journals)
    ours = Journal(journals)
    ours.record(AttemptEvent(kind=SUCCESS, call_id="mine"))
    try:
        assert ours.recover(spool) == 0, "a journal whose writer lives was taken"
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(10)
    assert ours.recover(spool) == 3
    assert _spooled(spool) == ["held0", "held1", "held2"]
    assert [p for p in journals.glob("journal-*.jsonl") if f"-{writer.pid}-" in p.name] == []
    assert Journal(journals).recover(spool) == 0, "recovered twice, or our own live journal taken"
    assert _spooled(spool) == ["held0", "held1", "held2"]
