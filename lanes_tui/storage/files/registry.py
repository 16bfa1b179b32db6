"""The file store's supervisor registry: a flock held for the supervisor's lifetime.

It holds `flock(<store>/.lanes-tui/supervisor.lock)` for as long as it lives. The kernel drops
that lock when the process dies, even by SIGKILL, so a newcomer that gets the lock knows its
predecessor is gone and can act at once instead of waiting for leases to expire. Workers must
not inherit the descriptor (O_CLOEXEC; subprocesses close other fds), or a leftover worker
would keep a dead supervisor "alive". `supervisor.json` beside it is the record of workers.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os

from lanes_tui.core import fsio, procinfo
from lanes_tui.core.errors import ConflictError, StoreError
from lanes_tui.core.hosts import this_host
from lanes_tui.core.supervisors import (
    DEAD,
    RUNNING,
    STOPPED,
    SupervisorRecord,
    SupervisorStatus,
    WorkerRecord,
    host_of,
    this_supervisor,
)
from lanes_tui.storage.files.scan import CACHE_DIR
from lanes_tui.storage.files.store import TaskStore

LOCK_NAME = "supervisor.lock"
RECORD_NAME = "supervisor.json"


class FileSupervisorRegistry:
    """Acquire with `claim()`; then `record_worker` / `forget_worker` as workers come and go."""

    def __init__(self, store: TaskStore) -> None:
        self.store = store
        self.folder = store.root / CACHE_DIR
        self.record = this_supervisor()
        self.owner = self.record.owner
        self._lock_fd: int | None = None

    def claim(self) -> SupervisorRecord | None:
        """Take the lifetime lock; return the dead predecessor's record, if one was left."""
        try:
            self.folder.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(fsio.describe_os_error(exc, f"cannot open {self.folder / LOCK_NAME}")) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                other = self._read_record()
                who = f" (pid {other.pid})" if other else ""
                raise ConflictError(
                    f"another lanes-tui supervisor{who} is already running on {self.store.root}; "
                    "use the dashboard with --watch-only to watch it"
                ) from None
            raise StoreError(fsio.describe_os_error(exc, "cannot lock the supervisor file")) from exc
        self._lock_fd = fd
        previous = self._read_record()
        self._write()
        return previous if previous is not None and previous.pid != os.getpid() else None

    @property
    def holds_lock(self) -> bool:
        return self._lock_fd is not None

    def release(self) -> None:
        self.record.workers.clear()
        self.record.stopped = True
        with contextlib.suppress(OSError, StoreError):
            self._write()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def record_worker(self, worker: WorkerRecord) -> None:
        self.record.workers[worker.task_id] = worker
        self._write()

    def forget_worker(self, task_id: str) -> None:
        if self.record.workers.pop(task_id, None) is not None:
            with contextlib.suppress(OSError, StoreError):
                self._write()

    def set_capacity(self, capacity: int) -> None:
        self.record.capacity = capacity
        if self._lock_fd is not None:
            with contextlib.suppress(OSError, StoreError):
                self._write()

    def status(self) -> list[SupervisorStatus]:
        """The store's supervisor, as its record says: one host, no heartbeats; alive while its
        process is (pid and start time), dead once that process is gone without a clean stop."""
        record = self._read_record()
        if record is None:
            return []
        if record.stopped:
            state = STOPPED
        else:
            state = RUNNING if procinfo.is_same_process(record.pid, record.start_time) else DEAD
        return [SupervisorStatus(host_of(record.owner) or this_host(), record, state)]

    def _read_record(self) -> SupervisorRecord | None:
        try:
            with fsio.open_dir(self.folder) as fd:
                raw = json.loads(fsio.read_file(RECORD_NAME, dir_fd=fd, max_bytes=16 << 20))
        except (OSError, ValueError, StoreError):
            return None
        return SupervisorRecord.from_json(raw)

    def _write(self) -> None:
        with fsio.open_dir(self.folder) as fd:
            fsio.write_atomic(RECORD_NAME, fsio.dumps_json(self.record.to_json()), dir_fd=fd)
