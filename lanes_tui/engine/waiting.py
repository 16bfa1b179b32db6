"""Blocking waits for the one-shot CLI: `wait --lane`, `next`, `watch`, `wait <id>`.

Each round arms a watcher on the folders that matter, then checks the store,
then sleeps until a change, a lease expiry or the rescan interval. Arming
before checking means no change is ever lost between the two.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

from lanes_tui.core.clock import parse_ts
from lanes_tui.core.errors import CorruptTask
from lanes_tui.core.states import CLAIMED, TERMINAL_STATES
from lanes_tui.storage.results import NextResult

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend, TaskWatch

RESCAN_SECONDS = 30.0


def wait_for_lane_task(
    store: Backend,
    lane: str,
    *,
    timeout: float,
    vendor: str | None = None,
    claim_owner: str | None = None,
    lease_seconds: float | None = None,
    heartbeat_seconds: float = 0.0,
    on_heartbeat: Callable[[], None] | None = None,
) -> NextResult:
    """The lane's next claimable task (claimed for `claim_owner` if given), or none by `timeout`.

    One watcher stays armed across wake-ups (it keeps collecting events while
    we look at the store), and is re-armed only when the set of folders worth
    watching changes. A wake-up re-reads just the tasks whose folders changed;
    the whole lane is re-checked after re-arming, when a lease runs out, and on
    the periodic rescan.
    """
    deadline = time.monotonic() + timeout
    next_beat = time.monotonic() + heartbeat_seconds if heartbeat_seconds > 0 else None
    watcher: TaskWatch | None = None
    watched: tuple[str, ...] | None = None
    full_check = True
    changed: set[str] = set()
    stale_seen: dict[str, str] = {}
    next_rescan = time.monotonic() + RESCAN_SECONDS
    lease_due = next_rescan

    def look(candidates: list[str]) -> NextResult:
        return store.next_task(
            lane, candidates=candidates, vendor=vendor, claim_owner=claim_owner, lease_seconds=lease_seconds
        )

    try:
        while True:
            if full_check:
                corrupt: list[tuple[str, str]] = []
                result = look(store.lane_candidates(lane, corrupt))
                stale_seen.update(corrupt)
            else:
                fresh = store.read_new_tasks(sorted(changed))
                result = look(sorted(t["id"] for t in fresh if t["lane"] == lane))
            stale_seen.update(dict(result.stale))
            if result.task is not None:
                return _with_stale(result, stale_seen)
            if full_check:
                # Nothing claimable: the lane's live tasks (claimed, skipped) are
                # what can change into something claimable; watch their folders.
                listing = store.live_tasks(lane=lane)
                wanted = tuple(sorted(t["id"] for t in listing.tasks))
                lease_due = time.monotonic() + _until_first_expiry(store, listing.tasks)
                if wanted != watched:
                    if watcher is not None:
                        watcher.close()
                    watcher = store.watch(wanted)
                    watched = wanted
                    continue  # armed anew: look again so nothing slips between the two
            now = time.monotonic()
            if now >= deadline:
                return _with_stale(result, stale_seen)
            wake = min(deadline, next_rescan, lease_due)
            if next_beat is not None:
                if now >= next_beat:
                    if on_heartbeat:
                        on_heartbeat()
                    next_beat = now + heartbeat_seconds
                wake = min(wake, next_beat)
            assert watcher is not None
            changed = watcher.wait(max(0.001, wake - now))
            now = time.monotonic()
            timer_fired = not changed and now < deadline
            full_check = timer_fired or now >= next_rescan or bool(changed & set(watched or ()))
            if now >= next_rescan:
                next_rescan = now + RESCAN_SECONDS
            if not full_check and not changed:
                continue  # events elsewhere in the store: nothing for this lane
    finally:
        if watcher is not None:
            watcher.close()


def wait_for_answer(
    store: Backend,
    task_id: str,
    *,
    timeout: float,
    heartbeat_seconds: float = 0.0,
    on_heartbeat: Callable[[], None] | None = None,
) -> dict[str, Any] | None:
    """The task once it is completed or failed (after roll-forward), or None on timeout."""
    deadline = time.monotonic() + timeout
    next_beat = time.monotonic() + heartbeat_seconds if heartbeat_seconds > 0 else None
    while True:
        with store.watch([task_id], new_tasks=False) as watcher:
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


def _until_first_expiry(store: Backend, tasks: list[dict[str, Any]]) -> float:
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
