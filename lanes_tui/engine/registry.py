"""The supervisor's lifetime lock and its record of running workers (G2, G9).

One supervisor per store: it holds `flock(<store>/.lanes-tui/supervisor.lock)`
for as long as it lives. The kernel drops that lock when the process dies,
even by SIGKILL, so a newcomer that gets the lock knows its predecessor is
gone and can act at once instead of waiting for leases to expire. Workers
must not inherit the descriptor (O_CLOEXEC; subprocesses close other fds),
or a leftover worker would keep a dead supervisor "alive".

`supervisor.json` records each running worker's process group with the
leader's pid and start time, written before the worker can do anything; a
successor kills only groups whose leader still has that start time (pids
are reused).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
from dataclasses import asdict, dataclass, field
from typing import Any

from lanes_tui.core import fsio, procinfo
from lanes_tui.core.errors import ConflictError, StoreError
from lanes_tui.core.scan import CACHE_DIR
from lanes_tui.core.store import TaskStore

LOCK_NAME = "supervisor.lock"
RECORD_NAME = "supervisor.json"
OWNER_PREFIX = "lanes-tui@"


def owner_prefix(host: str | None = None) -> str:
    return f"{OWNER_PREFIX}{host or socket.gethostname()}:"


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

    def to_json(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "pid": self.pid,
            "start_time": self.start_time,
            "workers": {tid: asdict(w) for tid, w in self.workers.items()},
        }

    @classmethod
    def from_json(cls, raw: Any) -> "SupervisorRecord | None":
        try:
            workers = {tid: WorkerRecord(**w) for tid, w in raw.get("workers", {}).items()}
            return cls(str(raw["owner"]), int(raw["pid"]), raw.get("start_time"), workers)
        except (AttributeError, KeyError, TypeError, ValueError):
            return None


class SupervisorRegistry:
    """Acquire with `claim()`; then `record_worker` / `forget_worker` as workers come and go."""

    def __init__(self, store: TaskStore) -> None:
        self.store = store
        self.folder = store.root / CACHE_DIR
        self.owner = f"{owner_prefix()}{os.getpid()}"
        self.record = SupervisorRecord(self.owner, os.getpid(), procinfo.start_time(os.getpid()))
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
