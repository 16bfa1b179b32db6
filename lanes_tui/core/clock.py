"""UTC timestamps in the agent-lanes wire format.

We always write six fractional digits (`2026-11-23T11:59:16.562077Z`) because
queues are ordered by a plain string sort on `created_at`; agent-lanes drops the
fraction when it is zero, so readers accept both forms.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Callable

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def format_ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(value: object) -> datetime | None:
    """Parse a wire timestamp; None for empty values, ValueError for garbage."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"timestamp is not a string: {value!r}")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def id_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def after(moment: datetime, seconds: float) -> datetime:
    if not math.isfinite(seconds):
        raise ValueError("seconds must be finite")
    return moment + timedelta(seconds=seconds)
