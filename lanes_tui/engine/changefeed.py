"""File-change notifications for the store, through watchfiles (inotify).

Waiting commands block here instead of polling every 50 ms as agent-lanes does.
The watcher is armed *before* the caller checks the store, so a change that
lands between the check and the wait is still delivered.

watchfiles' Rust loop wakes every `step` ms to look at collected changes; 10 ms
keeps notification latency around 10-20 ms for well under 1% of a core. Every
wait has a timeout after which the caller re-checks the store from scratch:
that periodic rescan is the safety net for anything inotify misses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from lanes_tui.core.ids import is_valid_task_id

STEP_MS = 10
DEBOUNCE_MS = 50


def task_ids_of(paths: set[str], tasks_dir: Path) -> set[str]:
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
    """Non-recursive watch of a few folders; start-up cost does not grow with the store."""

    def __init__(self, paths: Iterable[Path]) -> None:
        from watchfiles._rust_notify import RustNotify  # deferred: only waiting commands need it

        self.paths = tuple(sorted({Path(p) for p in paths if Path(p).is_dir()}))
        self._notify = (
            RustNotify([str(p) for p in self.paths], False, False, 300, False, True) if self.paths else None
        )

    def wait(self, timeout: float) -> set[Path]:
        """Changed paths, or an empty set when `timeout` seconds passed quietly."""
        if self._notify is None:
            import time

            time.sleep(max(0.0, timeout))
            return set()
        result = self._notify.watch(DEBOUNCE_MS, STEP_MS, max(1, int(timeout * 1000)), None)
        if result == "signal":
            raise KeyboardInterrupt
        if isinstance(result, str):
            return set()
        return {Path(path) for _, path in result}

    def close(self) -> None:
        if self._notify is not None:
            self._notify.close()
            self._notify = None

    def __enter__(self) -> "DirWatcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
