"""The suite's one hand-moved clock: what the store, locks, presence and the dashboard read as now.

    clock = ManualClock()                          # 2026-11-23 12:00 UTC
    clock.now += timedelta(minutes=5)              # or clock.advance(300)
    ManualClock(tick=timedelta(milliseconds=1))    # moves by itself on every reading (ordered ids)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class ManualClock:
    def __init__(self, start: datetime = START, *, tick: timedelta | None = None) -> None:
        self.now = start
        self.tick = tick

    def __call__(self) -> datetime:
        if self.tick is not None:
            self.now += self.tick
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
