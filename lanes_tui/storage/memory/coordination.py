"""The memory backend's coordination records: `core/records` shapes as dicts behind one mutex.

Every change to a kind is announced to that kind's feeds (feeds.py: the dashboard's screens).
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from typing import Any, Callable, Iterator

from lanes_tui.storage.memory.feeds import KindFeeds


def _plain(value: Any) -> Any:
    """A JSON round trip: what a file backend would read back, and never a shared object."""
    return json.loads(json.dumps(value))


class MemoryRecords:
    def __init__(self, feeds: KindFeeds) -> None:
        self._feeds = feeds
        self._lock = threading.RLock()
        self._records: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []
        self._counter = 0

    def get(self, key: str) -> Any | None:
        with self._lock:
            return copy.deepcopy(self._records.get(key))

    def values(self) -> list[Any]:
        with self._lock:
            return copy.deepcopy([self._records[key] for key in sorted(self._records)])

    @contextlib.contextmanager
    def exclusive(self) -> Iterator["_MemoryTxn"]:
        with self._lock:
            txn = _MemoryTxn(self)
            yield txn
        if txn.changed:
            self._feeds.changed()


class _MemoryTxn:
    def __init__(self, records: MemoryRecords) -> None:
        self._records = records
        self.changed = False

    def get(self, key: str) -> Any | None:
        return copy.deepcopy(self._records._records.get(key))

    def put(self, key: str, record: dict[str, Any]) -> None:
        self._records._records[key] = _plain(record)
        self.changed = True

    def remove(self, key: str) -> None:
        if self._records._records.pop(key, None) is not None:
            self.changed = True

    def log(self, entry: dict[str, Any]) -> None:
        self._records.events.append(_plain(entry))

    def next_number(self, recover: Callable[[], int]) -> int:
        self._records._counter += 1  # a counter in memory cannot be damaged: `recover` is never needed
        return self._records._counter


class MemoryLogs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: dict[str, list[Any]] = {}

    def append(self, log: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self._logs.setdefault(log, []).append(_plain(entry))

    def tail(self, log: str, limit: int) -> list[Any]:
        with self._lock:
            return copy.deepcopy(self._logs.get(log, [])[-limit:])


class MemoryMessageLog:
    def __init__(self, feeds: KindFeeds) -> None:
        self._feeds = feeds
        self._lock = threading.RLock()
        self._messages: list[Any] = []
        self._cursors: dict[str, tuple[int, int]] = {}  # reader -> (high water, index of the next entry)
        self._readers: dict[str, threading.Lock] = {}

    def append(self, make: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            entry = _plain(make(len(self._messages) + 1))
            self._messages.append(entry)
        self._feeds.changed()
        return copy.deepcopy(entry)

    def all(self) -> Iterator[Any]:
        with self._lock:
            return iter(copy.deepcopy(self._messages))

    @contextlib.contextmanager
    def reading(self, reader: str, *, exclusive: bool) -> Iterator["_MemoryReader"]:
        with self._lock:
            mine = self._readers.setdefault(reader, threading.Lock())
        with mine if exclusive else contextlib.nullcontext():
            yield _MemoryReader(self, reader)


class _MemoryReader:
    def __init__(self, log: MemoryMessageLog, reader: str) -> None:
        self._log = log
        self._reader = reader
        with log._lock:
            self.high_water, self._next = log._cursors.get(reader, (0, 0))

    def since(self) -> Iterator[tuple[Any, int]]:
        with self._log._lock:
            entries = copy.deepcopy(self._log._messages[self._next:])
        for offset, entry in enumerate(entries, start=self._next + 1):
            yield entry, offset

    def advance(self, high_water: int, cursor: int | None) -> None:
        with self._log._lock:
            self._log._cursors[self._reader] = (high_water, self._next if cursor is None else cursor)
