"""Keeping a `TaskIndex` current from the backend's change feed (`Backend.task_feed`).

`follow` applies the task ids the feed reports. The feed is armed *before* the
first full scan, so nothing written in between is lost, and every
`rescan_seconds` without events the index is compared with the whole queue:
the safety net for events a feed can drop (inotify's queue overflow, a lost
NOTIFY) or never sees (some filesystems).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Awaitable, Callable

from lanes_tui.core.errors import LanesError
from lanes_tui.engine.index import IndexChange, TaskIndex

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend, TaskChanges

DEFAULT_RESCAN_SECONDS = 30.0
RETRY_SECONDS = 1.0  # after a failed read of the store, how soon the rescan tries again


async def load_and_arm(index: TaskIndex, store: Backend,
                       on_loaded: Callable[[], Awaitable[None]] | None = None) -> TaskChanges:
    """The one start-up of everything that follows a queue (supervisor, watch-only engine, API).

    Scan, show (`on_loaded`: the dashboard draws its first frame there), then arm the change
    feed. Both take long at 10,000 tasks (arming the file store's watcher holds the GIL), so
    they run in a thread, one after the other, and the event loop goes on. A change between
    the scan and the arming is not lost: `follow` rescans once the feed is armed."""
    await asyncio.to_thread(index.rescan)
    if on_loaded is not None:
        await on_loaded()
    await asyncio.to_thread(index.save_cache)  # the next start reads the finished tasks from it
    return await asyncio.to_thread(store.task_feed)


async def follow(
    index: TaskIndex,
    feed: TaskChanges,
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
    retry_at: float | None = None  # a read of the store failed: a rescan from then on, whatever comes
    try:
        change = index.rescan()
        if change:
            on_change(change)
    except LanesError:
        retry_at = time.monotonic() + RETRY_SECONDS
    last_rescan = time.monotonic()
    while True:
        timeout = max(0.001, (retry_at or last_rescan + rescan_seconds) - time.monotonic())
        extra = wake_after() if wake_after else None
        if extra is not None:
            timeout = min(timeout, max(0.001, extra))
        ids = await feed.changes(timeout)
        if ids is None:
            return
        try:
            now = time.monotonic()
            if ids and (retry_at is None or now < retry_at):
                change = index.refresh(ids)
            elif (retry_at is not None and now >= retry_at) or now - last_rescan >= rescan_seconds:
                change = index.rescan()
                index.save_cache()  # only when finished tasks changed since it was written
                last_rescan, retry_at = time.monotonic(), None
            else:
                on_change(IndexChange(frozenset(), frozenset(), frozenset()))  # a timer: re-check leases
                continue
        except LanesError:
            # The store failed this read (a connection the server dropped, the server away): the
            # follower must go on, or the index would never change again. What the failed read
            # missed is read by a rescan RETRY_SECONDS from now, however busy the feed is.
            if retry_at is None or time.monotonic() >= retry_at:  # (the rescan itself failed: later)
                retry_at = time.monotonic() + RETRY_SECONDS
            continue
        if change:
            on_change(change)
