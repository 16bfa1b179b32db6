"""Control over running and waiting tasks: cancel/break from other clients, dependencies,
missing vendors, concurrency caps and claims held by other dispatchers (mixed fleets)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from helpers.supervisor import (
    BOUND,
    event_types,
    events_of,
    make_settings,
    supervising,
    until,
)

from lanes_tui.core import procinfo
from lanes_tui.core.clock import parse_ts
from lanes_tui.core.errors import ConflictError
from lanes_tui.core.model import COMPLETED, FAILED, QUEUED
from lanes_tui.engine import events as ev
from lanes_tui.engine.index import IndexChange
from lanes_tui.engine.supervisor import Supervisor

UNKNOWN_ID = "20990101T000000000000Z-default-000000000000"


async def test_cancel_from_another_client_kills_the_worker_promptly_and_writes_nothing(workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "hang")
    task = workspace.submit()
    store = workspace.store()
    # Renewals are rare: only the change feed can make the reaction prompt.
    settings = make_settings(workspace, lane={"timeout_seconds": 60, "lease_seconds": 20, "renew_seconds": 10})
    async with supervising(store, settings) as h:
        started = await h.events.wait_for(ev.WorkerStarted, task["id"])
        await until(lambda: "headless_started" in event_types(store, task["id"]))
        result = await asyncio.to_thread(workspace.run, "cancel", task["id"], "--reason", "not needed")
        assert result.returncode == 0, result.stderr
        cancelled_at = time.monotonic()
        abandoned = await h.events.wait_for(ev.WorkerAbandoned, task["id"], timeout=5)
        await until(lambda: not procinfo.group_alive(started.pid), 5)
        reaction = time.monotonic() - cancelled_at
        assert reaction < 3, reaction
        assert "claim lost" in abandoned.reason and "failed" in abandoned.reason
        # Stays cancelled: nothing restarts it, nothing answers it.
        await until(lambda: task["id"] not in h.supervisor.running)
        assert len(h.events.of(ev.WorkerStarted, task["id"])) == 1
        assert not h.events.of(ev.TaskCompleted) and not h.events.of(ev.TaskFailed)
    stored = store.read_task(task["id"])
    assert stored["state"] == FAILED and stored["failure_reason"] == "cancelled"
    assert store.read_response(task["id"]) is None
    types = event_types(store, task["id"])
    assert "response" not in types and "headless_completed" not in types and types.count("claimed") == 1


async def test_a_cancel_the_renewal_meets_first_is_reported_as_the_cancel(workspace, standins, monkeypatch):
    """Under load the worker's renewal can be refused by a cancel before the change feed tells
    of it (seen in CI with the real claude CLI): the abandon still says who ended it and why."""
    monkeypatch.setenv("STANDIN_MODE", "hang")
    task = workspace.submit()
    store = workspace.store()
    settings = make_settings(workspace, lane={"timeout_seconds": 60, "lease_seconds": 4, "renew_seconds": 0.5})
    late: set[str] = set()  # tasks whose changes the feed's news leaves out
    on_change = Supervisor._on_change

    def news_without_late_tasks(self, change):
        on_change(self, IndexChange(change.changed - late, change.removed - late, change.corrupt))

    monkeypatch.setattr(Supervisor, "_on_change", news_without_late_tasks)
    async with supervising(store, settings) as h:
        await h.events.wait_for(ev.WorkerStarted, task["id"])
        await until(lambda: "headless_started" in event_types(store, task["id"]))
        late.add(task["id"])
        result = await asyncio.to_thread(workspace.run, "cancel", task["id"], "--reason", "not needed")
        assert result.returncode == 0, result.stderr
        abandoned = await h.events.wait_for(ev.WorkerAbandoned, task["id"])
    assert "cancelled" in abandoned.reason, abandoned.reason


async def test_break_from_another_client_stops_the_worker_before_the_task_runs_again(workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "hang")
    task = workspace.submit()
    store = workspace.store()
    settings = make_settings(workspace, lane={"timeout_seconds": 60, "lease_seconds": 20, "renew_seconds": 10})
    overlap: list[bool] = []
    async with supervising(store, settings) as h:
        def on_event(event):
            if isinstance(event, ev.WorkerAbandoned):
                monkeypatch.setenv("STANDIN_MODE", "ok")  # the re-run answers
            if isinstance(event, ev.WorkerStarted) and len(h.events.of(ev.WorkerStarted, task["id"])) > 1:
                first = h.events.of(ev.WorkerStarted, task["id"])[0]
                overlap.append(procinfo.group_alive(first.pid))  # never two workers on one task

        h.events.listeners.append(on_event)
        first = await h.events.wait_for(ev.WorkerStarted, task["id"])
        await until(lambda: "headless_started" in event_types(store, task["id"]))
        result = await asyncio.to_thread(workspace.run, "break", task["id"], "--reason", "operator takes over")
        assert result.returncode == 0, result.stderr
        broke_at = time.monotonic()
        await h.events.wait_for(ev.WorkerAbandoned, task["id"], timeout=5)
        await until(lambda: not procinfo.group_alive(first.pid), 5)
        assert time.monotonic() - broke_at < 3
        done = await h.events.wait_for(ev.TaskCompleted, task["id"])
    assert overlap == [False]
    assert done.attempts == 2
    response = store.read_response(task["id"])
    assert response["status"] == COMPLETED and response["metadata"]["attempt"] == 2
    types = event_types(store, task["id"])
    assert types.count("response") == 1 and types.count("claimed") == 2 and types.count("headless_started") == 2


async def test_dependency_waits_for_its_parent(workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "slow")
    monkeypatch.setenv("STANDIN_DELAY", "0.1")
    parent = workspace.submit(prompt="parent", name="parent")
    child = workspace.submit(prompt="child", name="child", metadata={"depends_on": [parent["id"]]})
    store = workspace.store()
    async with supervising(store, make_settings(workspace), drain=True) as h:
        await asyncio.wait_for(h.job, BOUND)
    names = [(type(e).__name__, getattr(e, "task_id", None)) for e in h.events.items]
    waiting = h.events.of(ev.TaskWaiting, child["id"])
    assert waiting and waiting[0].reason.startswith(f"waiting for dependency {parent['id']}")
    assert names.index(("TaskCompleted", parent["id"])) < names.index(("WorkerStarted", child["id"]))
    assert store.read_task(child["id"])["state"] == COMPLETED
    assert h.supervisor.drained


@pytest.mark.parametrize("case", ["failed-parent", "unknown", "comma-string-with-unknown"])
async def test_unsatisfiable_dependency_fails_the_child_visibly(workspace, standins, case):
    store = workspace.store()
    if case == "failed-parent":
        parent = workspace.submit(name="parent", metadata={"model_class": "no-such-model"})
        depends, expected = [parent["id"]], f"dependency {parent['id']} failed: no vendor can run this task: unknown model_class"
    elif case == "unknown":
        depends, expected = [UNKNOWN_ID], f"unknown dependency {UNKNOWN_ID}"
    else:
        ok = workspace.submit(name="ok-parent")
        store.respond(ok["id"], body="done", reviewer="human")
        depends, expected = f"{ok['id']}, {UNKNOWN_ID}", f"unknown dependency {UNKNOWN_ID}"
    child = workspace.submit(name="child", metadata={"depends_on": depends})
    async with supervising(store, make_settings(workspace), drain=True) as h:
        await asyncio.wait_for(h.job, BOUND)
    failed = h.events.of(ev.TaskFailed, child["id"])
    assert len(failed) == 1 and failed[0].reason.startswith(expected), failed
    stored = store.read_task(child["id"])
    assert stored["state"] == FAILED and stored["failure_reason"].startswith(expected)
    assert not h.events.of(ev.WorkerStarted, child["id"])


async def test_missing_vendor_waits_visibly_without_busy_looping(workspace, path_without_codex):
    task = workspace.submit(metadata={"required_vendor": "codex"})
    other = workspace.submit(name="other")  # claude is there: runs while codex waits
    store = workspace.store()
    async with supervising(store, make_settings(workspace)) as h:
        waiting = await h.events.wait_for(ev.TaskWaiting, task["id"])
        await h.events.wait_for(ev.TaskCompleted, other["id"])
        assert waiting.reason == "vendor codex: executable 'codex' not found on PATH"
        assert h.supervisor.waiting == {task["id"]: waiting.reason}
        cpu_before, wall_before = time.process_time(), time.monotonic()
        await asyncio.sleep(2)  # a measurement window, not synchronisation
        cpu = time.process_time() - cpu_before
        assert time.monotonic() - wall_before >= 2
        assert cpu < 0.25, f"{cpu:.2f} s of CPU in 2 s of waiting: a busy loop"
        assert len(h.events.of(ev.TaskWaiting, task["id"])) == 1  # reported once, not on every pass
    assert store.read_task(task["id"])["state"] == QUEUED
    assert event_types(store, task["id"]) == ["created"]


async def test_missing_vendor_drain_ends_with_exit_11_and_lists_the_task(workspace, path_without_codex, tmp_path):
    make_settings(workspace)  # lanes-tui.yaml next to handoff.yaml, found by the CLI
    task = workspace.submit(metadata={"required_vendor": "codex"})
    summary = tmp_path / "summary.json"
    result = await asyncio.to_thread(workspace.run, "--no-ui", "--drain", "--summary", str(summary), timeout=BOUND)
    assert result.returncode == 11, (result.stdout, result.stderr)
    data = json.loads(summary.read_text())
    assert data["exit_code"] == 11
    assert data["waiting"] == [{"id": task["id"], "reason": "vendor codex: executable 'codex' not found on PATH"}]
    assert "task_waiting" in result.stdout and task["id"] in result.stdout
    assert workspace.store().read_task(task["id"])["state"] == QUEUED


@pytest.mark.parametrize("caps", [{"global": 1}, {"vendors": {"claude": 1}}, {"lanes": {"default": 1}}],
                         ids=["global", "vendor", "lane"])
async def test_concurrency_cap_of_one_runs_one_worker_at_a_time(workspace, standins, monkeypatch, caps):
    monkeypatch.setenv("STANDIN_MODE", "slow")
    monkeypatch.setenv("STANDIN_DELAY", "0.04")
    tasks = [workspace.submit(name=f"t{i}") for i in range(3)]
    store = workspace.store()
    live: list[int] = [0]
    peak: list[int] = [0]

    async with supervising(store, make_settings(workspace, concurrency=caps), drain=True) as h:
        def on_event(event):
            if isinstance(event, ev.WorkerStarted):
                live[0] += 1
                peak[0] = max(peak[0], live[0], len(h.supervisor.running))
            elif isinstance(event, (ev.TaskCompleted, ev.TaskFailed, ev.WorkerAbandoned)):
                live[0] -= 1

        h.events.listeners.append(on_event)
        await asyncio.wait_for(h.job, BOUND)
    assert peak[0] == 1
    assert len(h.events.of(ev.TaskCompleted)) == 3 and len(h.events.of(ev.WorkerStarted)) == 3
    assert all(store.read_task(t["id"])["state"] == COMPLETED for t in tasks)


async def test_a_task_claimed_by_another_dispatcher_is_left_alone_until_its_lease_expires(workspace, standins):
    task = workspace.submit()
    store = workspace.store()
    foreign = store.claim(task["id"], owner="agent-lanes-dispatcher", lease_seconds=2)
    expires = parse_ts(foreign["lease_expires_at"]).timestamp()
    async with supervising(store, make_settings(workspace), drain=True) as h:
        started_at: list[float] = []
        h.events.listeners.append(lambda e: isinstance(e, ev.WorkerStarted) and started_at.append(time.time()))
        await asyncio.wait_for(h.job, BOUND)
    assert len(started_at) == 1
    assert started_at[0] >= expires, "the supervisor took a task whose lease was still held"
    assert started_at[0] - expires < 2, "the lease expiry was noticed late (polling?)"
    with pytest.raises(ConflictError):  # the stale holder is fenced (G7)
        store.renew(task["id"], claim_token=foreign["claim_token"], lease_seconds=10)
    claims = events_of(store, task["id"], "claimed")
    assert [c["data"]["owner"] for c in claims] == ["agent-lanes-dispatcher", h.supervisor.owner]
    assert store.read_response(task["id"])["reviewer"] == h.supervisor.owner
