"""File-change notifications for the store (inotify through watchfiles): the one watcher module.

Three uses, one wrapper around watchfiles' Rust notifier:

* `DirWatcher` (blocking, a few folders, not recursive): the one-shot CLI's
  waits (`wait`, `next`, `lock --wait`);
* `TaskFeed` (asyncio, `<store>/tasks` recursively): the supervisor's and the
  dashboard's in-memory index (`feed.follow`);
* `FolderFeed` (asyncio, one folder): the dashboard's locks, agents and
  messages views.

Why the private `watchfiles._rust_notify.RustNotify` and not `watchfiles.watch()`:
the public generator fixes its timeout when it is created and arms a new inotify
watch for each generator, while these waits need one watch kept armed across many
waits of different lengths (until the next lease expiry, the rescan, a deadline).
Arming costs: it holds the interpreter 0.3-0.7 s at 10,000 task folders (measured
for the dashboard's first frame), and a change between two arms would be lost. So
the private class is used here, and only here: `_Notifier` is the whole contact
surface, and a watchfiles upgrade that changes it breaks this module alone.

Every wait has a timeout after which the caller re-checks the store from scratch:
that rescan is the safety net for anything inotify drops or never sees.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Iterable

from lanes_tui.core.ids import is_valid_task_id

DEBOUNCE_MS = 50
CLI_STEP_MS = 10  # the one-shot CLI is latency-bound: 10-20 ms to notice, well under 1% of a core
# A long-running supervisor or dashboard can react 50 ms later without anyone noticing,
# and idles at a fifth of the wake-ups the CLI's 10 ms step needs.
FEED_STEP_MS = 50
# Except for what a person is waiting to see: a request for them. At 50 ms it reached the engine
# 105 ms after the write (several file events in a row, each restarting the wait for quiet), at
# 20 ms ~45 ms; an idle 20 ms watch costs 0.48% of a core against 0.22% (10 ms: 25 ms, 0.80%).
URGENT_STEP_MS = 20


class _Notifier:
    """watchfiles' Rust watcher on `paths`. One lock orders `watch` and `close`, which may
    come from different threads: a close during a watch is left to the watch's owner, who
    closes it on the way out (the stop event makes that within one step)."""

    def __init__(self, paths: Iterable[Path], *, recursive: bool) -> None:
        from watchfiles._rust_notify import (
            RustNotify,  # deferred: only waiting code needs it
        )

        self._notify = RustNotify([str(p) for p in paths], False, False, 300, recursive, True)
        self._lock = threading.Lock()
        self._closed = False

    def watch(self, timeout: float, step_ms: int, stop: threading.Event | None) -> set[str] | str:
        """Changed paths; "timeout" after `timeout` seconds; "stop" once `stop` is set or the
        notifier is closed; "signal" when the main thread has a signal to handle."""
        debounce_ms = max(DEBOUNCE_MS, 2 * step_ms)
        with self._lock:
            if self._closed:
                return "stop"
            result = self._notify.watch(debounce_ms, step_ms, max(1, int(timeout * 1000)), stop)
        if isinstance(result, str):
            return result
        return {path for _, path in result}

    def close(self) -> None:
        """Idempotent and safe from any thread; does nothing while a watch holds the notifier."""
        if self._lock.acquire(blocking=False):
            try:
                if not self._closed:
                    self._closed = True
                    self._notify.close()
            finally:
                self._lock.release()


def task_ids_of(paths: Iterable[str], tasks_dir: Path) -> set[str]:
    """The task ids named by changed paths under `tasks_dir`."""
    ids = set()
    root = str(tasks_dir) + "/"
    for path in paths:
        if path.startswith(root):
            name = path[len(root):].split("/", 1)[0]
            if is_valid_task_id(name):
                ids.add(name)
    return ids


class DirWatcher:
    """Non-recursive watch of a few folders, for blocking code; start-up cost does not grow
    with the store. Arm it *before* checking the store, so no change is lost in between."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.paths = tuple(sorted({Path(p) for p in paths if Path(p).is_dir()}))
        self._notifier = _Notifier(self.paths, recursive=False) if self.paths else None

    def wait(self, timeout: float) -> set[Path]:
        """Changed paths, or an empty set when `timeout` seconds passed quietly."""
        if self._notifier is None:
            time.sleep(max(0.0, timeout))
            return set()
        result = self._notifier.watch(timeout, CLI_STEP_MS, None)
        if result == "signal":
            raise KeyboardInterrupt
        if isinstance(result, str):
            return set()
        return {Path(path) for path in result}

    def close(self) -> None:
        if self._notifier is not None:
            self._notifier.close()
            self._notifier = None

    def __enter__(self) -> "DirWatcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _AsyncWatch:
    """One notifier for asyncio code: waits run in a worker thread, `close` stops them in one step."""

    def __init__(self, paths: Iterable[Path], *, recursive: bool, step_ms: int = FEED_STEP_MS) -> None:
        self._stop = threading.Event()
        self._notifier = _Notifier(paths, recursive=recursive)
        self._step_ms = step_ms

    async def _wait(self, timeout: float) -> set[str] | None:
        """Changed paths (empty on a quiet timeout), or None once closed."""
        if self._stop.is_set():
            return None
        result = await asyncio.to_thread(self._notifier.watch, timeout, self._step_ms, self._stop)
        if result == "stop" or self._stop.is_set():
            self._notifier.close()  # here, after the watching thread let go of it
            return None
        if isinstance(result, str):  # "timeout" (or "signal": the main thread handles signals)
            return set()
        return result

    def close(self) -> None:
        """Stop watching; a pending wait returns None within one step."""
        self._stop.set()
        self._notifier.close()


class TaskFeed(_AsyncWatch):
    """`<store>/tasks`, recursively; armed on construction."""

    def __init__(self, tasks_dir: Path) -> None:
        self.tasks_dir = Path(tasks_dir)
        super().__init__([self.tasks_dir], recursive=True)

    async def changes(self, timeout: float) -> set[str] | None:
        """Changed task ids; an empty set on a quiet timeout; None once closed."""
        paths = await self._wait(timeout)
        return None if paths is None else task_ids_of(paths, self.tasks_dir)


class FolderFeed(_AsyncWatch):
    """One folder, not recursive (`<store>/locks`, `agents`, `messages`); armed on construction."""

    def __init__(self, folder: Path, *, step_ms: int = FEED_STEP_MS) -> None:
        self.folder = Path(folder)
        super().__init__([self.folder], recursive=False, step_ms=step_ms)

    async def changed(self, timeout: float) -> bool | None:
        """True on a change, False on a quiet timeout, None once closed."""
        paths = await self._wait(timeout)
        return None if paths is None else bool(paths)
