"""A pytest plugin for the fresh-clone test: run the suite on the copy's own code and record every file or folder
it opens where the original checkout, a sibling of it or a `shared` folder beside it lies.

Loaded with `-p tests.support.outside_reads`; the roots to watch come in MAXIMUS_WATCHED_ROOTS (os.pathsep
separated) and each read there is appended to the file MAXIMUS_OUTSIDE_READS names. The virtual environment,
site-packages and the copy itself are never reported.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

WATCHED_VARIABLE = "MAXIMUS_WATCHED_ROOTS"
LOG_VARIABLE = "MAXIMUS_OUTSIDE_READS"
EVENTS = frozenset({"open", "os.listdir", "os.scandir"})


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def install() -> None:
    """Point sys.path at the copy and start recording; before any conftest imports the project."""
    watched = [os.path.realpath(root) for root in os.environ[WATCHED_VARIABLE].split(os.pathsep) if root]
    allowed = [
        os.path.realpath(p)
        for p in (sys.prefix, sys.base_prefix, str(Path.cwd()), *(p for p in sys.path if "site-packages" in p))
    ]
    # The venv's editable install points at the original checkout: import the project from the copy instead.
    sys.path[:] = [p for p in sys.path if not p or not _under(os.path.realpath(p), watched) or _under(p, allowed)]
    log = open(os.environ[LOG_VARIABLE], "a")  # noqa: SIM115 - open for the whole run, before the hook

    def record(event: str, args: tuple) -> None:
        if event not in EVENTS or not args or not isinstance(args[0], str | bytes | os.PathLike):
            return
        path = os.path.realpath(os.fsdecode(args[0]))
        if _under(path, watched) and not _under(path, allowed):
            log.write(f"{event} {path}\n")
            log.flush()

    sys.addaudithook(record)


if WATCHED_VARIABLE in os.environ:  # loaded as the plugin by the fresh-clone test, not merely imported
    install()
