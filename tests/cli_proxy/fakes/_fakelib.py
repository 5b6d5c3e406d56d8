"""Shared by the fake CLIs: scenario choice, output, and the process tricks the tests need.

Per account: a fake run acts on the account folder its credential file links to (`fake-account.json` there, written
by the tests: {"label": "work", "answers": N, "reset_in_s": S, "expired": false}): it answers N requests (the
answer names the label), then says its usage limit is reached until S seconds later, then answers again.

The scenario comes from the prompt (`SCENARIO=<name>`, also `PIDFILE=<path>`, `DELAY=<s>`, `SLEEP=<s>`,
`ENVDUMP=<path>`: the fake writes its whole environment there as JSON)
or from FAKE_CLI_SCENARIO; the fakes print exactly the line formats documented in
docs/reference/cli-tools.md.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from typing import Any

_OPTION = re.compile(r"\b(SCENARIO|PIDFILE|DELAY|SLEEP|EXIT|GATE|ENVDUMP)=(\S+)")


def options(prompt: str) -> dict[str, str]:
    found = dict(_OPTION.findall(prompt))
    found.setdefault("SCENARIO", os.environ.get("FAKE_CLI_SCENARIO", "ok"))
    if "ENVDUMP" in found:
        with open(found["ENVDUMP"], "w") as fh:
            json.dump(dict(os.environ), fh)
    return found


def emit(obj: dict[str, Any] | str) -> None:
    line = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fail(message: str, code: int) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    raise SystemExit(code)


def record_pids(opts: dict[str, str], with_child: bool = True) -> None:
    """Write our pid (and a child's, same process group) to PIDFILE so tests can check they are gone."""
    path = opts.get("PIDFILE")
    if not path:
        return
    pids = [os.getpid()]
    if with_child:
        child = subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL)
        pids.append(child.pid)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(" ".join(str(p) for p in pids))
    os.replace(tmp, path)


def stall(opts: dict[str, str], ignore_term: bool = False, record: bool = True) -> None:
    if record:
        record_pids(opts)
    if ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(1)


def delay(opts: dict[str, str]) -> float:
    return float(opts.get("DELAY", "0"))


def pause(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


def words(text: str) -> list[str]:
    """The answer split in deltas the way a model streams them (words with their spaces)."""
    return re.findall(r"\S+\s*", text)


def echo_answer(**fields: Any) -> str:
    return json.dumps(fields, sort_keys=True)


def forbid(argv: list[str], flags: tuple[str, ...]) -> None:
    for flag in flags:
        if flag in argv:
            fail(f"fake: the proxy must never pass {flag}", 97)


def value_after(argv: list[str], flag: str) -> str | None:
    if flag in argv and argv.index(flag) + 1 < len(argv):
        return argv[argv.index(flag) + 1]
    return None


def read_stdin() -> str:
    # A CLI's own start-up (Node, config, auth) before it reads the prompt: what a warm worker hides.
    pause(float(os.environ.get("FAKE_CLI_START_S", "0")))
    prompt = sys.stdin.read()
    record(prompt)
    return prompt


def record(prompt: str) -> None:
    """With FAKE_CLI_RECORD=<file>, append everything this run received (argv, stdin, the files argv names:
    a system prompt file) as one JSON line: the privacy tests read what reached the CLI."""
    path = os.environ.get("FAKE_CLI_RECORD")
    if not path:
        return
    files = {arg: read_file(arg) for arg in sys.argv[1:] if os.path.isfile(arg)}
    line = json.dumps({"cli": os.path.basename(sys.argv[0]), "argv": sys.argv[1:], "stdin": prompt, "files": files})
    with open(path, "a") as fh:
        fh.write(line + "\n")


def gated_words(opts: dict[str, str], timeout: float = 10.0) -> list[str]:
    """Deltas for the 'gated' scenario: the second waits until the test creates GATE, which it does only
    after receiving the first; a proxy that buffers would make the fake give up and say 'late'."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(opts["GATE"]):
        if time.monotonic() > deadline:
            return ["late"]
        time.sleep(0.01)
    return ["second ", "third"]


def read_file(path: str | None) -> str | None:
    if not path or not os.path.exists(path):
        return None
    with open(path) as fh:
        return fh.read()


def account_folder(credential_file: str) -> str | None:
    """The account folder behind a CLI state directory: where its (linked) credential file really is."""
    if not os.path.exists(credential_file):
        return None
    return os.path.dirname(os.path.realpath(credential_file))


def account_turn(folder: str | None) -> tuple[str, float | None, str]:
    """("answer" | "limit" | "expired", the reset epoch for a limit, the account's label) for this run."""
    spec = json.loads(read_file(os.path.join(folder, "fake-account.json")) or "{}") if folder else {}
    label = str(spec.get("label", ""))
    if not spec:
        return "answer", None, label
    if spec.get("expired"):
        return "expired", None, label
    with open(os.path.join(folder, "fake-account.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel runs of one account count each request once
        state_path = os.path.join(folder, "fake-account-state.json")
        state = json.loads(read_file(state_path) or '{"served": 0, "reset_at": null}')
        now = time.time()
        if state["reset_at"] is not None and now >= state["reset_at"]:
            state = {"served": 0, "reset_at": None}  # its window has reset
        if state["served"] >= int(spec.get("answers", 1 << 30)):
            state["reset_at"] = state["reset_at"] or math.ceil(now + float(spec.get("reset_in_s", 3600)))
            verdict = "limit"
        else:
            state["served"] += 1
            verdict = "answer"
        with open(state_path, "w") as fh:
            json.dump(state, fh)
    return verdict, state["reset_at"] if verdict == "limit" else None, label
