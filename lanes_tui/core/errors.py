"""Error types; each carries the CLI exit code and a short machine-readable kind.

Exit codes are part of the documented interface (README, "Exit codes"). 0-2 keep
agent-lanes' meaning (1 = refused by queue state, 2 = `wait <id>` timed out) so
scripts written for agent-lanes keep working; the rest tell errors apart.
"""

from __future__ import annotations


class LanesError(Exception):
    exit_code = 1
    kind = "error"

    def __init__(self, message: str) -> None:
        # One line, always: callers print this verbatim to stderr.
        super().__init__(" ".join(str(message).split()) or self.kind)


class ConflictError(LanesError):
    """The task's state refuses the operation (already claimed, token mismatch...)."""

    exit_code = 1
    kind = "conflict"


class WaitTimeout(LanesError):
    exit_code = 2
    kind = "timeout"


class TaskFailed(LanesError):
    """`wait <id>` on a task that failed or was cancelled."""

    exit_code = 3
    kind = "task_failed"


class NotFound(LanesError):
    exit_code = 4
    kind = "not_found"


class InvalidInput(LanesError):
    exit_code = 5
    kind = "invalid_input"


class ConfigError(LanesError):
    exit_code = 6
    kind = "config_error"


class StoreError(LanesError):
    """The store cannot be used safely: I/O failure, disk full, unsafe permissions."""

    exit_code = 7
    kind = "store_error"


class CorruptTask(StoreError):
    """One task's files cannot be read; other tasks are unaffected."""

    exit_code = 8
    kind = "corrupt_task"


class UsageError(LanesError):
    exit_code = 64
    kind = "usage"


class InternalError(LanesError):
    """A bug in lanes-tui; reported in one line like any other error."""

    exit_code = 70
    kind = "internal_error"


class Interrupted(LanesError):
    exit_code = 130
    kind = "interrupted"
