"""The memory backend's supervisor registry: one supervisor per backend object.

The queue lives and dies with this process, so a predecessor can never have left workers
behind: `claim` never returns a record, and the lock is a flag.
"""

from __future__ import annotations

import threading

from lanes_tui.core.errors import ConflictError
from lanes_tui.core.hosts import this_host
from lanes_tui.core.supervisors import RUNNING, SupervisorRecord, SupervisorStatus, WorkerRecord, this_supervisor


class MemorySupervisorLock:
    """Shared by every registry of one backend."""

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.holder: "MemorySupervisorRegistry | None" = None


class MemorySupervisorRegistry:
    def __init__(self, lock: MemorySupervisorLock, location: str) -> None:
        self._lock = lock
        self._location = location
        self.record = this_supervisor()
        self.owner = self.record.owner

    def claim(self) -> SupervisorRecord | None:
        with self._lock.mutex:
            if self._lock.holder is not None and self._lock.holder is not self:
                raise ConflictError(f"another lanes-tui supervisor is already running on {self._location}")
            self._lock.holder = self
        return None

    @property
    def holds_lock(self) -> bool:
        return self._lock.holder is self

    def release(self) -> None:
        self.record.workers.clear()
        with self._lock.mutex:
            if self._lock.holder is self:
                self._lock.holder = None

    def record_worker(self, worker: WorkerRecord) -> None:
        self.record.workers[worker.task_id] = worker

    def forget_worker(self, task_id: str) -> None:
        self.record.workers.pop(task_id, None)

    def set_capacity(self, capacity: int) -> None:
        self.record.capacity = capacity


def status(lock: MemorySupervisorLock) -> list[SupervisorStatus]:
    """The one supervisor of an in-memory queue, while one holds it (it lives in this process)."""
    holder = lock.holder
    return [] if holder is None else [SupervisorStatus(this_host(), holder.record, RUNNING)]
