"""Printing in agent-lanes' shapes: JSON with indent 2 and sorted keys, or its terse text."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from lanes_tui.core import jsonout


def emit(data: dict[str, Any], as_json: bool) -> None:
    """agent-lanes' `_print`: JSON, or the task id alone when there is one."""
    if as_json or "task_id" not in data:
        sys.stdout.write(jsonout.dumps(data) + "\n")
    else:
        sys.stdout.write(f"{data['task_id']}\n")


def emit_committed(data: dict[str, Any], as_json: bool, done: str) -> None:
    """`emit` for a change already made (a task created): output that cannot be written is not
    reported as a failure, which a caller would retry and so make a duplicate. `done` says what
    was made, on stderr, for whoever still reads it."""
    try:
        emit(data, as_json)
        sys.stdout.flush()
    except (OSError, ValueError) as exc:
        _drop_stdout()
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"lanes-tui: {done}, but its output could not be written: "
                             f"{getattr(exc, 'strerror', None) or exc}\n")


def _drop_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    with contextlib.suppress(Exception):
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives until exit


def emit_json(data: dict[str, Any]) -> None:
    sys.stdout.write(jsonout.dumps(data) + "\n")


def finish_stdout() -> None:
    """Flush and close standard output so a reader sees end-of-file now.

    A process that used an inotify watcher spends ~15 ms in kernel teardown
    when it exits; a script reading a blocking wait's answer should not have
    to sit through that. Only done when stdout really is file descriptor 1.
    """
    try:
        sys.stdout.flush()
        if sys.stdout.fileno() != 1:
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # later writes (there should be none) go nowhere instead of failing
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # captured or replaced stdout (tests, embedding): nothing to close


def warn(message: str) -> None:
    print(f"lanes-tui: warning: {' '.join(message.split())}", file=sys.stderr)


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
