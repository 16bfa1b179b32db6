"""Rate limits, quotas and reset times as the real CLIs word them (vendors/limits.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from lanes_tui.vendors.limits import MAX_RESET_SECONDS, QUOTA, RATE_LIMIT, Limit, classify, reset_time

NOW = 1_796_000_000.0


@pytest.mark.parametrize("text, kind", [
    # Claude Code 2.1.197 (tests/realcli): a 429 after its own retries, and an API key without credit.
    ("API Error: Request rejected (429) \u00b7 Number of request tokens has exceeded your per-minute rate limit", RATE_LIMIT),
    ("Credit balance is too low", QUOTA),
    # codex-cli 0.171.0: retries used up on 429s, a quota, a plan's usage limit.
    ("exceeded retry limit, last status: 429 Too Many Requests", RATE_LIMIT),
    ("Quota exceeded. Check your plan and billing details.", QUOTA),
    ("You\u2019ve hit your usage limit. Try again later.", QUOTA),
])
def test_what_the_clis_print_is_classified(text, kind):
    assert classify(text, now=NOW) == Limit(kind)


@pytest.mark.parametrize("text", [
    "API Error: 500 Internal server error", "agent exited with status 1", "", "the 4290 tests passed",
    "Repeated 529 Overloaded errors",
])
def test_other_errors_are_not_limits(text):
    assert classify(text, now=NOW) is None


def test_a_reset_epoch_after_a_bar():
    assert classify(f"Claude AI usage limit reached|{int(NOW) + 3600}", now=NOW) == Limit(QUOTA, NOW + 3600)


@pytest.mark.parametrize("text, seconds", [
    ("Rate limit reached for gpt-6.2-sol. Please try again in 20s.", 20),
    ("Please try again in 1h 5m", 3900),
    ("rate limited; retry in 1.5 minutes", 90),
    ("usage limit hit, resets in 2 hours and 10 minutes", 7800),
])
def test_relative_reset_times(text, seconds):
    assert reset_time(text, now=NOW) == pytest.approx(NOW + seconds)


def test_a_time_of_day_is_the_next_one_on_the_local_clock():
    now = datetime(2026, 12, 2, 1, 10).timestamp()
    text = "You\u2019ve hit your usage limit. Upgrade ... or try again at 2:10 AM."
    assert classify(text, now=now) == Limit(QUOTA, datetime(2026, 12, 2, 2, 10).timestamp())
    # Already past today: tomorrow.
    assert reset_time("try again at 1:05 AM", now=now) == datetime(2026, 12, 3, 1, 5).timestamp()
    assert reset_time("resets 3pm", now=now) == datetime(2026, 12, 2, 15, 0).timestamp()


def test_a_reset_on_another_day_carries_its_date():
    # What the pinned codex prints when the reset is not today (it failed CI when run after 22:00).
    now = datetime(2026, 12, 2, 23, 30).timestamp()
    text = "You've hit your usage limit. Upgrade to Pro ... or try again at Dec 3rd, 2026 1:30 AM."
    assert classify(text, now=now) == Limit(QUOTA, datetime(2026, 12, 3, 1, 30).timestamp())
    assert reset_time("try again at Dec 5th, 2026 12:05 PM", now=now) == datetime(2026, 12, 5, 12, 5).timestamp()
    # A date in the past or beyond a week is not believed; nor is a day that does not exist.
    assert reset_time("try again at Dec 1st, 2026 1:30 AM", now=now) is None
    assert reset_time("try again at Dec 25th, 2026 1:30 AM", now=now) is None
    assert reset_time("try again at Feb 30th, 2027 1:30 AM", now=now) is None


@pytest.mark.parametrize("text", [
    "try again in 3 fortnights", "try again at 13:00 PM", "try again at 0:30 AM",
    f"limit|{int(NOW) - 10}", f"limit|{int(NOW + MAX_RESET_SECONDS) + 100}",
])
def test_implausible_reset_times_are_not_believed(text):
    assert reset_time(text, now=NOW) is None


def test_a_huge_line_costs_no_more_than_its_start():
    assert classify("x" * (20 << 20) + " 429", now=NOW) is None
    assert classify("429 " + "x" * (20 << 20), now=NOW) == Limit(RATE_LIMIT)
    assert timedelta(seconds=MAX_RESET_SECONDS) <= timedelta(days=8)
