"""What waits for a person, as the engine keeps it: the open requests (questions, blockers,
permission requests) of the store, followed live (no Textual here).

The requests folder's feed wakes a re-read; a re-read every few seconds catches what no
write announces (a request past its time reads as expired, one whose waiting process
died as closed). Each re-read tells the engine which tasks' open requests changed and
which requests are new since the last look (the dashboard rings for those).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Callable

from lanes_tui.core.errors import LanesError
from lanes_tui.core.requests import BLOCKER, InputRequest

RECHECK_SECONDS = 5.0


@dataclass(frozen=True)
class RequestsChanged:
    task_ids: frozenset[str]  # tasks whose open requests changed
    arrived: tuple[InputRequest, ...]  # opened since the last look
    listed: bool  # the list of open requests is not what it was

    def __bool__(self) -> bool:
        return self.listed


class PendingRequests:
    def __init__(self) -> None:
        self.open: tuple[InputRequest, ...] = ()  # oldest first
        self._by_task: dict[str, tuple[InputRequest, ...]] = {}
        self._seen: set[str] = set()
        self._loaded = False

    def of_task(self, task_id: str) -> tuple[InputRequest, ...]:
        return self._by_task.get(task_id, ())

    def holding(self, task_id: str) -> tuple[InputRequest, ...]:
        """The task's open questions and permission requests: its agent waits for an answer."""
        return tuple(r for r in self._by_task.get(task_id, ()) if r.kind != BLOCKER)

    def update(self, pending: list[InputRequest]) -> RequestsChanged:
        """Take the store's open requests now; what changed since the last update."""
        by_task: dict[str, list[InputRequest]] = {}
        for request in pending:
            if request.task_id:
                by_task.setdefault(request.task_id, []).append(request)
        fresh = {task_id: tuple(found) for task_id, found in by_task.items()}
        changed = frozenset(t for t in fresh.keys() | self._by_task.keys() if fresh.get(t) != self._by_task.get(t))
        # The first look after start is what was already there, not arrivals to ring for.
        arrived = tuple(r for r in pending if r.id not in self._seen) if self._loaded else ()
        listed = tuple(pending) != self.open
        self._seen = {r.id for r in pending}
        self.open, self._by_task, self._loaded = tuple(pending), fresh, True
        return RequestsChanged(changed, arrived, listed)

    async def follow(self, store: Any, on_change: Callable[[RequestsChanged], None]) -> None:
        """Until cancelled (or the feed closes): re-read on every change and every few seconds."""
        feed = await asyncio.to_thread(store.record_feed, "requests")  # armed before the first look
        try:
            while True:
                with contextlib.suppress(LanesError, OSError):  # advisory: a bad read waits for the next
                    change = self.update(await asyncio.to_thread(lambda: store.requests().pending()))
                    if change:
                        on_change(change)
                if await feed.changed(RECHECK_SECONDS) is None:
                    return
        finally:
            feed.close()
