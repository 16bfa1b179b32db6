"""How long an agent waited for people (core/requests.seconds_waiting): what pauses an
attempt's timeout. Pure: requests built by hand, times chosen."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from lanes_tui.core.clock import format_ts
from lanes_tui.core.requests import (
    ANSWERED,
    BLOCKER,
    CLOSED,
    EXPIRED,
    OPEN,
    PERMISSION,
    QUESTION,
    InputRequest,
    seconds_waiting,
)

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc)


def at(seconds: float) -> str:
    return format_ts(T0 + timedelta(seconds=seconds))


def request(start: float, end: float | None, *, kind: str = QUESTION, state: str = ANSWERED,
            expires: float = 3600) -> InputRequest:
    return InputRequest(id="r1", kind=kind, agent="w/1", text="?", created_at=at(start), expires_at=at(expires),
                        state=state, answered_at=at(end) if end is not None else None)


def test_overlapping_and_separate_requests_count_once():
    requests = [request(10, 30), request(20, 40, kind=PERMISSION), request(50, 55, state=CLOSED)]
    assert seconds_waiting(requests, T0, T0 + timedelta(seconds=100)) == (35.0, False)


def test_an_open_request_counts_until_now_and_holds():
    assert seconds_waiting([request(90, None, state=OPEN)], T0, T0 + timedelta(seconds=100)) == (10.0, True)


def test_a_blocker_does_not_hold_the_agent():
    assert seconds_waiting([request(0, None, kind=BLOCKER, state=OPEN)], T0, T0 + timedelta(seconds=9)) == (0.0, False)


def test_an_expiry_not_written_yet_ends_at_its_time():
    expired = request(10, None, state=EXPIRED, expires=25)
    assert seconds_waiting([expired], T0, T0 + timedelta(seconds=100)) == (15.0, False)


def test_what_came_before_the_attempt_is_cut_off_and_damage_is_skipped():
    earlier = request(-50, 5)  # opened by an earlier attempt, answered 5 s into this one
    damaged = InputRequest(id="r2", kind=QUESTION, agent="w/1", text="?", created_at="yesterday", expires_at="x",
                           state=ANSWERED, answered_at="later")
    assert seconds_waiting([earlier, damaged], T0, T0 + timedelta(seconds=100)) == (5.0, False)


@given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100)), max_size=8))
def test_the_total_is_the_union_of_the_spans(spans):
    requests = [request(min(a, b), max(a, b)) for a, b in spans]
    covered = {second for a, b in spans for second in range(min(a, b), max(a, b))}
    assert seconds_waiting(requests, T0, T0 + timedelta(seconds=100)) == (float(len(covered)), False)
