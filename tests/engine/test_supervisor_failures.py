"""How the supervisor handles agents that fail, die, hang, flood, hit limits or budgets.

Fault rows 6-9 of reliability.md plus error results, runs without a result,
rate limits (a vendor-wide pause, not a failure) and cost budgets. Every
attempt's reason is kept when a task fails (G3); no process of a worker's
group outlives its attempt.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from helpers.supervisor import (
    event_types,
    events_of,
    make_settings,
    pid_alive,
    processes_with_env,
    reset_high_water,
    rss_high_water_kb,
    supervising,
    until,
)

from lanes_tui.core import procinfo
from lanes_tui.core.model import COMPLETED, FAILED
from lanes_tui.engine import events as ev


def timestamps(h) -> dict[int, float]:
    """monotonic time at which each event (by index) arrived."""
    times: dict[int, float] = {}
    h.events.listeners.append(lambda event: times.__setitem__(len(h.events.items) - 1, time.monotonic()))
    return times


async def assert_worker_gone(task_id: str, pgid: int, timeout: float = 5) -> None:
    """No live process of the worker's group, none carrying the task's environment, no zombie left."""
    await until(lambda: not procinfo.group_alive(pgid), timeout, what=f"group {pgid} gone")
    await until(lambda: not processes_with_env("LANES_TASK_ID", task_id), timeout, what="no process of the task left")
    await until(lambda: not procinfo.group_members(pgid), timeout, what=f"no zombie of group {pgid} left")


@pytest.mark.parametrize("mode,expected", [
    ("error_result", r"agent exited with status 1: .*error_max_turns|agent exited with status 1"),
    ("no_result", r"agent exited without a final answer"),
])
async def test_failed_attempts_are_retried_then_the_task_fails_with_every_reason(workspace, standins, monkeypatch, mode, expected):
    monkeypatch.setenv("STANDIN_MODE", mode)
    task = workspace.submit()
    store = workspace.store()
    async with supervising(store, make_settings(workspace, lane={"max_attempts": 2, "backoff_seconds": 0.3})) as h:
        times = timestamps(h)
        failed = await h.events.wait_for(ev.TaskFailed, task["id"])
        attempts = h.events.of(ev.AttemptFailed, task["id"])
        assert [a.attempt for a in attempts] == [1, 2]
        assert attempts[0].retry_in_seconds == pytest.approx(0.3, rel=0.25) and attempts[1].retry_in_seconds is None
        first_fail = h.events.items.index(attempts[0])
        second_start = h.events.items.index(h.events.of(ev.WorkerStarted, task["id"])[1])
        assert times[second_start] - times[first_fail] >= 0.3 * 0.8 - 0.02  # the backoff was kept
    assert re.search(expected, attempts[0].reason), attempts[0].reason
    assert failed.reason.startswith("failed after 2 attempt(s):\n1. ")
    assert "\n2. " in failed.reason
    stored = store.read_task(task["id"])
    assert stored["state"] == FAILED and stored["failure_reason"] == failed.reason
    assert store.read_response(task["id"])["status"] == FAILED
    types = event_types(store, task["id"])
    assert types.count("claimed") == 2 and types.count("attempt_failed") == 2 and types.count("headless_failed") == 2
    assert "headless_completed" not in types
    assert h.supervisor.records[task["id"]].state == FAILED and h.supervisor.records[task["id"]].attempts == 2


@pytest.mark.parametrize("wanted, tried", [(1, 1), ("1", 1), (4, 4), (0, 3), ("many", 3), (2.5, 3)])
async def test_a_tasks_max_attempts_overrides_the_lanes(workspace, standins, monkeypatch, wanted, tried):
    monkeypatch.setenv("STANDIN_MODE", "error_result")
    task = workspace.submit(metadata={"max_attempts": wanted})
    store = workspace.store()
    async with supervising(store, make_settings(workspace, lane={"max_attempts": 3, "backoff_seconds": 0.05,
                                                                 "backoff_max_seconds": 0.05})) as h:
        failed = await h.events.wait_for(ev.TaskFailed, task["id"])
    assert failed.reason.startswith(f"failed after {tried} attempt(s):")  # not a whole number 1..100: the lane's
    assert event_types(store, task["id"]).count("claimed") == tried


async def test_crash_mid_output_keeps_partial_logs_and_every_attempts_reason(workspace, standins, monkeypatch):
    """Row 6: killed mid-output -> attempt recorded with its signal, log kept, retried, failed (G3)."""
    monkeypatch.setenv("STANDIN_MODE", "crash_mid_output")
    task = workspace.submit()
    store = workspace.store()
    settings = make_settings(workspace, lane={"max_attempts": 3, "backoff_seconds": 0.1})
    async with supervising(store, settings) as h:
        failed = await h.events.wait_for(ev.TaskFailed, task["id"])
        attempts = h.events.of(ev.AttemptFailed, task["id"])
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert all(a.reason.startswith("agent killed by signal 9") for a in attempts), [a.reason for a in attempts]
    assert attempts[0].retry_in_seconds and attempts[1].retry_in_seconds > attempts[0].retry_in_seconds * 1.2
    lines = failed.reason.splitlines()
    assert lines[0] == "failed after 3 attempt(s):"
    assert [line[:3] for line in lines[1:]] == ["1. ", "2. ", "3. "]
    assert all("signal 9" in line for line in lines[1:])
    recorded = events_of(store, task["id"], "attempt_failed")
    assert [e["data"]["attempt"] for e in recorded] == [1, 2, 3]
    for n in (1, 2, 3):
        log = (store.root / ".lanes-tui" / "logs" / task["id"] / f"attempt-{n}.log").read_bytes()
        assert b'"subtype":"init"' in log  # the first half of the stream
        torn = log.rstrip(b"\n").rsplit(b"\n", 1)[-1]  # ...ending in the torn line, kept (the log ends
        assert torn.startswith(b"{") and not _parses(torn)  # each stream's last line with a newline)
    assert store.read_task(task["id"])["failure_reason"] == failed.reason


@pytest.mark.parametrize("mode", ["hang", "ignore_sigterm"])
async def test_timeout_kills_the_whole_group(workspace, standins, monkeypatch, mode):
    """Row 7: killed after timeout (+ grace when SIGTERM is ignored); nothing of the group is left."""
    monkeypatch.setenv("STANDIN_MODE", mode)
    task = workspace.submit()
    store = workspace.store()
    settings = make_settings(workspace, lane={"timeout_seconds": 1, "max_attempts": 1}, kill_grace_seconds=0.5)
    async with supervising(store, settings) as h:
        times = timestamps(h)
        started = await h.events.wait_for(ev.WorkerStarted, task["id"])
        start_index = h.events.items.index(started)
        failed = await h.events.wait_for(ev.TaskFailed, task["id"])
        elapsed = times[h.events.items.index(failed)] - times[start_index]
        await assert_worker_gone(task["id"], started.pid)
    assert "timed out after 1 s" in failed.reason
    assert 1.0 <= elapsed < 1.0 + 0.5 + 0.5 + 2.0, elapsed  # timeout + SIGTERM grace + SIGKILL wait + slack
    assert store.read_task(task["id"])["state"] == FAILED
    assert not (store.root / ".lanes-tui" / "supervisor.json").read_text().count(task["id"])


async def test_grandchild_holding_stdout_does_not_hang_the_supervisor(workspace, standins, monkeypatch):
    """Row 8: the agent exits 0 while a grandchild keeps stdout open: the task completes, the grandchild dies."""
    monkeypatch.setenv("STANDIN_MODE", "grandchild_holds_stdout")
    monkeypatch.setenv("STANDIN_GRANDCHILD_SECONDS", "120")
    task = workspace.submit()
    store = workspace.store()
    async with supervising(store, make_settings(workspace, lane={"timeout_seconds": 20})) as h:
        started = await h.events.wait_for(ev.WorkerStarted, task["id"])
        await h.events.wait_for(ev.TaskCompleted, task["id"], timeout=15)
        await assert_worker_gone(task["id"], started.pid)
    log = (store.root / ".lanes-tui" / "logs" / task["id"] / "attempt-1.log").read_text()
    grandchild = int(re.search(r"grandchild pid (\d+)", log).group(1))
    assert not pid_alive(grandchild)
    assert store.read_response(task["id"])["status"] == COMPLETED


@pytest.mark.parametrize("mode,knobs", [
    ("flood", {"STANDIN_FLOOD_MB": "100"}),
    ("huge_line", {"STANDIN_HUGE_MB": "20"}),
    ("huge_line", {"STANDIN_HUGE_MB": "20", "STANDIN_HUGE_KIND": "plain"}),
], ids=["flood-100MB", "json-line-20MB", "plain-line-20MB"])
async def test_output_floods_keep_memory_and_log_bounded(workspace, standins, monkeypatch, mode, knobs):
    """Row 9: memory stays bounded, the log is capped, nothing raises, the answer is still recorded."""
    monkeypatch.setenv("STANDIN_MODE", mode)
    for name, value in knobs.items():
        monkeypatch.setenv(name, value)
    task = workspace.submit()
    store = workspace.store()
    cap = 1 << 20
    settings = make_settings(workspace, lane={"timeout_seconds": 60}, log_max_bytes=cap, output_line_max_bytes=cap)
    reset_high_water()
    before_kb = rss_high_water_kb()
    async with supervising(store, settings) as h:
        await h.events.wait_for(ev.TaskCompleted, task["id"], timeout=60)
    grown_mb = (rss_high_water_kb() - before_kb) / 1024
    assert grown_mb < 300, f"supervisor memory grew by {grown_mb:.0f} MB"
    log = store.root / ".lanes-tui" / "logs" / task["id"] / "attempt-1.log"
    size = log.stat().st_size
    assert cap <= size <= cap + 200
    assert log.read_bytes().endswith(b"[lanes-tui: log truncated at %d bytes]\n" % cap)
    response = store.read_response(task["id"])
    assert response["status"] == COMPLETED and response["body"].startswith("Stand-in claude answer.")


@pytest.mark.parametrize("vendor", ["claude", "codex"])
async def test_rate_limit_pauses_the_vendor_and_releases_without_burning_attempts(workspace, standins, monkeypatch, vendor):
    monkeypatch.setenv("STANDIN_MODE", "rate_limit")
    task = workspace.submit(metadata={"required_vendor": vendor})
    store = workspace.store()
    settings = make_settings(workspace, lane={"max_attempts": 1}, rate_limit_cooldown_seconds=1)
    async with supervising(store, settings) as h:
        times = timestamps(h)

        def switch(event):
            if isinstance(event, ev.VendorPaused):  # the next run of this stand-in succeeds
                monkeypatch.setenv("STANDIN_MODE", "ok")

        h.events.listeners.append(switch)
        paused = await h.events.wait_for(ev.VendorPaused)
        assert paused.vendor == vendor and paused.seconds == 1 and "rate limited" in paused.reason
        done = await h.events.wait_for(ev.TaskCompleted, task["id"])
        starts = h.events.of(ev.WorkerStarted, task["id"])
        assert len(starts) == 2
        waited = times[h.events.items.index(starts[1])] - times[h.events.items.index(paused)]
        assert waited >= 0.95, waited  # the vendor stayed paused for the cool-down
        assert not h.events.of(ev.AttemptFailed, task["id"]) and not h.events.of(ev.TaskFailed)
        waiting = h.events.of(ev.TaskWaiting, task["id"])
        assert waiting and "paused after a rate limit" in waiting[0].reason
    assert done.attempts == 2
    types = event_types(store, task["id"])
    assert "attempt_failed" not in types and types.count("rate_limited") == 1 and types.count("claimed") == 2
    released = events_of(store, task["id"], "released")
    assert len(released) == 1 and "rate limited" in released[0]["data"]["reason"]
    assert store.read_response(task["id"])["status"] == COMPLETED


async def test_budget_exceeded_stops_the_worker_and_fails_the_task(workspace, standins, monkeypatch):
    task = workspace.submit(metadata={"max_cost_usd": 0.01})
    store = workspace.store()
    async with supervising(store, make_settings(workspace, lane={"max_attempts": 3})) as h:
        started = await h.events.wait_for(ev.WorkerStarted, task["id"])
        failed = await h.events.wait_for(ev.TaskFailed, task["id"])
        await assert_worker_gone(task["id"], started.pid)
        assert len(h.events.of(ev.WorkerStarted, task["id"])) == 1  # a budget failure is not retried
    # Stopped mid-run on the running estimate (claude-sonnet-*: $3 in, $3.75 cache writes, $0.30
    # cache reads, $15 out per million), not only once Claude reports its cost at the end.
    assert failed.reason == "budget exceeded: estimated cost $0.0203 > max_cost_usd $0.01"
    stored = store.read_task(task["id"])
    assert stored["state"] == FAILED and stored["failure_reason"].startswith("budget exceeded")
    assert "headless_completed" not in event_types(store, task["id"])


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True
