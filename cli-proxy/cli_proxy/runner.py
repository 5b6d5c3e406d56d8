"""Run one CLI process: its own process group, prompt on stdin, timeouts, the whole group killed at the end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cli_proxy.adapters.base import LineParser
from cli_proxy.events import Event, Failure, FailureKind, Finished, TextDelta

_LINE_LIMIT = 32 * 1024 * 1024  # a whole Claude result can be one long line
_STDERR_TAIL = 4096


@dataclass(frozen=True)
class RunLimits:
    first_byte_s: float
    idle_s: float
    total_s: float
    kill_grace_s: float


def kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def stop_process(proc: asyncio.subprocess.Process, grace_s: float) -> None:
    """SIGTERM the process group, SIGKILL what is left after `grace_s`; reap the leader."""
    if proc.returncode is None:
        kill_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace_s)
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            kill_group(proc.pid, signal.SIGKILL)
            raise
    kill_group(proc.pid, signal.SIGKILL)  # children that outlived the leader
    if proc.returncode is None:
        await proc.wait()


class StderrTail:
    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._size = 0

    def add(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._size += len(chunk)
        while self._size - len(self._chunks[0]) >= _STDERR_TAIL:
            self._size -= len(self._chunks.popleft())

    def text(self) -> str:
        return b"".join(self._chunks)[-_STDERR_TAIL:].decode(errors="replace")


async def _drain(stream: asyncio.StreamReader, tail: StderrTail) -> None:
    while chunk := await stream.read(65536):
        tail.add(chunk)


async def _feed_stdin(proc: asyncio.subprocess.Process, data: bytes) -> None:
    assert proc.stdin is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.write(data)
        await proc.stdin.drain()
    proc.stdin.close()


async def run_capture(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, timeout_s: float, grace_s: float = 1.0
) -> tuple[int | None, str, str]:
    """Run a short command (version, auth status); (None, ...) when it did not end in time."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
    except TimeoutError:
        return None, "", ""
    finally:
        await stop_process(proc, grace_s)


class CliRun:
    """One CLI process; iterate `events()` once. `close()` (always called) kills its process group."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        stdin: bytes,
        parser: LineParser,
        limits: RunLimits,
        on_spawn: Callable[[int], None] | None = None,
    ) -> None:
        self.argv, self.env, self.cwd, self.stdin = list(argv), dict(env), cwd, stdin
        self.parser, self.limits, self.on_spawn = parser, limits, on_spawn
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr = StderrTail()
        self._tasks: list[asyncio.Task[None]] = []
        self.first_text_at: float | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def start(self) -> None:
        await self.spawn()
        self.send(self.stdin)

    async def spawn(self) -> None:
        """Start the process; it waits for its prompt on stdin until `send` (a warm worker waits there)."""
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                limit=_LINE_LIMIT,
            )
        except OSError as exc:
            raise RuntimeError(f"cannot start {self.argv[0]}: {exc.strerror}") from exc
        if self.on_spawn:
            self.on_spawn(self.proc.pid)
        assert self.proc.stderr is not None
        self._tasks = [asyncio.create_task(_drain(self.proc.stderr, self.stderr))]

    def send(self, stdin: bytes) -> None:
        """Write the prompt and close stdin: the process runs its one request."""
        assert self.proc is not None
        self._tasks.append(asyncio.create_task(_feed_stdin(self.proc, stdin)))

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def _with_stderr(self, failure: Failure) -> Failure:
        if failure.kind not in {FailureKind.CRASH, FailureKind.TIMEOUT} or failure.stderr_tail:
            return failure
        return Failure(failure.kind, failure.message, failure.retry_after_s, failure.code, self.stderr.text())

    def _timeout(self, phase: str, seconds: float) -> Failure:
        last = getattr(self.parser, "last_error", "")
        hint = f" (last message from the CLI: {last})" if last else ""
        return Failure(
            FailureKind.TIMEOUT,
            f"{os.path.basename(self.argv[0])} gave no {phase} within {seconds:g}s{hint}",
            stderr_tail=self.stderr.text(),
        )

    async def events(self) -> AsyncIterator[Event]:
        """The parser's events; ends after the first Failure or at the end of the output."""
        assert self.proc is not None and self.proc.stdout is not None
        started = time.monotonic()
        total_deadline = started + self.limits.total_s
        first_deadline = started + self.limits.first_byte_s
        while True:
            now = time.monotonic()
            if self.first_text_at is None:
                deadline, phase, seconds = first_deadline, "answer", self.limits.first_byte_s
            else:
                deadline, phase, seconds = now + self.limits.idle_s, "output", self.limits.idle_s
            if total_deadline < deadline:
                deadline, phase, seconds = total_deadline, "complete answer", self.limits.total_s
            try:
                line = await asyncio.wait_for(self.proc.stdout.readline(), max(0.0, deadline - now))
            except TimeoutError:
                yield self._timeout(phase, seconds)
                return
            except ValueError:  # a line above the limit: skip what was read of it
                continue
            if not line:
                break
            for event in self.parser.feed(line.decode(errors="replace")):
                if isinstance(event, TextDelta) and self.first_text_at is None:
                    self.first_text_at = time.monotonic()
                if isinstance(event, Failure):
                    yield self._with_stderr(event)
                    return
                yield event
        async for event in self._ended():
            yield event

    async def _ended(self) -> AsyncIterator[Event]:
        assert self.proc is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), self.limits.kill_grace_s + 5)
        except TimeoutError:  # stdout closed but the process lives on
            code = -1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._tasks), 1.0)
        for event in self.parser.finish(code):
            if isinstance(event, Failure):
                event = self._with_stderr(event)
            yield event
            if isinstance(event, Failure | Finished):
                return

    async def close(self) -> None:
        try:
            if self.proc is not None:
                await stop_process(self.proc, self.limits.kill_grace_s)
        finally:
            for task in self._tasks:
                task.cancel()
