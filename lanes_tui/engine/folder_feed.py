"""Change notifications for one folder (not recursive), for asyncio code: the dashboard's locks
view follows `<store>/locks/` with it instead of polling."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

STEP_MS = 50


class FolderFeed:
    """Armed on construction; `changed(timeout)` is True when something in the folder changed."""

    def __init__(self, folder: Path) -> None:
        from watchfiles._rust_notify import RustNotify

        self.folder = Path(folder)
        self._stop = threading.Event()
        self._watching = False
        self._notify = RustNotify([str(self.folder)], False, False, 300, False, True)

    async def changed(self, timeout: float) -> bool | None:
        """True on a change, False on a quiet timeout, None once closed."""
        if self._stop.is_set():
            return None
        self._watching = True
        try:
            result = await asyncio.to_thread(self._notify.watch, 2 * STEP_MS, STEP_MS,
                                             max(1, int(timeout * 1000)), self._stop)
        finally:
            self._watching = False
        if result == "stop" or self._stop.is_set():
            self._notify.close()
            return None
        return not isinstance(result, str)

    def close(self) -> None:
        self._stop.set()
        if not self._watching:
            self._notify.close()
