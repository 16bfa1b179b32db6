"""A clock a test moves by hand (`clock.now += timedelta(...)`), for TTLs and decay."""

from __future__ import annotations

from datetime import UTC, datetime


class FixedClock:
    def __init__(self, start: datetime = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now
