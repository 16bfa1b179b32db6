"""Supervisors and the workers they run, as records any backend can keep (G2, G9).

One supervisor per queue holds its backend's lifetime lock (`Backend.supervisor_registry`);
it records each running worker's process group with the leader's pid and start time before
the worker can do anything, so a successor kills only groups whose leader still has that
start time (pids are reused).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from lanes_tui.core import procinfo
from lanes_tui.core.hosts import this_host

OWNER_PREFIX = "lanes-tui@"


def owner_prefix(host: str | None = None) -> str:
    return f"{OWNER_PREFIX}{host or this_host()}:"


def this_supervisor() -> "SupervisorRecord":
    """The record of a supervisor in this process, with no workers yet."""
    return SupervisorRecord(f"{owner_prefix()}{os.getpid()}", os.getpid(), procinfo.start_time(os.getpid()))


@dataclass(frozen=True)
class WorkerRecord:
    task_id: str
    pid: int
    pgid: int
    start_time: int | None
    claim_token: str
    attempt: int


@dataclass
class SupervisorRecord:
    owner: str
    pid: int
    start_time: int | None
    workers: dict[str, WorkerRecord] = field(default_factory=dict)
    capacity: int | None = None  # how many workers it may run at once (the hosts view)
    stopped: bool = False  # it released the queue cleanly: not a dead host to rescue from

    def to_json(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "pid": self.pid,
            "start_time": self.start_time,
            "workers": {tid: asdict(w) for tid, w in self.workers.items()},
            "capacity": self.capacity,
            "stopped": self.stopped,
        }

    @classmethod
    def from_json(cls, raw: Any) -> "SupervisorRecord | None":
        try:
            workers = {tid: WorkerRecord(**w) for tid, w in raw.get("workers", {}).items()}
            capacity = raw.get("capacity")
            return cls(str(raw["owner"]), int(raw["pid"]), raw.get("start_time"), workers,
                       int(capacity) if capacity is not None else None, bool(raw.get("stopped", False)))
        except (AttributeError, KeyError, TypeError, ValueError):
            return None


# What the hosts view says of a supervisor (SupervisorStatus.state).
RUNNING, LATE, DEAD, STOPPED = "running", "late", "dead", "stopped"


@dataclass(frozen=True)
class SupervisorStatus:
    """One supervisor of a queue as a backend knows it: the hosts view's row."""

    host: str
    record: SupervisorRecord
    state: str  # RUNNING, LATE (heartbeats stopped coming, not yet dead), DEAD, STOPPED
    heartbeat_age: float | None = None  # seconds since its last heartbeat; None: a backend without heartbeats
    dead_after: float | None = None  # heartbeat age from which its expired claims are rescued

    @property
    def here(self) -> bool:
        return self.host == this_host()


def host_of(claim_owner: str | None) -> str | None:
    """The host in a lanes-tui supervisor's claim owner (`lanes-tui@<host>:<pid>`), else None."""
    if not claim_owner or not claim_owner.startswith(OWNER_PREFIX):
        return None
    host, _, pid = claim_owner[len(OWNER_PREFIX):].rpartition(":")
    return host if host and pid.isdigit() else None


class SupervisorRegistry(Protocol):
    """The lifetime lock of the one supervisor of a queue, and its record of running workers."""

    owner: str
    record: SupervisorRecord

    def claim(self) -> SupervisorRecord | None:
        """Take the lock (ConflictError if another supervisor holds it); the dead predecessor's
        record, if it left one."""

    @property
    def holds_lock(self) -> bool: ...

    def release(self) -> None: ...

    def record_worker(self, worker: WorkerRecord) -> None: ...

    def forget_worker(self, task_id: str) -> None: ...

    def set_capacity(self, capacity: int) -> None:
        """How many workers this supervisor may run at once, for the hosts view."""


def kill_leftover_workers(previous: SupervisorRecord) -> list[str]:
    """SIGKILL the process groups a dead supervisor left behind (G9).

    Only a group whose leader still has the recorded start time is touched: a
    recorded pid that now belongs to someone else is left alone. Returns the
    task ids whose workers were killed.
    """
    killed = []
    for worker in previous.workers.values():
        if procinfo.is_same_process(worker.pid, worker.start_time):
            procinfo.signal_group(worker.pgid, procinfo.SIGKILL)
            killed.append(worker.task_id)
        elif procinfo.start_time(worker.pid) is None and procinfo.group_alive(worker.pgid):
            # The leader is gone but members of its group remain. Linux never hands out
            # a number still used as a process group id, so these are the worker's own.
            procinfo.signal_group(worker.pgid, procinfo.SIGKILL)
            killed.append(worker.task_id)
    return killed


def is_dead_supervisor_claim(claim_owner: str | None, my_owner: str) -> bool:
    """A claim by a lanes-tui supervisor on this host that is not us.

    While we hold the lifetime lock no other supervisor runs on this store,
    so such a claim's holder is provably dead (G2): reclaim it at once.
    """
    return bool(claim_owner) and claim_owner != my_owner and claim_owner.startswith(owner_prefix())  # type: ignore[union-attr]
