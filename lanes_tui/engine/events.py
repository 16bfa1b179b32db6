"""What the supervisor tells its observers (the headless runner, the dashboard).

Small, frozen, past tense. Text fields that come from agents or task files are
raw: observers that draw them sanitise them (core.sanitize) first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class SupervisorEvent:
    def as_dict(self) -> dict[str, Any]:
        return {"event": EVENT_NAMES[type(self)], **asdict(self)}


@dataclass(frozen=True)
class SupervisorStarted(SupervisorEvent):
    owner: str
    store: str
    recovered_tasks: tuple[str, ...] = ()
    killed_leftover_workers: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskWaiting(SupervisorEvent):
    task_id: str
    lane: str
    reason: str


@dataclass(frozen=True)
class WorkerStarted(SupervisorEvent):
    task_id: str
    lane: str
    vendor: str
    model: str
    effort: str
    attempt: int
    pid: int


@dataclass(frozen=True)
class WorkerActivity(SupervisorEvent):
    task_id: str
    text: str


@dataclass(frozen=True)
class WorkerUsage(SupervisorEvent):
    task_id: str
    tokens_in: int
    tokens_out: int
    cost_usd: float | None


@dataclass(frozen=True)
class LeaseRenewed(SupervisorEvent):
    task_id: str
    lease_expires_at: str


@dataclass(frozen=True)
class AttemptFailed(SupervisorEvent):
    task_id: str
    attempt: int
    reason: str
    retry_in_seconds: float | None  # None: no retry (attempts used up, or not retryable)


@dataclass(frozen=True)
class VendorPaused(SupervisorEvent):
    vendor: str
    seconds: float
    reason: str


@dataclass(frozen=True)
class TaskCompleted(SupervisorEvent):
    task_id: str
    lane: str
    attempts: int
    duration_ms: int
    tokens_in: int
    tokens_out: int
    cost_usd: float | None


@dataclass(frozen=True)
class TaskFailed(SupervisorEvent):
    task_id: str
    lane: str
    attempts: int
    reason: str


@dataclass(frozen=True)
class WorkerAbandoned(SupervisorEvent):
    """Our worker was stopped because the claim went elsewhere (cancel, break) or we are stopping."""

    task_id: str
    reason: str


@dataclass(frozen=True)
class SupervisorStopped(SupervisorEvent):
    reason: str


EVENT_NAMES = {
    cls: "".join("_" + ch.lower() if ch.isupper() else ch for ch in cls.__name__).lstrip("_")
    for cls in (
        SupervisorStarted, TaskWaiting, WorkerStarted, WorkerActivity, WorkerUsage, LeaseRenewed,
        AttemptFailed, VendorPaused, TaskCompleted, TaskFailed, WorkerAbandoned, SupervisorStopped,
    )
}

Listener = Callable[[SupervisorEvent], None]
