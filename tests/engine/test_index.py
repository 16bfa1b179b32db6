"""The in-memory index and the change feed that keeps it current."""

from __future__ import annotations

import asyncio
import json

import pytest

from lanes_tui.engine.feed import follow
from lanes_tui.engine.index import TaskIndex
from lanes_tui.storage.files.watch import TaskFeed

WAIT = 20  # generous upper bound for a notification to arrive; not a sleep


def test_rescan_builds_the_index_and_flags_corrupt_tasks(workspace):
    store = workspace.store()
    a = workspace.submit(lane="a", metadata={"required_vendor": "claude"})
    b = workspace.submit(lane="a")
    broken = workspace.submit(lane="b")
    (store.tasks_dir / broken["id"] / "task.json").write_text("[1, 2")
    index = TaskIndex(store)
    change = index.rescan()
    assert change.changed == {a["id"], b["id"]} and change.corrupt == {broken["id"]}
    assert index.candidates("a") == [a["id"], b["id"]]
    assert index.candidates("a", vendor="codex") == [b["id"]]  # no head-of-line blocking
    assert index.counts()["queued"] == 2 and broken["id"] in index.corrupt
    assert not index.rescan()  # nothing changed: nothing re-read


def test_claim_next_from_the_index_updates_it(workspace):
    store = workspace.store()
    first, second = workspace.submit(), workspace.submit()
    index = TaskIndex(store)
    index.rescan()
    result = index.claim_next("default", owner="me", lease_seconds=60)
    assert result.task["id"] == first["id"]
    assert index.get(first["id"]).state == "claimed"
    assert index.candidates("default") == [second["id"]]


def test_rescan_notices_archived_and_rewritten_tasks(workspace):
    store = workspace.store()
    task = workspace.submit()
    index = TaskIndex(store)
    index.rescan()
    store.cancel(task["id"], by="op")
    assert index.rescan().changed == {task["id"]} and index.get(task["id"]).state == "failed"
    store.archive(older_than_days=0)
    assert index.rescan().removed == {task["id"]} and len(index) == 0


async def _follow_until(index, feed, predicate, wait=WAIT, **kw):
    """Run follow() until predicate(index) holds (at most `wait` s); returns the changes seen."""
    seen, done = [], asyncio.Event()

    def on_change(change):
        seen.append(change)
        if predicate(index):
            done.set()

    runner = asyncio.create_task(follow(index, feed, on_change, **kw))
    try:
        await asyncio.wait_for(done.wait(), wait)
    finally:
        feed.close()
        await asyncio.wait_for(runner, WAIT)
    return seen


async def test_feed_reports_submit_and_claim_by_agent_lanes(workspace):
    store = workspace.store()
    index = TaskIndex(store)
    feed = TaskFeed(store.tasks_dir)
    state = {}

    async def agent_lanes_submits_and_claims():
        proc = await asyncio.to_thread(
            workspace.run_agent_lanes, "submit", "--lane", "default", "--request-from", str(workspace.request),
            "--response-to", str(workspace.root / "o.md"), "--prompt", "hi", "--json",
        )
        state["id"] = json.loads(proc.stdout)["task_id"]
        await asyncio.to_thread(workspace.run_agent_lanes, "claim", state["id"], "--owner", "them")

    driver = asyncio.create_task(agent_lanes_submits_and_claims())

    def claimed(ix):
        task = ix.get(state.get("id", ""))
        return task is not None and task.state == "claimed" and task.claim_owner == "them"

    # The default rescan interval (30 s) exceeds WAIT: only inotify can satisfy this in time.
    await _follow_until(index, feed, claimed)
    await driver


async def test_rescan_safety_net_finds_what_the_watcher_missed(workspace, tmp_path, rescan=0.2, wait=WAIT):
    store = workspace.store()
    index = TaskIndex(store)
    blind = tmp_path / "elsewhere"
    blind.mkdir()
    feed = TaskFeed(blind)  # watches the wrong folder: every event is "missed"
    submitted: list[dict] = []

    def submit_after_the_first_scan() -> None:
        # follow() calls this after its own first scan (which finds whatever exists already):
        # a task submitted now can only be found by a later rescan, the safety net under test.
        if not submitted:
            submitted.append(workspace.submit())

    await _follow_until(index, feed, lambda ix: submitted and ix.get(submitted[0]["id"]) is not None,
                        wait=wait, rescan_seconds=rescan, wake_after=submit_after_the_first_scan)


async def test_without_the_safety_net_the_blind_watcher_finds_nothing(workspace, tmp_path):
    """The test above cannot pass by accident: with rescans out of reach it times out."""
    with pytest.raises(asyncio.TimeoutError):
        await test_rescan_safety_net_finds_what_the_watcher_missed(workspace, tmp_path, rescan=3600, wait=2)


async def test_follow_wakes_when_a_lease_expires(workspace):
    store = workspace.store()
    task = workspace.submit()
    store.claim(task["id"], owner="gone", lease_seconds=1)
    index = TaskIndex(store)
    feed = TaskFeed(store.tasks_dir)
    woke = []

    def expired(ix):
        woke.append(ix.candidates("default"))
        return ix.candidates("default") == [task["id"]]

    await _follow_until(index, feed, expired, wake_after=index.next_lease_expiry)
    assert woke[-1] == [task["id"]]
