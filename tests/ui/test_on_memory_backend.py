"""Everything above the storage seam runs on the in-memory backend as it does on files: the
supervisor (stand-in agents, real subprocesses), the dashboard (the real App under Pilot), and
the public Python API. Nothing here touches a store folder: none exists."""

from __future__ import annotations

import asyncio
import threading

from helpers.supervisor import make_settings, standins, supervising  # noqa: F401 (fixture)

from lanes_tui.client import AsyncClient, Client
from lanes_tui.core.handoff import load_config
from lanes_tui.core.locks import lock_key_for_name
from lanes_tui.engine import events as ev
from lanes_tui.storage.memory import MemoryBackend
from lanes_tui.ui.screens.locks_screen import LocksScreen
from lanes_tui.ui.widgets.task_table import TaskTable

from .conftest import make_app, shown


def submit(store, workspace, *, prompt="do it", name="out", lane="default", metadata=None):
    return store.create_task(workspace_id="ws", correlation_id=name, source_agent="test", lane=lane,
                             workspace_root=workspace.root, request_path=workspace.request,
                             response_path=workspace.root / f"{name}.md", prompt=prompt, metadata=metadata or {})


async def test_the_supervisor_runs_tasks_on_the_memory_backend(workspace, standins, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setenv("STANDIN_MODE", "slow")
    monkeypatch.setenv("STANDIN_DELAY", "0.1")
    store = MemoryBackend(logs_dir=tmp_path / "logs")
    settings = make_settings(workspace, lane={"renew_seconds": 0.25})
    task = submit(store, workspace, prompt="Fix the parser")
    async with supervising(store, settings) as h:
        done = await h.events.wait_for(ev.TaskCompleted, task["id"])
        later = submit(store, workspace, prompt="and then this", name="later")  # seen through the feed
        await h.events.wait_for(ev.TaskCompleted, later["id"])
        assert h.events.of(ev.LeaseRenewed, task["id"])
        started = h.events.of(ev.SupervisorStarted)[0]
        assert started.store == store.location
    assert done.task_id == task["id"]
    for task_id in (task["id"], later["id"]):
        assert store.read_task(task_id)["state"] == "completed"
        assert store.read_response(task_id)["body"].strip()
        assert (tmp_path / "logs" / task_id / "attempt-1.log").stat().st_size > 0
    kinds = [e["type"] for e in store.read_events(task["id"]).events]
    assert kinds[:2] == ["created", "claimed"] and "renewed" in kinds and kinds[-1] == "response"
    workers = [s.record for s in store.presence().agents() if s.record.role == "worker"]
    assert sorted(w.task_id for w in workers) == sorted([task["id"], later["id"]])
    assert not workspace.store_root.exists()  # no folder was ever made for this queue


async def test_a_second_supervisor_on_the_same_memory_queue_is_refused(workspace, standins):  # noqa: F811
    import pytest

    from lanes_tui.core.errors import ConflictError

    store = MemoryBackend()
    settings = make_settings(workspace)
    async with supervising(store, settings):
        async with supervising(store, settings, start=False) as second:
            with pytest.raises(ConflictError, match="already running"):
                await second.supervisor.start()


async def test_the_dashboard_runs_on_the_memory_backend(workspace, standins):  # noqa: F811
    store = MemoryBackend()
    settings = make_settings(workspace)
    ids = [submit(store, workspace, prompt=f"task {n}", name=f"out{n}")["id"] for n in range(2)]
    store.locks().acquire(lock_key_for_name("deploy"), owner="alice", ttl_seconds=600, reason="release")
    app = make_app(workspace, settings, store=store)
    async with app.run_test(size=(120, 36)) as pilot:
        await asyncio.wait_for(app.loaded.wait(), 20)
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: all(table.row(i) and table.row(i).state == "completed" for i in ids),
                    "both completed in the table")
        await pilot.press("L")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, LocksScreen) and app.screen, "locks view")
        await shown(app, pilot, lambda: screen.loaded.is_set() and screen.query_one("DataTable").row_count == 1,
                    "the lock, listed")
        store.locks().acquire(lock_key_for_name("cache"), owner="bob", ttl_seconds=600)
        await shown(app, pilot, lambda: screen.query_one("DataTable").row_count == 2, "the new lock, followed")
    assert app.engine.location() == store.location
    assert not workspace.store_root.exists()


def test_the_python_api_runs_on_the_memory_backend(workspace):
    store = MemoryBackend()
    client = Client(store, load_config(workspace.config), identity="embedder")
    task = client.submit(lane="default", prompt="review this")
    assert [t.id for t in client.pending("default")] == [task.id]
    answers = []
    waiter = threading.Thread(target=lambda: answers.append(client.wait(task.id, timeout=30)))
    waiter.start()
    claim = client.claim_next("default", owner="external-worker")
    assert claim is not None and claim.task.id == task.id
    client.renew(task.id, claim.token)
    client.complete(task.id, claim.token, success=False, error="the build is red")
    waiter.join(30)
    assert answers and answers[0] is not None and not answers[0].success
    assert (answers[0].body, answers[0].reviewer) == ("the build is red", "embedder")
    assert client.task(task.id).failure_reason == "the build is red"

    async def subscribed():
        async with AsyncClient(store, load_config(workspace.config)) as aclient:
            seen = aclient.subscribe(lane="default")  # nothing unfinished yet: the first item is a change
            first = asyncio.ensure_future(seen.__anext__())
            new = await aclient.submit(lane="default", prompt="one more")
            item = await asyncio.wait_for(first, 20)
            while item.id != new.id:
                item = await asyncio.wait_for(seen.__anext__(), 20)
            await seen.aclose()
            return item

    assert asyncio.run(subscribed()).state.value == "queued"
