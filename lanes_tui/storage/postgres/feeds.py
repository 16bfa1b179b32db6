"""Change feeds over LISTEN/NOTIFY: every write names what it changed in a notification sent
with its transaction (PostgreSQL delivers it on commit, never for a rolled-back one).

Each feed or watch has its own connection, LISTENing before the constructor returns (armed:
a change made after that is never missed). A waiter blocks in select() on that connection's
socket and on a pipe of its own, so `close()` from any thread wakes it at once; nothing is
polled.
"""

from __future__ import annotations

import asyncio
import os
import select
import threading
import time
from typing import Any, Iterable

TASKS_CHANNEL = "lanes_tui_tasks"  # payload: a task id, "+<id>" for a new task
RECORDS_CHANNEL = "lanes_tui_records"  # payload: the kind of record (locks, agents, messages, requests)


class Listener:
    """One connection LISTENing on one channel; `wait` returns the payloads that arrived."""

    def __init__(self, connect: Any, channel: str) -> None:
        self._conn = connect()
        self._conn.execute(f"LISTEN {channel}")
        self._wake_read, self._wake_write = os.pipe()
        self._closed = threading.Event()
        self._lock = threading.Lock()

    def wait(self, timeout: float) -> list[str] | None:
        """Payloads received within `timeout` (all that arrived by the first one); None once closed."""
        if self._closed.is_set():
            return None
        with self._lock:
            payloads = self._drain()
            if not payloads:
                readable, _, _ = select.select([self._conn.fileno(), self._wake_read], [], [], max(0.0, timeout))
                if self._closed.is_set():
                    return None
                if readable:
                    payloads = self._drain()
            return payloads

    def _drain(self) -> list[str]:
        return [note.payload for note in self._conn.notifies(timeout=0)]

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        os.write(self._wake_write, b"x")
        with self._lock:  # the waiter has left select()
            self._conn.close()
            os.close(self._wake_read)
            os.close(self._wake_write)


class TaskListener:
    """`TaskChanges` (async) and `TaskWatch` (blocking) for the PostgreSQL backend."""

    def __init__(self, connect: Any, task_ids: Iterable[str] | None = None, new_tasks: bool = True) -> None:
        self._only = None if task_ids is None else set(task_ids)
        self._new_tasks = new_tasks
        self._listener = Listener(connect, TASKS_CHANNEL)

    def _wanted(self, payloads: list[str]) -> set[str]:
        found = set()
        for payload in payloads:
            new, task_id = payload.startswith("+"), payload.lstrip("+")
            if self._only is None or (new and self._new_tasks) or task_id in self._only:
                found.add(task_id)
        return found

    def _wait(self, timeout: float) -> set[str] | None:
        deadline = time.monotonic() + timeout
        while True:  # until a change of ours, or the deadline (others' changes wake us too)
            payloads = self._listener.wait(deadline - time.monotonic())
            if payloads is None:
                return None
            found = self._wanted(payloads)
            if found or time.monotonic() >= deadline:
                return found

    async def changes(self, timeout: float) -> set[str] | None:
        return await asyncio.to_thread(self._wait, timeout)

    def wait(self, timeout: float) -> set[str]:
        return self._wait(timeout) or set()

    def close(self) -> None:
        self._listener.close()

    def __enter__(self) -> "TaskListener":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RecordListener:
    """`RecordChanges` (async) and `RecordWatch` (blocking) for one kind of record."""

    def __init__(self, connect: Any, kind: str) -> None:
        self._kind = kind
        self._listener = Listener(connect, RECORDS_CHANNEL)

    def _wait(self, timeout: float) -> bool | None:
        deadline = time.monotonic() + timeout
        while True:  # until a change of this kind, or the deadline
            payloads = self._listener.wait(deadline - time.monotonic())
            if payloads is None:
                return None
            if self._kind in payloads or time.monotonic() >= deadline:
                return self._kind in payloads

    async def changed(self, timeout: float) -> bool | None:
        return await asyncio.to_thread(self._wait, timeout)

    def wait(self, timeout: float) -> bool:
        return bool(self._wait(timeout))

    def close(self) -> None:
        self._listener.close()
