"""The queue's domain values: task states, tasks, answers and attempts, typed (pure).

On disk a task is agent-lanes' task.json (24 keys, protocol.md) and an answer its
response.json; these classes are what programs get instead of those raw dicts
(`lanes_tui.client`). `Task.from_wire` / `to_wire` convert both ways without
losing anything: keys another tool added survive in `extra`.

`attempts_of` is the one place that counts attempts from a task's events: every
`claimed` event is an attempt (whoever claimed), every `attempt_failed` a failed
one with its reason (the supervisor writes them, G3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from lanes_tui.core.clock import parse_ts

ATTEMPT_FAILED = "attempt_failed"


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


@dataclass(frozen=True)
class Task:
    id: str
    lane: str
    state: TaskState
    prompt: str
    metadata: Mapping[str, Any]
    workspace_id: str
    correlation_id: str
    source_agent: str
    workspace_root: str
    request_path: str
    request_sha256: str
    response_path: str
    created_at: str
    updated_at: str
    worktree_path: str | None = None
    expected_branch: str | None = None
    supporting_paths: tuple[Mapping[str, Any], ...] = ()
    claim_owner: str | None = None
    claim_token: str | None = None
    lease_expires_at: str | None = None
    claimed_at: str | None = None
    completed_at: str | None = None
    failed_at: str | None = None
    failure_reason: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))  # keys others added

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> "Task":
        """From a task.json object as the store reads it (already checked there)."""
        values = {key: data.get(key) for key in WIRE_KEYS}
        values["state"] = TaskState(data["state"])
        values["metadata"] = MappingProxyType(dict(data.get("metadata") or {}))
        values["supporting_paths"] = tuple(MappingProxyType(dict(p)) for p in data.get("supporting_paths") or ())
        values["extra"] = MappingProxyType({k: v for k, v in data.items() if k not in WIRE_KEYS})
        return cls(**values)

    def to_wire(self) -> dict[str, Any]:
        """The task.json object: the 24 keys in agent-lanes' order, then the others."""
        out: dict[str, Any] = {}
        for key in WIRE_KEYS:
            value = getattr(self, key)
            if key == "state":
                value = str(value)
            elif key == "metadata":
                value = dict(value)
            elif key == "supporting_paths":
                value = [dict(p) for p in value]
            out[key] = value
        out.update(self.extra)
        return out

    @property
    def created(self) -> datetime | None:
        return parse_ts(self.created_at)

    @property
    def lease_expires(self) -> datetime | None:
        return parse_ts(self.lease_expires_at) if self.lease_expires_at else None


@dataclass(frozen=True)
class Answer:
    """A task's response.json: its result (or, when not `success`, the error)."""

    task_id: str
    success: bool
    body: str
    reviewer: str
    created_at: str
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> "Answer":
        return cls(task_id=str(data.get("task_id") or ""), success=data.get("status") == TaskState.COMPLETED,
                   body=str(data.get("body") or ""), reviewer=str(data.get("reviewer") or ""),
                   created_at=str(data.get("created_at") or ""),
                   metadata=MappingProxyType(dict(data.get("metadata") or {})))

    @property
    def result(self) -> str | None:
        return self.body if self.success else None

    @property
    def error(self) -> str | None:
        return None if self.success else self.body


@dataclass(frozen=True)
class Claim:
    """What `claim` hands a worker: the task as claimed, and the token its later calls need."""

    task: Task
    token: str


@dataclass(frozen=True)
class Attempts:
    claims: int = 0  # every claim is an attempt, whoever claimed
    failures: int = 0
    reasons: tuple[str, ...] = ()  # of the failed ones, oldest first


def attempts_of(events: Iterable[Mapping[str, Any]]) -> Attempts:
    claims = failures = 0
    reasons: list[str] = []
    for event in events:
        kind = event.get("type")
        if kind == "claimed":
            claims += 1
        elif kind == ATTEMPT_FAILED:
            failures += 1
            reasons.append(str(event.get("message") or ""))
    return Attempts(claims, failures, tuple(reasons))
