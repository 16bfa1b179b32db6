"""Change feeds over LISTEN/NOTIFY: every write names what it changed in a notification sent
with its transaction (PostgreSQL delivers it on commit, never for a rolled-back one).

Each feed or watch has its own connection, LISTENing before the constructor returns (armed:
a change made after that is never missed). A waiter blocks in select() on that connection's
socket and on a pipe of its own, so `close()` from any thread wakes it at once; nothing is
polled (a connection quiet for 30 s notifies itself once, to check that notifications still
reach it) unless notifications are lost (`Listener`: degraded) or LISTEN is turned off for a
transaction-mode pooler (`lanes_pooler=transaction` in the queue URL).

Notifications sent while the connection was down are lost, so a listener whose connection
fails reconnects and reports a reconcile: a task feed names every task (its reader loads the
ones whose version changed), a record feed says its kind changed. While the server cannot be
reached, waits end quietly at their timeout and `degraded` says why; the engine's periodic
rescan is the safety net meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import threading
import time
from typing import Any, Callable, Iterable

import psycopg

from lanes_tui.core.errors import StoreError

TASKS_CHANNEL = "lanes_tui_tasks"  # payload: a task id, "+<id>" for a new task
RECORDS_CHANNEL = "lanes_tui_records"  # payload: the kind of record (locks, agents, messages, requests)


RECONNECTED = "\x00"  # not a payload PostgreSQL can carry: "reconcile, notifications may be lost"
PING = "lanes-tui ping"  # a listener's notification to itself (no task id or kind has a space)
PING_AFTER_SECONDS = 30.0  # quiet this long: check that notifications still arrive
PING_TIMEOUT_SECONDS = 10.0  # a ping not back by then: notifications are lost (reconnect, reconcile)
POLL_SECONDS = 2.0  # a reconcile this often while notifications cannot be relied on


class Listener:
    """One connection LISTENing on one channel; `wait` returns the payloads that arrived.

    A connection can stay up while its notifications stop (a pooler that moved the session, a
    LISTEN undone): after PING_AFTER_SECONDS without any, the listener notifies itself, and a
    ping that does not come back within PING_TIMEOUT_SECONDS counts as a lost connection.

    Degraded: from a lost ping or a failed connection until a notification is heard again
    (after a reconnect the listener pings at once, so a working one recovers in a round
    trip). Meanwhile `wait` reports a reconcile every POLL_SECONDS: the reader polls, so a
    change is still seen within seconds. With `listen` False (a transaction-mode pooler,
    where LISTEN cannot work) it only ever polls, by design, and is not degraded."""

    def __init__(self, connect: Callable[[], Any], channel: str, *, listen: bool = True) -> None:
        self._connect = connect
        self._channel = channel
        self._listens = listen
        self._conn: Any = self._listen() if listen else None  # StoreError here: the caller could not arm a feed
        self._wake_read, self._wake_write = os.pipe()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self.degraded: str | None = None  # why notifications cannot be heard now, or None
        self._heard_at = time.monotonic()
        self._pinged_at: float | None = None  # a ping is on its way since then
        self._polled_at = time.monotonic()

    @property
    def mode(self) -> str:
        """How changes are noticed now, for people (the hosts view)."""
        if not self._listens:
            return f"polling every {POLL_SECONDS:g} s (lanes_pooler=transaction)"
        if self.degraded:
            return f"degraded, polling every {POLL_SECONDS:g} s: {self.degraded}"
        return "LISTEN/NOTIFY"

    def _listen(self) -> Any:
        conn = self._connect()
        conn.execute(f"LISTEN {self._channel}")
        return conn

    def wait(self, timeout: float) -> list[str] | None:
        """Payloads received within `timeout` (all that arrived by the first one), [RECONNECTED]
        after a reconnect and at each poll while degraded; None once closed."""
        if self._closed.is_set():
            return None
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            if not self._listens:
                return self._poll(deadline)
            if self._conn is None:
                return self._reconnect(deadline)
            try:
                if self._ping_lost():
                    raise _NotificationsLost
                payloads = self._drain()
                if not payloads:
                    self._ping_if_quiet()
                    readable, _, _ = select.select([self._conn.fileno(), self._wake_read], [], [],
                                                   max(0.0, min(deadline, self._next_check()) - time.monotonic()))
                    if self._closed.is_set():
                        return None
                    if readable:
                        payloads = self._drain()
                if not payloads and self._poll_due():
                    return [RECONNECTED]
                return payloads
            except (psycopg.Error, _NotificationsLost) as exc:
                if isinstance(exc, _NotificationsLost):
                    self.degraded = (f"notifications stopped (a ping was not heard back within "
                                     f"{PING_TIMEOUT_SECONDS:g} s)")
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None
                return self._reconnect(deadline)

    def _drain(self) -> list[str]:
        payloads = [note.payload for note in self._conn.notifies(timeout=0)]
        if payloads:
            self._heard_at, self._pinged_at = time.monotonic(), None
            self.degraded = None  # heard: notifications reach us again
        return [payload for payload in payloads if payload != PING]

    def _ping_if_quiet(self) -> None:
        """Sent from a connection of its own: a session's own notification arrives inside its
        statement's answer, where psycopg's notifies() never sees it. While degraded, at once."""
        quiet = time.monotonic() - self._heard_at >= PING_AFTER_SECONDS
        if self._pinged_at is None and (quiet or self.degraded):
            try:
                with contextlib.closing(self._connect()) as pinger:
                    pinger.execute("SELECT pg_notify(%s, %s)", (self._channel, PING))
            except StoreError:
                raise _NotificationsLost from None  # the server is away: reconnecting says so
            self._pinged_at = time.monotonic()

    def _ping_lost(self) -> bool:
        return self._pinged_at is not None and time.monotonic() - self._pinged_at >= PING_TIMEOUT_SECONDS

    def _poll_due(self) -> bool:
        """While degraded, a reconcile every POLL_SECONDS."""
        if self.degraded is None or time.monotonic() - self._polled_at < POLL_SECONDS:
            return False
        self._polled_at = time.monotonic()
        return True

    def _next_check(self) -> float:
        """When the quiet, the ping or the next poll is worth a look (monotonic)."""
        checks = [self._pinged_at + PING_TIMEOUT_SECONDS if self._pinged_at is not None
                  else self._heard_at + PING_AFTER_SECONDS]
        if self.degraded is not None:
            checks.append(self._polled_at + POLL_SECONDS)
        return min(checks)

    def _poll(self, deadline: float) -> list[str] | None:
        """Polling only: a reconcile every POLL_SECONDS, quiet waits in between."""
        due = self._polled_at + POLL_SECONDS
        select.select([self._wake_read], [], [], max(0.0, min(deadline, due) - time.monotonic()))
        if self._closed.is_set():
            return None
        if time.monotonic() < due:
            return []
        self._polled_at = time.monotonic()
        return [RECONNECTED]

    def _reconnect(self, deadline: float) -> list[str] | None:
        try:
            self._conn = self._listen()
        except StoreError as exc:
            self.degraded = str(exc)
            select.select([self._wake_read], [], [], max(0.0, deadline - time.monotonic()))  # a quiet wait
            return None if self._closed.is_set() else []
        # Still degraded until something is heard: the next wait pings at once to find out.
        self._pinged_at = None
        self._polled_at = time.monotonic()
        return [RECONNECTED]

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        os.write(self._wake_write, b"x")
        with self._lock:  # the waiter has left select()
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
            os.close(self._wake_read)
            os.close(self._wake_write)


class _NotificationsLost(Exception):
    """A ping did not come back: the connection is up, but nothing reaches it."""


class TaskListener:
    """`TaskChanges` (async) and `TaskWatch` (blocking) for the PostgreSQL backend."""

    def __init__(self, connect: Callable[[], Any], reconcile: Callable[[], Iterable[str]],
                 task_ids: Iterable[str] | None = None, new_tasks: bool = True, *, listen: bool = True) -> None:
        self._only = None if task_ids is None else set(task_ids)
        self._new_tasks = new_tasks
        self._reconcile = reconcile  # every task id, for after a reconnect
        self._listener = Listener(connect, TASKS_CHANNEL, listen=listen)

    @property
    def degraded(self) -> str | None:
        return self._listener.degraded

    @property
    def mode(self) -> str:
        return self._listener.mode

    def _wanted(self, payloads: list[str]) -> set[str]:
        if RECONNECTED in payloads:  # a reconnect or a poll: whatever may have changed unheard
            if self._only is None:
                return set(self._reconcile_quietly())
            # A watch of new tasks too: every task now, so one submitted unheard wakes it.
            return set(self._only) | (set(self._reconcile_quietly()) if self._new_tasks else set())
        found = set()
        for payload in payloads:
            new, task_id = payload.startswith("+"), payload.lstrip("+")
            if self._only is None or (new and self._new_tasks) or task_id in self._only:
                found.add(task_id)
        return found

    def _reconcile_quietly(self) -> Iterable[str]:
        try:
            return self._reconcile()
        except StoreError:
            return ()  # down again: the next wait reconnects, the engine's rescan covers the gap

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

    def __init__(self, connect: Callable[[], Any], kind: str, *, listen: bool = True) -> None:
        self._kind = kind
        self._listener = Listener(connect, RECORDS_CHANNEL, listen=listen)

    def _wait(self, timeout: float) -> bool | None:
        deadline = time.monotonic() + timeout
        while True:  # until a change of this kind, or the deadline
            payloads = self._listener.wait(deadline - time.monotonic())
            if payloads is None:
                return None
            heard = self._kind in payloads or RECONNECTED in payloads
            if heard or time.monotonic() >= deadline:
                return heard

    async def changed(self, timeout: float) -> bool | None:
        return await asyncio.to_thread(self._wait, timeout)

    def wait(self, timeout: float) -> bool:
        return bool(self._wait(timeout))

    def close(self) -> None:
        self._listener.close()
