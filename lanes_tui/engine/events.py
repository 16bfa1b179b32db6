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
class TempFilesSwept(SupervisorEvent):
    count: int  # leftovers of writers killed mid-write, removed after the start (only when some were)


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
    effort: str | None  # None: no effort was passed (the CLI's default applies)
    attempt: int
    pid: int
    permissions: str = "read-only"  # the preset its command line carries


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
    cost_estimated: bool = False  # from the price table: the vendor has not reported a cost (yet)
    tokens_cache_read: int = 0
    tokens_cache_write: int = 0
    tokens_reasoning: int = 0


@dataclass(frozen=True)
class WorkerApiRetry(SupervisorEvent):
    """The worker's CLI is retrying a failed API call itself."""

    task_id: str
    attempt: int
    max_retries: int | None
    status: int | None
    delay_seconds: float | None
    text: str  # display-ready: "API 429, retry 3/10 in 8 s"


@dataclass(frozen=True)
class WorkerDenied(SupervisorEvent):
    """A tool call of the worker was refused by its permission preset (raw: sanitise to show)."""

    task_id: str
    tool: str
    target: str


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
    quota: bool = False  # a quota or usage limit (it lasts until `seconds` passed, or for good)


@dataclass(frozen=True)
class TaskCompleted(SupervisorEvent):
    task_id: str
    lane: str
    attempts: int
    duration_ms: int
    tokens_in: int
    tokens_out: int
    cost_usd: float | None
    attention: str | None = None  # completed, but someone should look: why (denied tool calls)
    git: dict[str, Any] | None = None  # the task's branch (the answer's metadata `git`), when isolated
    response_file: str | None = None  # where the answer was written (metadata `write_response`)
    response_file_error: str | None = None  # why it could not be written there


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
class WorkerFinished(SupervisorEvent):
    """The supervision of one attempt is over, whatever its outcome (the last event about it)."""

    task_id: str


@dataclass(frozen=True)
class SupervisorStopped(SupervisorEvent):
    reason: str


EVENT_NAMES = {
    cls: "".join("_" + ch.lower() if ch.isupper() else ch for ch in cls.__name__).lstrip("_")
    for cls in (
        SupervisorStarted, TempFilesSwept, TaskWaiting, WorkerStarted, WorkerActivity, WorkerUsage, WorkerApiRetry,
        WorkerDenied, LeaseRenewed,
        AttemptFailed, VendorPaused, TaskCompleted, TaskFailed, WorkerAbandoned, WorkerFinished, SupervisorStopped,
    )
}

Listener = Callable[[SupervisorEvent], None]
