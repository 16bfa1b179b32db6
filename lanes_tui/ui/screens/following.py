"""A screen that shows one kind of coordination record (locks, agents, messages) and redraws
when they change: the backend's feed for that kind armed before the first look, and a re-read
every few seconds for what no change announces (a holder that dies, a TTL that passes,
presence decaying)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Callable

from textual import work
from textual.screen import Screen

RECHECK_SECONDS = 5.0


class FollowingScreen(Screen[None]):
    def __init__(self, engine: Any, now: Callable[[], datetime]) -> None:
        super().__init__()
        self.engine = engine
        self.now = now
        self.loaded = asyncio.Event()  # the first listing is shown (tests)

    followed: str = ""  # "locks", "agents" or "messages"

    async def reload(self) -> None:
        raise NotImplementedError

    def on_mount(self) -> None:
        self.follow()

    @work(group="follow", exclusive=True, exit_on_error=False)
    async def follow(self) -> None:
        feed = await asyncio.to_thread(self.engine.record_feed, self.followed)  # armed before the first look
        try:
            while True:
                await self.reload()
                if await feed.changed(RECHECK_SECONDS) is None:
                    return
        finally:
            feed.close()
