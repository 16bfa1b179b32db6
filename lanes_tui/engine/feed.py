"""The change feed for asyncio code: which tasks changed, pushed by inotify.

`TaskFeed` watches `<store>/tasks` recursively (through watchfiles' Rust
watcher) and turns file events into task ids. `follow` keeps a `TaskIndex`
current with it: the watcher is armed *before* the first full scan, so nothing
written in between is lost, and every `rescan_seconds` without events the
index is compared with the whole store: the safety net for events inotify can
drop (queue overflow) or never sees (some filesystems).
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Callable

from lanes_tui.engine.changefeed import DEBOUNCE_MS, task_ids_of
from lanes_tui.engine.index import IndexChange, TaskIndex

DEFAULT_RESCAN_SECONDS = 30.0
# watchfiles' Rust loop wakes every step to look for collected events. A long-running
# supervisor or dashboard can react 50 ms later without anyone noticing, and idles at
# a fifth of the wake-ups the latency-bound CLI waits (10 ms) need.
FEED_STEP_MS = 50


class TaskFeed:
    """Armed on construction; `changes()` blocks (in a worker thread) until events or timeout."""

    def __init__(self, tasks_dir: Path) -> None:
        from watchfiles._rust_notify import RustNotify

        self.tasks_dir = Path(tasks_dir)
        self._stop = threading.Event()
        self._watching = False
        self._notify = RustNotify([str(self.tasks_dir)], False, False, 300, True, True)

    async def changes(self, timeout: float) -> set[str] | None:
        """Changed task ids; an empty set on a quiet timeout; None once closed."""
        if self._stop.is_set():
            return None
        self._watching = True
        try:
            result = await asyncio.to_thread(
                self._notify.watch, max(DEBOUNCE_MS, 2 * FEED_STEP_MS), FEED_STEP_MS, max(1, int(timeout * 1000)), self._stop
            )
        finally:
            self._watching = False
        if result == "stop" or self._stop.is_set():
            self._notify.close()  # closed here, after the watching thread let go of it
            return None
        if isinstance(result, str):  # "timeout" (or "signal": the main thread handles signals)
            return set()
        return task_ids_of({path for _, path in result}, self.tasks_dir)

    def close(self) -> None:
        """Stop the watcher; a pending `changes()` returns None within one step."""
        self._stop.set()
        if not self._watching:
            self._notify.close()


async def follow(
    index: TaskIndex,
    feed: TaskFeed,
    on_change: Callable[[IndexChange], None],
    *,
    rescan_seconds: float = DEFAULT_RESCAN_SECONDS,
    wake_after: Callable[[], float | None] | None = None,
) -> None:
    """Keep `index` current until the feed is closed; report each non-empty change.

    `wake_after` may name a shorter wait (e.g. until the next lease expires),
    after which on_change is called with an empty change so the caller can act
    on time-based transitions that no file event announces.
    """
    change = index.rescan()
    last_rescan = time.monotonic()
    if change:
        on_change(change)
    while True:
        timeout = max(0.001, last_rescan + rescan_seconds - time.monotonic())
        extra = wake_after() if wake_after else None
        if extra is not None:
            timeout = min(timeout, max(0.001, extra))
        ids = await feed.changes(timeout)
        if ids is None:
            return
        if ids:
            change = index.refresh(ids)
        elif time.monotonic() - last_rescan >= rescan_seconds:
            change = index.rescan()
            last_rescan = time.monotonic()
        else:
            on_change(IndexChange(frozenset(), frozenset(), frozenset()))  # a timer: re-check leases
            continue
        if change:
            on_change(change)
