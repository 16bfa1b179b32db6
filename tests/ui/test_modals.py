"""Break, cancel, retry and quit through their dialogs, against a real store and stand-in workers.

Each test drives the dashboard by keyboard and checks the queue ON DISK
afterwards (state, events, new tasks), and for our own workers that the
process is really gone. Waits are bounded polls of a condition, never sleeps.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import uuid
from datetime import timedelta
from typing import Any, Iterator

import pytest
from helpers.supervisor import make_settings, pid_alive, processes_with_env, until
from textual.widgets import Input, Select, Static

from lanes_tui.core.model import CLAIMED, FAILED, QUEUED
from lanes_tui.ui.screens.break_modal import BreakModal, break_info
from lanes_tui.ui.screens.confirm_modal import ConfirmModal
from lanes_tui.ui.screens.quit_modal import QuitModal
from lanes_tui.ui.screens.retry_modal import RetryModal
from lanes_tui.wiring import Queue, build_engine

from .conftest import dashboard, shown


@pytest.fixture
def hang_settings(workspace: Any, standins: Any) -> Any:  # noqa: F811
    """For workers that hang until stopped: no lane timeout, and no lease fence, that a loaded
    machine could reach while the test is still at its keys (the fast lanes' 3 s timeout and 4 s
    lease, whose fence fires 2.5 s after the last renewal, ended such workers mid-test)."""
    return make_settings(workspace, lane={"timeout_seconds": 600, "lease_seconds": 30})


@pytest.fixture
def hang(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Stand-in workers that block until stopped, tagged so teardown can find (only) ours."""
    tag = uuid.uuid4().hex
    monkeypatch.setenv("STANDIN_MODE", "hang")
    monkeypatch.setenv("STANDIN_TEST_TAG", tag)  # STANDIN_* reaches the workers
    yield tag
    for pid in processes_with_env("STANDIN_TEST_TAG", tag):  # a failed test must not leak a worker
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


async def opened(app: Any, pilot: Any, kind: type) -> Any:
    return await shown(app, pilot, lambda: isinstance(app.screen, kind) and app.screen, f"{kind.__name__} open")


async def closed(app: Any, pilot: Any, kind: type) -> None:
    await shown(app, pilot, lambda: not isinstance(app.screen, kind), f"{kind.__name__} closed")


def text_of(screen: Any, selector: str) -> str:
    return "\n".join(str(static.content) for static in screen.query(selector).results(Static))


def worker_pid(app: Any, task_id: str) -> int:
    """The pid from the transcript's WorkerStarted line ("attempt 1: ..., pid 1234")."""
    for line in app.engine.transcript(task_id):
        found = re.search(r"\bpid (\d+)", line.text)
        if found:
            return int(found.group(1))
    raise AssertionError(f"no pid in the transcript of {task_id}")


def events(workspace: Any, task_id: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in workspace.store().read_events(task_id).events if e.get("type") == kind]


async def running(app: Any, pilot: Any, task_id: str) -> int:
    """Wait until our worker runs `task_id` (row claimed, supervisor running it); its pid."""
    await shown(app, pilot, lambda: (row := app.table.row(task_id)) is not None and row.state == CLAIMED
                and task_id in app.engine.running_ids() and app.engine.transcript(task_id), "our worker runs it")
    return worker_pid(app, task_id)


# -- break ----------------------------------------------------------------------------------


async def test_break_our_own_workers_claim_stops_it_and_requeues(workspace, hang_settings, hang):
    task_id = workspace.submit(prompt="hangs")["id"]
    async with dashboard(workspace, hang_settings) as (app, pilot):
        pid = await running(app, pilot, task_id)
        assert pid_alive(pid)
        await pilot.press("p")  # pause the lane: the broken task must stay queued, not be re-claimed
        await shown(app, pilot, lambda: "default" in app.engine.paused_lanes, "lane paused")
        await pilot.press("b")
        modal = await opened(app, pilot, BreakModal)
        info = text_of(modal, ".info")
        assert "our worker will be stopped first" in info
        assert "holder" in info and "left" in info and "heartbeat" in info
        assert modal.query_one("#reason", Input).value == "broken from the dashboard"
        await pilot.press("enter")
        await closed(app, pilot, BreakModal)
        await until(lambda: workspace.store().read_task(task_id)["state"] == QUEUED, 10, what="queued on disk")
        await shown(app, pilot, lambda: app.table.row(task_id).state == QUEUED, "queued in the table")
        assert task_id not in app.engine.running_ids()
    assert not pid_alive(pid), "the worker was stopped before its claim was broken"
    released = events(workspace, task_id, "released")
    assert released and released[-1]["data"]["action"] == "break"
    assert released[-1]["data"]["by"] == "operator:test"
    assert released[-1]["data"]["reason"] == "broken from the dashboard"
    assert workspace.store().read_task(task_id)["state"] == QUEUED


async def test_break_someone_elses_claim_needs_a_reason(workspace, ui_settings):
    task_id = workspace.submit(prompt="claimed elsewhere")["id"]
    store = workspace.store()
    store.claim(task_id, owner="other[bold]\x1b[2J", lease_seconds=60)  # hostile owner text
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        await shown(app, pilot, lambda: app.table.row(task_id) and app.table.row(task_id).state == CLAIMED)
        await pilot.press("b")
        modal = await opened(app, pilot, BreakModal)
        info = text_of(modal, ".info")
        assert "other[bold]\\x1b[2J" in info  # shown as text: escaped, never read as markup
        assert "our worker" not in info
        await pilot.press("ctrl+u", "enter")  # an empty reason is refused in the form
        assert isinstance(app.screen, BreakModal)
        assert "reason is required" in text_of(modal, "#error")
        assert store.read_task(task_id)["state"] == CLAIMED
        await pilot.press(*"holder is dead", "enter")
        await closed(app, pilot, BreakModal)
        await until(lambda: store.read_task(task_id)["state"] == QUEUED, 10, what="queued on disk")
    data = events(workspace, task_id, "released")[-1]["data"]
    assert data["action"] == "break" and data["by"] == "operator:test"
    assert data["reason"] == "holder is dead" and data["previous_owner"] == "other[bold]\x1b[2J"


async def test_break_escape_changes_nothing(workspace, ui_settings):
    task_id = workspace.submit()["id"]
    workspace.store().claim(task_id, owner="other", lease_seconds=60)
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        await shown(app, pilot, lambda: app.table.row(task_id) and app.table.row(task_id).state == CLAIMED)
        await pilot.press("b")
        await opened(app, pilot, BreakModal)
        await pilot.press("escape")
        await closed(app, pilot, BreakModal)
    assert workspace.store().read_task(task_id)["state"] == CLAIMED
    assert not events(workspace, task_id, "released")


def test_break_info_reads_holder_lease_and_last_heartbeat(workspace, ui_settings):
    store = workspace.store()
    task_id = workspace.submit()["id"]
    claimed = store.claim(task_id, owner="worker-7", lease_seconds=60)
    store.renew(task_id, claim_token=claimed["claim_token"], lease_seconds=60)
    engine = build_engine(Queue(store, ui_settings, None, "test"), watch_only=True, operator="operator:test")
    now = store.now() + timedelta(seconds=30)
    info = break_info(engine, task_id, now)
    renewed_at = events(workspace, task_id, "renewed")[-1]["created_at"]
    assert info.holder == "worker-7" and not info.ours and not info.problem
    assert info.claimed_at is not None and info.lease_expires_at is not None
    assert info.last_heartbeat is not None and info.last_heartbeat.isoformat()[:19] == renewed_at[:19]
    assert info.last_heartbeat >= info.claimed_at

    gone = break_info(engine, "20260101T000000000000Z-x-000000000000", now)
    assert gone.problem and gone.holder == "" and gone.last_heartbeat is None


# -- cancel ---------------------------------------------------------------------------------


async def test_cancel_asks_first_and_records_the_operator(workspace, ui_settings):
    task_id = workspace.submit()["id"]
    store = workspace.store()
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        await pilot.press("c")
        modal = await opened(app, pilot, ConfirmModal)
        assert task_id in text_of(modal, "#body")
        await pilot.press("n")
        await closed(app, pilot, ConfirmModal)
        assert store.read_task(task_id)["state"] == QUEUED and not events(workspace, task_id, "cancelled")
        await pilot.press("c")
        await opened(app, pilot, ConfirmModal)
        await pilot.press("y")
        await until(lambda: store.read_task(task_id)["state"] == FAILED, 10, what="cancelled on disk")
        await shown(app, pilot, lambda: app.table.row(task_id).state == FAILED, "failed in the table")
    task = store.read_task(task_id)
    assert task["failure_reason"] == "cancelled"
    assert [e["data"]["by"] for e in events(workspace, task_id, "cancelled")] == ["operator:test"]


# -- retry ----------------------------------------------------------------------------------


async def test_retry_on_another_vendor_creates_a_linked_task(workspace, ui_settings):
    store = workspace.store()
    old = workspace.submit(prompt="try again", metadata={"required_vendor": "claude"})["id"]
    store.cancel(old, by="test")
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        await shown(app, pilot, lambda: app.table.row(old) and app.table.row(old).state == FAILED)
        await pilot.press("r")
        modal = await opened(app, pilot, RetryModal)
        assert modal.focused is modal.query_one("#vendor", Select)
        await pilot.press("enter", *"codex", "enter")  # open the list, type to find, pick
        await shown(app, pilot, lambda: modal.query_one("#vendor", Select).value == "codex", "codex chosen")
        await pilot.press("ctrl+s")
        await closed(app, pilot, RetryModal)
        new_ids = await until(lambda: [i for i in store.task_ids() if i != old], 10, what="the retried task")
    new = store.read_task(new_ids[0])
    assert new["metadata"]["requeued_from"] == old
    assert new["metadata"]["required_vendor"] == "codex"
    assert new["prompt"] == "try again" and new["state"] == QUEUED
    assert events(workspace, old, "requeued")[-1]["data"]["by"] == "operator:test"


async def test_retry_refuses_bad_names_and_escape_creates_nothing(workspace, ui_settings):
    store = workspace.store()
    old = workspace.submit()["id"]
    store.cancel(old, by="test")
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        await pilot.press("r")
        modal = await opened(app, pilot, RetryModal)
        modal.query_one("#model_class", Input).value = "gpt 5; rm -rf"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, RetryModal)
        assert "model class" in text_of(modal, "#error")
        assert modal.focused is modal.query_one("#model_class", Input)
        await pilot.press("escape")
        await closed(app, pilot, RetryModal)
    assert store.task_ids() == [old]


# -- bulk -----------------------------------------------------------------------------------


async def test_bulk_cancel_then_bulk_retry(workspace, ui_settings):
    store = workspace.store()
    ids = [workspace.submit(prompt=f"task {i}", name=f"out{i}")["id"] for i in range(3)]
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        await shown(app, pilot, lambda: sorted(app.table.shown_ids) == sorted(ids), "three rows")
        await pilot.press("space", "down", "space", "down", "space")
        assert app.table.marked == set(ids)
        await pilot.press("c")
        modal = await opened(app, pilot, ConfirmModal)
        assert "Cancel 3 task(s)?" in text_of(modal, "#body")
        await pilot.press("enter")  # "Yes" has the focus: enter confirms
        await until(lambda: all(store.read_task(i)["state"] == FAILED for i in ids), 10, what="all cancelled")
        await shown(app, pilot, lambda: not app.table.marked and all(app.table.row(i).state == FAILED for i in ids),
                    "marks cleared, rows failed")
        await pilot.press("home", "space", "down", "space", "down", "space")
        assert app.table.marked == set(ids)
        await pilot.press("r")
        modal = await opened(app, pilot, RetryModal)
        assert "Retry 3 failed task(s)" in text_of(modal, "#title")
        await pilot.press("ctrl+s")  # a plain retry: each keeps its own vendor/model/effort
        await closed(app, pilot, RetryModal)
        await until(lambda: len(store.task_ids()) == 6, 10, what="three new tasks")
    new = [store.read_task(i) for i in store.task_ids() if i not in ids]
    assert sorted(t["metadata"]["requeued_from"] for t in new) == sorted(ids)
    assert all(set(t["metadata"]) == {"requeued_from"} for t in new)
    assert all(t["state"] == QUEUED for t in new)


# -- quit -----------------------------------------------------------------------------------


async def test_quit_with_a_worker_running_asks_and_stop_ends_it(workspace, hang_settings, hang):
    task_id = workspace.submit(prompt="hangs")["id"]
    async with dashboard(workspace, hang_settings) as (app, pilot):
        pid = await running(app, pilot, task_id)
        await pilot.press("q")
        modal = await opened(app, pilot, QuitModal)
        assert "1 worker(s) are running." in text_of(modal, "#title")
        await pilot.press("escape")  # cancel: stay
        await closed(app, pilot, QuitModal)
        assert app.return_code is None and task_id in app.engine.running_ids() and pid_alive(pid)
        await pilot.press("q")
        await opened(app, pilot, QuitModal)
        await pilot.press("s")
        await until(lambda: app.return_code is not None, 10, what="the app exits")
    assert app.return_code == 0
    assert not pid_alive(pid)
    task = workspace.store().read_task(task_id)
    assert task["state"] == QUEUED and task["claim_owner"] is None
    reason = events(workspace, task_id, "released")[-1]["data"].get("reason") or ""
    assert "supervisor stop" in reason


async def test_quit_leaving_workers_to_finish_then_q_again_stops_them(workspace, hang_settings, hang):
    task_id = workspace.submit(prompt="hangs")["id"]
    async with dashboard(workspace, hang_settings) as (app, pilot):
        pid = await running(app, pilot, task_id)
        await pilot.press("q")
        await opened(app, pilot, QuitModal)
        await pilot.press("l")  # leave: claim nothing more, wait for the running worker
        await closed(app, pilot, QuitModal)
        assert app.return_code is None and pid_alive(pid)
        await pilot.press("q")  # asked again while waiting: stop the worker now
        assert not isinstance(app.screen, QuitModal)
        await until(lambda: app.return_code is not None, 10, what="the app exits")
    assert not pid_alive(pid)
    assert workspace.store().read_task(task_id)["state"] == QUEUED


async def test_quit_with_no_worker_running_exits_at_once(workspace, ui_settings):
    async with dashboard(workspace, ui_settings) as (app, pilot):
        await pilot.press("q")
        await until(lambda: app.return_code is not None, 10, what="the app exits")
        assert not isinstance(app.screen, QuitModal)
    assert app.return_code == 0
