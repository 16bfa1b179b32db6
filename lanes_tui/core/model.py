"""The queue's domain values: task states, tasks, answers and attempts, typed (pure).

On disk a task is agent-lanes' task.json (24 keys, protocol.md) and an answer its
response.json; these classes are what programs get instead of those raw dicts
(`lanes_tui.client`). `Task.from_wire` / `to_wire` convert both ways without
losing anything: keys another tool added survive in `extra`.

The states themselves, the wire keys and the attempts counter are `core/states.py`, light
enough for the one-shot CLI (a frozen dataclass of 24 fields costs milliseconds to define).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Mapping

from lanes_tui.core.clock import parse_ts
from lanes_tui.core.states import (  # the vocabulary, re-exported with the values
    ATTEMPT_FAILED,
    CANCELLED,
    CLAIMED,
    COMPLETED,
    FAILED,
    QUEUED,
    STATES,
    TERMINAL_STATES,
    WIRE_KEYS,
    Attempts,
    TaskState,
    attempts_of,
)
from lanes_tui.core.titles import task_title

__all__ = [
    "ATTEMPT_FAILED", "CANCELLED", "CLAIMED", "COMPLETED", "FAILED", "QUEUED", "STATES", "TERMINAL_STATES",
    "WIRE_KEYS", "Answer", "Attempts", "Claim", "Task", "TaskState", "attempts_of",
]


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

    @property
    def title(self) -> str:
        """metadata.title, else the prompt's first line: what the dashboard's rows show."""
        return task_title({"metadata": dict(self.metadata), "prompt": self.prompt})

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
