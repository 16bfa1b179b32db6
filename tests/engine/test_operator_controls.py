"""Operator controls the dashboard uses: pause a lane, change the cap, stop a worker before a
break or cancel, let workers finish on quit, and the last-resort abandon when the UI dies."""

from __future__ import annotations

import asyncio
import math
import os
import sys

from helpers.supervisor import events_of, make_settings, supervising, until

from lanes_tui.core import procinfo
from lanes_tui.core.model import CLAIMED, COMPLETED, QUEUED
from lanes_tui.engine import events as ev
from lanes_tui.engine.notify_hook import NotifyHook


async def test_a_paused_lane_claims_nothing_until_resumed(workspace, standins):
    store = workspace.store()
    async with supervising(store, make_settings(workspace)) as h:
        h.supervisor.pause_lane("slow")
        held = workspace.submit(lane="slow", name="held")["id"]
        other = workspace.submit(lane="fast", name="other")["id"]
        await h.events.wait_for(ev.TaskCompleted, other)
        # The other lane's task ran to the end after `held` was queued: the paused lane was passed over.
        assert store.read_task(held)["state"] == QUEUED and "slow" in h.supervisor.paused_lanes
        h.supervisor.resume_lane("slow")
        await h.events.wait_for(ev.TaskCompleted, held)


async def test_the_cap_bounds_running_workers_and_can_grow(workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "hang")
    store = workspace.store()
    ids = [workspace.submit(name=f"t{i}")["id"] for i in range(3)]
    async with supervising(store, make_settings(workspace, concurrency={"global": 1})) as h:
        await h.events.wait_for(ev.WorkerStarted)
        assert h.supervisor.set_global_cap(0) == 1  # clamped: never below one
        assert sum(store.read_task(i)["state"] == CLAIMED for i in ids) == 1
        assert h.supervisor.set_global_cap(2) == 2
        await h.events.wait_for(ev.WorkerStarted, count=2)
        assert sum(store.read_task(i)["state"] == CLAIMED for i in ids) == 2


async def test_stop_worker_kills_the_group_and_keeps_the_claim_for_the_operator(workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "hang")
    store = workspace.store()
    task_id = workspace.submit()["id"]
    async with supervising(store, make_settings(workspace)) as h:
        started = await h.events.wait_for(ev.WorkerStarted, task_id)
        h.supervisor.pause_lane("default")  # or it would claim the task again after the break
        assert await h.supervisor.stop_worker(task_id, "operator wants it back") is True
        assert not procinfo.group_alive(started.pid)
        assert store.read_task(task_id)["state"] == CLAIMED  # not released: the break records why
        assert not events_of(store, task_id, "released")
        store.break_claim(task_id, by="operator:test", reason="wrong branch")
        released = events_of(store, task_id, "released")
        assert [e["data"]["action"] for e in released] == ["break"]
        assert await h.supervisor.stop_worker(task_id, "again") is False  # nothing of ours runs it


async def test_a_request_open_when_its_attempt_ends_is_closed_with_the_reason(workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "hang")
    store = workspace.store()
    task_id = workspace.submit()["id"]
    async with supervising(store, make_settings(workspace)) as h:
        await h.events.wait_for(ev.WorkerStarted, task_id)
        # What the worker's MCP server writes when its agent calls ask_operator.
        asked = store.requests().open(kind="question", agent=h.supervisor.agent_id(task_id), text="which?",
                                      task_id=task_id, timeout_seconds=600)
        h.supervisor.pause_lane("default")
        assert await h.supervisor.stop_worker(task_id, "operator wants it back") is True
        await until(lambda: store.requests().get(asked.id).state == "closed", what="the request closed")
    closed = store.requests().get(asked.id)
    assert closed.reply == "the attempt ended before an answer came"
    assert events_of(store, task_id, "input_closed")[-1]["data"]["request_id"] == asked.id


async def test_leave_them_to_finish_waits_past_the_shutdown_grace(workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "slow")
    monkeypatch.setenv("STANDIN_DELAY", "0.3")  # a few seconds in all: longer than the 1 s grace
    store = workspace.store()
    task_id = workspace.submit()["id"]
    async with supervising(store, make_settings(workspace)) as h:
        await h.events.wait_for(ev.WorkerStarted, task_id)
        h.supervisor.request_stop("dashboard quit", grace=math.inf)
        await asyncio.wait_for(h.job, 60)
    assert store.read_task(task_id)["state"] == COMPLETED


async def test_abandon_now_kills_workers_and_releases_claims_with_a_reason(workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "hang")
    store = workspace.store()
    task_id = workspace.submit()["id"]
    async with supervising(store, make_settings(workspace)) as h:
        started = await h.events.wait_for(ev.WorkerStarted, task_id)
        await until(lambda: task_id in h.supervisor.registry.record.workers)
        # abandon_now is for a loop that is gone; this one still runs: keep it from claiming the
        # released task again before the state is read (it did, on a loaded machine).
        h.supervisor.pause_lane("default")
        killed = h.supervisor.abandon_now("dashboard exited unexpectedly")
        assert killed == [task_id]
        await until(lambda: not procinfo.group_alive(started.pid), 5)
        task = store.read_task(task_id)
        assert task["state"] == QUEUED
        assert events_of(store, task_id, "released")[-1]["data"]["reason"] == "dashboard exited unexpectedly"
        assert not h.supervisor.registry.holds_lock


def test_notify_hook_runs_the_argv_with_severity_and_a_clean_message(tmp_path):
    out = tmp_path / "notified.txt"
    script = "import sys; open(sys.argv[1], 'w').write('|'.join(sys.argv[2:]))"
    hook = NotifyHook((sys.executable, "-c", script, str(out)))
    hook("error", "task failed:\x1b]0;pwned\x07 \u202eboom\nsecond line")
    hook.started[-1].wait(10)
    assert out.read_text() == "error|task failed:\\x1b]0;pwned\\x07 \\u202eboom second line"


def test_notify_hook_reports_a_missing_program_once(tmp_path):
    problems = []
    hook = NotifyHook((str(tmp_path / "no-such-notifier"),), on_problem=problems.append)
    hook("warning", "one")
    hook("warning", "two")
    assert len(problems) == 1 and "notify_command failed" in problems[0]
    assert os.path.exists(tmp_path) and not hook.started


def test_a_prompt_with_a_lone_surrogate_still_reaches_the_agent(workspace):
    from lanes_tui.vendors.prompting import build_input

    task = workspace.submit(prompt="fix \udc80 this")
    data = build_input(workspace.store(), workspace.store().read_task(task["id"]))
    assert data.startswith(b"fix ? this")


async def test_supervised_workers_are_agents_online_while_they_run(workspace, standins, monkeypatch):
    from lanes_tui.storage.files.coordination import file_presence

    monkeypatch.setenv("STANDIN_MODE", "hang")
    store = workspace.store()
    task_id = workspace.submit()["id"]
    async with supervising(store, make_settings(workspace)) as h:
        started = await h.events.wait_for(ev.WorkerStarted, task_id)
        presence = file_presence(store.root)
        agent = h.supervisor.agent_id(task_id)
        (state,) = [s for s in presence.agents() if s.record.id == agent]
        assert (state.status, state.record.role, state.record.task_id, state.record.pid) == (
            "active", "worker", task_id, started.pid)
        await h.supervisor.stop_worker(task_id, "test over")
        assert presence.status_of(agent) == "offline"  # its process is gone
