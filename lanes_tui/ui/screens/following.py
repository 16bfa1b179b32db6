"""A screen that shows what is in one store folder (locks, agents, messages) and redraws when
it changes: a folder watcher armed before the first look, and a re-read every few seconds for
what no file event announces (a holder that dies, a TTL that passes, presence decaying)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from textual import work
from textual.screen import Screen

RECHECK_SECONDS = 5.0


class FollowingScreen(Screen[None]):
    def __init__(self, board: Any, now: Callable[[], datetime]) -> None:
        super().__init__()
        self.board = board
        self.now = now
        self.loaded = asyncio.Event()  # the first listing is shown (tests)

    def followed_folder(self) -> Path:
        raise NotImplementedError

    async def reload(self) -> None:
        raise NotImplementedError

    def on_mount(self) -> None:
        self.follow()

    @work(group="follow", exclusive=True, exit_on_error=False)
    async def follow(self) -> None:
        from lanes_tui.storage.files.watch import FolderFeed

        folder = self.followed_folder()
        await asyncio.to_thread(folder.mkdir, 0o700, False, True)
        feed = await asyncio.to_thread(FolderFeed, folder)  # armed before the first look
        try:
            while True:
                await self.reload()
                if await feed.changed(RECHECK_SECONDS) is None:
                    return
        finally:
            feed.close()
