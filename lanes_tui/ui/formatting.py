"""Short human forms of times, ids and money for table cells (pure, no Textual)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path


def short_id(task_id: str) -> str:
    """`20261024T155119250137Z-alpha-dd38d9525789` -> `155119.250…5789` (time of day, ms, id tail).

    Milliseconds because tasks on one request file share the id's tail and are
    often submitted within a second. Other ids are cut from the middle.
    """
    if len(task_id) > 24 and task_id[8:9] == "T" and task_id[9:18].isdigit():
        return f"{task_id[9:15]}.{task_id[15:18]}\u2026{task_id[-4:]}"
    return task_id if len(task_id) <= 14 else f"{task_id[:6]}\u2026{task_id[-7:]}"


def span(seconds: float | None) -> str:
    """42s, 5m, 3h05m, 2d; '' for unknown; negative spans show as 0s.

    Seconds only under a minute: a table of ages then changes once a minute, not once a
    second, and an idle dashboard redraws (almost) nothing.
    """
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"


def age(moment: datetime | None, now: datetime) -> str:
    return "" if moment is None else span((now - moment).total_seconds())


def left(moment: datetime | None, now: datetime) -> str:
    """Lease time left: '3m12s', or 'expired'."""
    if moment is None:
        return ""
    seconds = (moment - now).total_seconds()
    return "expired" if seconds <= 0 else span(seconds)


def money(cost: float | None) -> str:
    if cost is None:
        return ""
    return f"${cost:.2f}" if cost >= 1 else f"${cost:.4f}"


def tokens(count: int) -> str:
    if count < 10_000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.2f}M"


def short_path(path: object, base: object) -> str:
    """`requests/x.md` for a path inside `base` (the workspace), the path itself otherwise:
    shorter on a narrow terminal, and the same wherever the workspace lives."""
    text = str(path or "")
    if not text or not base:
        return text
    try:
        relative = Path(text).relative_to(Path(str(base)))
    except ValueError:
        return text
    return str(relative) if str(relative) != "." else text
