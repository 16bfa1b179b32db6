"""The dashboard's model (no Textual): rows, lane figures, attention, transcripts, actions."""

from __future__ import annotations

import asyncio
import json

from helpers.supervisor import events_of, make_settings, until

from lanes_tui.core.handoff import load_config
from lanes_tui.core.model import CLAIMED, FAILED, QUEUED
from lanes_tui.engine import events as ev
from lanes_tui.engine.service import (
    DEPENDENCY_WAIT,
    TRANSCRIPT_LINES,
    Engine,
    EngineChanged,
)


def _board(workspace, **kwargs) -> Engine:
    return Engine(workspace.store(), make_settings(workspace), config=load_config(workspace.config),
                 operator="operator:test", **kwargs)


async def test_watch_only_rows_lanes_and_attention_follow_the_disk(workspace):
    store = workspace.store()
    queued = workspace.submit(lane="alpha", name="a")["id"]
    claimed = workspace.submit(lane="alpha", name="b")["id"]
    store.claim(claimed, owner="someone", lease_seconds=0.2)  # expires soon: needs attention then
    failed = workspace.submit(lane="beta", name="c")["id"]
    store.cancel(failed, by="op")
    engine = _board(workspace, watch_only=True)
    changes: list[EngineChanged] = []
    engine.subscribe(changes.append)
    await engine.start()
    try:
        rows = {r.id: r for r in engine.rows()}
        assert (rows[queued].state, rows[claimed].state, rows[failed].state) == (QUEUED, CLAIMED, FAILED)
        assert rows[claimed].owner == "someone" and rows[failed].reason == "cancelled"
        await until(lambda: engine.row(claimed).attempts == 1 and engine.row(failed).attempts == 0)
        lanes = {lane.name: lane for lane in engine.lanes()}
        assert (lanes["alpha"].queued, lanes["alpha"].running, lanes["beta"].queued) == (1, 1, 0)
        assert lanes["alpha"].oldest_queued_at is not None and lanes["alpha"].mode == "watch"
        await until(lambda: engine.row(claimed).attention, what="expired lease needs attention")
        # The expired lease; not the cancel: someone decided that (issue 12, point 8).
        assert engine.totals().attention == 1 and engine.totals().cap is None
        assert not engine.row(failed).attention
        # Another client's change reaches the engine through the change feed.
        new = workspace.submit(lane="alpha", name="d")["id"]
        await until(lambda: any(new in c.task_ids for c in changes), what="feed reported the new task")
        assert engine.row(new).state == QUEUED
    finally:
        engine.request_stop("test over")
        await asyncio.wait_for(engine.run(), 10)


async def test_a_hostile_lane_name_and_owner_are_sanitised(workspace):
    store = workspace.store()
    task_id = workspace.submit(lane="x\x1b]0;pwned\x07\u202e")["id"]
    store.claim(task_id, owner="evil\x1b[2J", lease_seconds=60)
    engine = _board(workspace, watch_only=True)
    await engine.start()
    try:
        row = engine.row(task_id)
        assert row.lane == "x\\x1b]0;pwned\\x07\\u202e" and row.owner == "evil\\x1b[2J"
        assert all("\x1b" not in lane.name for lane in engine.lanes())
    finally:
        engine.request_stop("test over")
        await engine.run()


async def test_transcripts_are_capped_sanitised_and_numbered(workspace):
    engine = _board(workspace, watch_only=True)
    task_id = workspace.submit()["id"]
    for i in range(TRANSCRIPT_LINES + 5):
        engine._on_event(ev.WorkerActivity(task_id, f"line {i}\x1b[31m\nmore"))
    lines = engine.transcript(task_id)
    assert len(lines) == TRANSCRIPT_LINES and lines[-1].seq == TRANSCRIPT_LINES + 5
    assert lines[-1].text == f"line {TRANSCRIPT_LINES + 4}\\x1b[31m more"


async def test_waiting_for_a_dependency_is_not_a_problem_but_a_missing_vendor_is(workspace):
    engine = _board(workspace, watch_only=True)
    first = workspace.submit(name="a")["id"]
    second = workspace.submit(name="b")["id"]
    await engine.start()
    try:
        engine._on_event(ev.TaskWaiting(first, "default", f"{DEPENDENCY_WAIT} {second} (queued)"))
        engine._on_event(ev.TaskWaiting(second, "default", "no vendor available: claude is not on PATH"))
        assert not engine.row(first).attention and engine.row(second).attention
        assert engine.row(second).reason.startswith("no vendor available")
    finally:
        engine.request_stop("test over")
        await engine.run()


async def test_actions_go_through_the_store_verbs_as_the_operator(workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "hang")
    store = workspace.store()
    engine = _board(workspace)
    await engine.start()
    job = asyncio.create_task(engine.run())
    try:
        from lanes_tui.engine.submitting import SubmitForm

        task = await engine.submit(SubmitForm(lane="default", prompt="hello"))
        await until(lambda: task["id"] in engine.running_ids(), what="our worker runs it")
        engine.pause_lane("default")
        assert await engine.break_claim(task["id"], "wrong branch") is True
        released = events_of(store, task["id"], "released")[-1]
        assert released["data"]["by"] == "operator:test" and released["data"]["reason"] == "wrong branch"
        assert store.read_task(task["id"])["state"] == QUEUED
        await engine.cancel(task["id"])
        assert store.read_task(task["id"])["state"] == FAILED
        new = await engine.retry(task["id"], {"required_vendor": "codex"})
        assert new["metadata"]["requeued_from"] == task["id"] and new["metadata"]["required_vendor"] == "codex"
        assert engine.set_cap(3) == 3 and engine.totals().cap == 3
    finally:
        engine.request_stop("test over", grace=0)
        engine.stop_workers_now()
        await asyncio.wait_for(job, 20)
    assert json.loads((workspace.store_root / ".lanes-tui" / "supervisor.json").read_text())["workers"] == {}


async def test_a_queued_row_says_what_holds_it_a_busy_slot_a_paused_lane_or_another_dispatcher(
        workspace, standins, monkeypatch):
    """Issue 12, point 8: "nothing says why a queued task waits"."""
    monkeypatch.setenv("STANDIN_MODE", "hang")
    first = workspace.submit(lane="default", prompt="runs", name="a")["id"]
    second = workspace.submit(lane="default", prompt="waits", name="b")["id"]
    outside = workspace.submit(lane="elsewhere", prompt="not ours", name="c")["id"]
    settings = make_settings(workspace, concurrency={"global": 1}, lanes={"elsewhere": {"mode": "external"}})
    engine = Engine(workspace.store(), settings, config=load_config(workspace.config), operator="operator:test")
    await engine.start()
    job = asyncio.create_task(engine.run())
    try:
        await until(lambda: first in engine.running_ids(), what="the first task runs")
        await until(lambda: engine.row(second).reason == "all 1 worker slot(s) busy", what="the busy slot")
        assert not engine.row(second).attention  # it passes by itself: not a problem
        assert engine.row(outside).reason.startswith("external lane")
        engine.pause_lane("default")
        await engine.cancel(first)
        await until(lambda: engine.row(second).reason == "lane paused by the operator", what="the paused lane")
        engine.pause_lane("default")
        await until(lambda: second in engine.running_ids(), what="resumed: it runs")
        assert engine.row(second).reason == ""
    finally:
        engine.request_stop("test over", grace=0)
        engine.stop_workers_now()
        await asyncio.wait_for(job, 20)


async def test_an_attempt_cut_short_by_stopping_the_supervisor_does_not_count(workspace, standins, monkeypatch):
    """G3; issue 12, point 9: "a worker stopped by quitting counts as an attempt"."""
    from lanes_tui.core.states import ATTEMPT_INTERRUPTED, attempts_of

    monkeypatch.setenv("STANDIN_MODE", "hang")
    task_id = workspace.submit(prompt="long job")["id"]
    store = workspace.store()
    engine = _board(workspace)
    await engine.start()
    job = asyncio.create_task(engine.run())
    await until(lambda: task_id in engine.running_ids(), what="it runs")
    await until(lambda: engine.row(task_id).attempts == 1, what="TRY 1 while it runs")
    engine.request_stop("operator quit", grace=0)  # what `q` then "stop them" does
    await asyncio.wait_for(job, 20)
    events = store.read_events(task_id).events
    assert [e["type"] for e in events if e["type"] in ("claimed", ATTEMPT_INTERRUPTED, "released")] == [
        "claimed", ATTEMPT_INTERRUPTED, "released"]
    assert attempts_of(events).counted == 0 and store.read_task(task_id)["state"] == QUEUED

    monkeypatch.setenv("STANDIN_MODE", "ok")
    again = _board(workspace)
    await again.start()
    job = asyncio.create_task(again.run())
    try:
        await until(lambda: again.row(task_id).state == "completed", what="the next session finishes it")
        assert again.row(task_id).attempts == 1  # the cut-short run is not a try
        # The logs keep one number per claim: the second run did not overwrite the first's.
        assert store.attempt_log_path(task_id, 1).exists() and store.attempt_log_path(task_id, 2).exists()
    finally:
        again.request_stop("test over", grace=0)
        await asyncio.wait_for(job, 20)
