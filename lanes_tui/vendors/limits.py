"""Rate limits, quotas and their reset times, as the agent CLIs word them (pure).

Neither CLI reports a limit as structured data in its output stream; what they
print was observed with the pinned versions (tests/realcli):

    claude  "API Error: Request rejected (429) · ..."      (api_error_status 429)
            "Credit balance is too low"                    (api_error_status 400: a quota)
            "Claude AI usage limit reached|1767225600"     (subscription plans: reset epoch)
    codex   "exceeded retry limit, last status: 429 Too Many Requests"
            "Quota exceeded. Check your plan and billing details."
            "You've hit your usage limit. ... try again at 2:10 AM."
            (a reset on another day: "... try again at Dec 4th, 2026 2:10 AM.")

A rate limit passes by itself (a cool-down); a quota or usage limit lasts until
its reset time, when the text gives one, or until someone pays. Both pause the
vendor; only the second can make a `--drain` give up at once.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

RATE_LIMIT, QUOTA = "rate_limit", "quota"
MAX_RESET_SECONDS = 8 * 86400  # a "reset" further away than a week is not believed

_RATE = re.compile(r"(?<![\w.])429(?![\w.])|rate[ _-]?limit|too many requests", re.IGNORECASE)
_QUOTA = re.compile(
    r"quota|credit balance|billing details|usage[ _-]?limit|hit your limit|insufficient_quota",
    re.IGNORECASE,
)
_EPOCH = re.compile(r"\|(\d{10})(?!\d)")
_IN = re.compile(r"(?:try again|retry|resets?|available again)\s+in\s+((?:\d+(?:\.\d+)?\s*[a-z]+[\s,]*(?:and\s+)?)+)",
                 re.IGNORECASE)
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)", re.IGNORECASE)
# codex formats a reset today as "%-I:%M %p" and on another day as "%b %-d<st|nd|rd|th>, %Y %-I:%M %p".
_AT = re.compile(r"(?:try again at|resets?(?: at)?)\s+"
                 r"(?:(?P<month>[a-z]{3})[a-z]*\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4}),?\s+)?"
                 r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<half>[ap])\.?m\.?\b", re.IGNORECASE)
_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60,
          "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
          "d": 86400, "day": 86400, "days": 86400}


@dataclass(frozen=True)
class Limit:
    kind: str  # RATE_LIMIT or QUOTA
    resets_at: float | None = None  # epoch seconds, when the text says


def classify(text: object, *, now: float | None = None) -> Limit | None:
    """The limit an error text or stderr line speaks of, or None.

    Only for error texts: an agent's ordinary messages may well mention quotas.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str) or not text:
        return None
    text = text[:4096]  # a limit message is short; a 20 MB line must not cost 20 MB of regex
    if _QUOTA.search(text):
        return Limit(QUOTA, reset_time(text, now=now))
    if _RATE.search(text):
        return Limit(RATE_LIMIT, reset_time(text, now=now))
    return None


def reset_time(text: str, *, now: float | None = None) -> float | None:
    """When a limit lifts, from "|<epoch>", "try again in 1h 5m" or "try again at 2:10 AM"."""
    now = time.time() if now is None else now
    found: float | None = None
    if match := _EPOCH.search(text):
        found = float(match.group(1))
    elif match := _IN.search(text):
        seconds = 0.0
        for amount, unit in _PART.findall(match.group(1)):
            factor = _UNITS.get(unit.lower())
            if factor is None:
                return None
            seconds += float(amount) * factor
        found = now + seconds
    elif match := _AT.search(text):
        found = _time_of_day(match, now)
    if found is None or not now < found <= now + MAX_RESET_SECONDS:
        return None
    return found


def _time_of_day(match: re.Match[str], now: float) -> float | None:
    """The moment "2:10 AM" (the next one to come) or "Dec 4th, 2026 2:10 AM" names, on the local clock.

    The CLI prints the operator's local time, and this runs on the operator's machine.
    """
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    if not 1 <= hour <= 12 or minute > 59:
        return None
    hour = hour % 12 + (12 if match["half"].lower() == "p" else 0)
    local = datetime.fromtimestamp(now)
    try:
        if match["year"]:
            month = _MONTHS.get(match["month"][:3].lower())
            if month is None:
                return None
            return datetime(int(match["year"]), month, int(match["day"]), hour, minute).timestamp()
        moment = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    except ValueError:  # "Feb 30th"
        return None
    if moment.timestamp() <= now:
        moment += timedelta(days=1)
    return moment.timestamp()
