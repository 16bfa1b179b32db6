"""The queue's vocabulary: task states, agent-lanes' task keys, and the one attempts counter.

Kept apart from the typed values (`core/model.py`) because every one-shot command needs these
and none needs those. `attempts_of` is the one place that counts attempts from a task's
events: every `claimed` event is an attempt (whoever claimed), every `attempt_failed` a failed
one with its reason (the supervisor writes them, G3).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Iterable, Mapping, NamedTuple

ATTEMPT_FAILED = "attempt_failed"
ATTEMPT_INTERRUPTED = "attempt_interrupted"  # a supervisor stopped while it ran: it does not count


class TaskState(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (TaskState.COMPLETED, TaskState.FAILED)


# The states as the wire dicts hold them (TaskState members are equal to these strings).
QUEUED, CLAIMED, COMPLETED, FAILED = (str(state) for state in TaskState)
STATES = (QUEUED, CLAIMED, COMPLETED, FAILED)
TERMINAL_STATES = frozenset({COMPLETED, FAILED})
CANCELLED = "cancelled"  # the failure_reason of a cancelled task


WIRE_KEYS = (
    "id", "workspace_id", "correlation_id", "source_agent", "lane", "workspace_root", "worktree_path",
    "expected_branch", "request_path", "request_sha256", "supporting_paths", "response_path", "prompt",
    "metadata", "state", "created_at", "updated_at", "claim_owner", "claim_token", "lease_expires_at",
    "claimed_at", "completed_at", "failed_at", "failure_reason",
)


class Attempts(NamedTuple):
    claims: int = 0  # every claim, whoever claimed (attempt logs are numbered by it)
    failures: int = 0
    reasons: tuple[str, ...] = ()  # of the failed ones, oldest first
    interrupted: int = 0  # claims a supervisor handed back because it stopped (quit, SIGTERM)

    @property
    def counted(self) -> int:
        """The attempts a person counts: every claim but those cut short by a supervisor
        stopping, which said nothing about the task (the TRY column)."""
        return self.claims - self.interrupted


def attempts_of(events: Iterable[Mapping[str, Any]]) -> Attempts:
    claims = failures = interrupted = 0
    reasons: list[str] = []
    for event in events:
        kind = event.get("type")
        if kind == "claimed":
            claims += 1
        elif kind == ATTEMPT_INTERRUPTED:
            interrupted += 1
        elif kind == ATTEMPT_FAILED:
            failures += 1
            reasons.append(str(event.get("message") or ""))
    return Attempts(claims, failures, tuple(reasons), min(interrupted, claims))
