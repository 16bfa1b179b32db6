"""Blocking waits for the one-shot CLI: `wait --lane`, `next`, `watch`, `wait <id>`.

Each round arms a watcher on the folders that matter, then checks the store,
then sleeps until a change, a lease expiry or the rescan interval. Arming
before checking means no change is ever lost between the two.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from lanes_tui.core.clock import parse_ts
from lanes_tui.core.errors import CorruptTask
from lanes_tui.core.scan import TaskFacts, lane_candidates, live_tasks
from lanes_tui.core.store import CLAIMED, TERMINAL_STATES, NextResult, TaskStore
from lanes_tui.engine.changefeed import DirWatcher

RESCAN_SECONDS = 30.0


def wait_for_lane_task(
    store: TaskStore,
    lane: str,
    *,
    timeout: float,
    vendor: str | None = None,
    claim_owner: str | None = None,
    lease_seconds: float | None = None,
    heartbeat_seconds: float = 0.0,
    on_heartbeat: Callable[[], None] | None = None,
) -> NextResult:
    deadline = time.monotonic() + timeout
    next_beat = time.monotonic() + heartbeat_seconds if heartbeat_seconds > 0 else None
    watched: tuple[str, ...] = ()
    stale_seen: dict[str, str] = {}
    while True:
        with DirWatcher([store.tasks_dir, *(store.tasks_dir / t for t in watched)]) as watcher:
            facts = TaskFacts.load(store)
            corrupt: list[tuple[str, str]] = []
            result = store.next_task(
                lane,
                candidates=lane_candidates(store, lane, facts, corrupt),
                vendor=vendor,
                claim_owner=claim_owner,
                lease_seconds=lease_seconds,
            )
            facts.save(store)
            stale_seen.update(dict(result.stale))
            stale_seen.update(corrupt)
            if result.task is not None:
                return _with_stale(result, stale_seen)
            # Nothing claimable: the lane's live tasks (claimed, skipped) decide
            # what to watch and when the next lease runs out.
            listing = live_tasks(store, lane=lane)
            live_ids = tuple(sorted(t["id"] for t in listing.tasks))
            if live_ids != watched:
                watched = live_ids  # re-arm on the new set before sleeping
                continue
            now = time.monotonic()
            if now >= deadline:
                return _with_stale(result, stale_seen)
            wake = min(deadline, now + RESCAN_SECONDS, now + _until_first_expiry(store, listing.tasks))
            if next_beat is not None:
                if now >= next_beat:
                    if on_heartbeat:
                        on_heartbeat()
                    next_beat = now + heartbeat_seconds
                wake = min(wake, next_beat)
            watcher.wait(max(0.001, wake - now))


def wait_for_answer(
    store: TaskStore,
    task_id: str,
    *,
    timeout: float,
    heartbeat_seconds: float = 0.0,
    on_heartbeat: Callable[[], None] | None = None,
) -> dict[str, Any] | None:
    """The task once it is completed or failed (after roll-forward), or None on timeout."""
    deadline = time.monotonic() + timeout
    next_beat = time.monotonic() + heartbeat_seconds if heartbeat_seconds > 0 else None
    task_dir = store.tasks_dir / task_id
    while True:
        with DirWatcher([task_dir]) as watcher:
            try:
                task = store.effective_task(task_id)
            except CorruptTask:
                task = None  # mid-repair by a writer without atomic writes: look again on change
            if task is not None and task["state"] in TERMINAL_STATES:
                return task
            now = time.monotonic()
            if now >= deadline:
                return None
            wake = min(deadline, now + RESCAN_SECONDS)
            if next_beat is not None:
                if now >= next_beat:
                    if on_heartbeat:
                        on_heartbeat()
                    next_beat = now + heartbeat_seconds
                wake = min(wake, next_beat)
            watcher.wait(max(0.001, wake - now))


def _until_first_expiry(store: TaskStore, tasks: list[dict[str, Any]]) -> float:
    """Seconds until the earliest lease in `tasks` expires (it becomes claimable then)."""
    now = store.now()
    soonest = RESCAN_SECONDS
    for task in tasks:
        if task["state"] != CLAIMED:
            continue
        try:
            expiry = parse_ts(task.get("lease_expires_at"))
        except ValueError:
            continue
        if expiry is not None:
            soonest = min(soonest, max(0.0, (expiry - now).total_seconds()) + 0.001)
    return soonest


def _with_stale(result: NextResult, stale: dict[str, str]) -> NextResult:
    return NextResult(result.task, result.claim_token, tuple(sorted(stale.items())), result.skipped_vendor)
