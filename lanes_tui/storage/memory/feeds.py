"""How the memory backend announces changes: to task feeds and watches (every write names its
task) and to the feeds of one kind of coordination record. Waiters block on a condition, so
nothing is polled and no change between two waits is lost (it stays pending)."""

from __future__ import annotations

import asyncio
import threading
from typing import Iterable


class _Subscription:
    """Ids changed since the last wait, for one watcher; woken by every write."""

    def __init__(self, hub: "TaskHub", task_ids: Iterable[str] | None, new_tasks: bool) -> None:
        self._hub = hub
        self._only = None if task_ids is None else set(task_ids)
        self._new_tasks = new_tasks
        self._pending: set[str] = set()
        self._closed = False

    def offer(self, task_id: str, new: bool) -> None:  # called with the hub's condition held
        if self._only is None or (new and self._new_tasks) or task_id in self._only:
            self._pending.add(task_id)

    def wait(self, timeout: float) -> set[str] | None:
        with self._hub.condition:
            self._hub.condition.wait_for(lambda: self._pending or self._closed, timeout=max(0.0, timeout))
            if self._closed:
                return None
            found, self._pending = self._pending, set()
            return found

    def close(self) -> None:
        with self._hub.condition:
            self._closed = True
            self._hub.subscriptions.discard(self)
            self._hub.condition.notify_all()


class TaskHub:
    def __init__(self) -> None:
        self.condition = threading.Condition(threading.Lock())
        self.subscriptions: set[_Subscription] = set()

    def subscribe(self, task_ids: Iterable[str] | None, new_tasks: bool = True) -> _Subscription:
        subscription = _Subscription(self, task_ids, new_tasks)
        with self.condition:
            self.subscriptions.add(subscription)
        return subscription

    def changed(self, task_id: str, *, new: bool = False) -> None:
        with self.condition:
            for subscription in self.subscriptions:
                subscription.offer(task_id, new)
            self.condition.notify_all()


class MemoryFeed:
    """`TaskChanges` for the memory backend: every write is announced, none is ever missed."""

    def __init__(self, hub: TaskHub) -> None:
        self._subscription = hub.subscribe(None)

    async def changes(self, timeout: float) -> set[str] | None:
        return await asyncio.to_thread(self._subscription.wait, timeout)

    def close(self) -> None:
        self._subscription.close()


class MemoryWatch:
    """`TaskWatch` for the memory backend."""

    def __init__(self, hub: TaskHub, task_ids: Iterable[str], new_tasks: bool) -> None:
        self._subscription = hub.subscribe(task_ids, new_tasks)

    def wait(self, timeout: float) -> set[str]:
        return self._subscription.wait(timeout) or set()

    def close(self) -> None:
        self._subscription.close()

    def __enter__(self) -> "MemoryWatch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class KindFeeds:
    """Who wants to hear of changes to one kind of coordination record (locks, agents, messages)."""

    def __init__(self) -> None:
        self.condition = threading.Condition(threading.Lock())
        self.feeds: set[MemoryRecordFeed] = set()

    def changed(self) -> None:
        with self.condition:
            for feed in self.feeds:
                feed.pending = True
            self.condition.notify_all()


class MemoryRecordFeed:
    def __init__(self, kind: KindFeeds) -> None:
        self._kind = kind
        self.pending = False
        self._closed = False
        with kind.condition:
            kind.feeds.add(self)

    def _wait(self, timeout: float) -> bool | None:
        with self._kind.condition:
            self._kind.condition.wait_for(lambda: self.pending or self._closed, timeout=max(0.0, timeout))
            if self._closed:
                return None
            seen, self.pending = self.pending, False
            return seen

    async def changed(self, timeout: float) -> bool | None:
        return await asyncio.to_thread(self._wait, timeout)

    def wait(self, timeout: float) -> bool:
        """For blocking code."""
        return bool(self._wait(timeout))

    def close(self) -> None:
        with self._kind.condition:
            self._closed = True
            self._kind.feeds.discard(self)
            self._kind.condition.notify_all()
