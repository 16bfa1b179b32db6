"""A crash of the UI leaves no worker running and no claim of ours without a reason (G9, G2)."""

from __future__ import annotations

import pytest
from helpers.supervisor import events_of, until

from lanes_tui.core import procinfo
from lanes_tui.core.model import QUEUED
from lanes_tui.engine import events as ev
from lanes_tui.ui.app import LanesApp

from .conftest import make_app, shown


class Boom(RuntimeError):
    pass


async def test_an_exception_in_the_app_stops_the_worker_and_releases_the_claim(workspace, ui_settings, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "hang")
    task_id = workspace.submit()["id"]
    started: list[ev.WorkerStarted] = []

    def explode(self: LanesApp) -> None:
        raise Boom("a bug in a key handler")

    monkeypatch.setattr(LanesApp, "action_help", explode)  # `?` now crashes the app
    app = make_app(workspace, ui_settings)
    app.engine.subscribe(lambda change: started.append(change.event)
                               if isinstance(change.event, ev.WorkerStarted) else None)
    with pytest.raises(Boom):
        async with app.run_test(size=(100, 30)) as pilot:
            await shown(app, pilot, lambda: started, "the worker started")
            await until(lambda: task_id in app.engine.supervisor.registry.record.workers)
            await pilot.press("question_mark")
            await pilot.pause()
    app.engine.abandon_now("dashboard exited unexpectedly; claim released")  # open_dashboard's finally
    pid = started[0].pid
    await until(lambda: not procinfo.group_alive(pid), 10, what="worker group gone")
    store = workspace.store()
    assert store.read_task(task_id)["state"] == QUEUED
    reasons = [e["data"].get("reason") for e in events_of(store, task_id, "released")]
    assert reasons and all(reasons), reasons
    assert not app.engine.supervisor.registry.holds_lock


async def test_a_failing_background_load_is_shown_not_swallowed(workspace, ui_settings, monkeypatch):
    """Issue 10: errors in Textual workers were swallowed (exit_on_error=False, no handler)."""
    from lanes_tui.engine.service import Engine

    task_id = workspace.submit()["id"]

    def broken(self, task_id, **options):
        raise Boom("the detail could not be read")

    monkeypatch.setattr(Engine, "task_detail", broken)
    async with make_app(workspace, ui_settings, watch_only=True).run_test(size=(100, 30)) as pilot:
        app = pilot.app
        await shown(app, pilot, lambda: app.worker_errors, "the error recorded")
        assert app.worker_errors[0] == "detail: Boom: the detail could not be read"
        messages = [str(n.message) for n in app._notifications]
        assert "internal error in detail: Boom: the detail could not be read" in messages
        assert app.is_running and app.table.row(task_id) is not None  # the rest goes on


async def test_a_board_that_fails_to_start_ends_the_dashboard_with_exit_70(workspace, ui_settings, monkeypatch):
    from lanes_tui.engine.service import Engine

    async def broken(self, on_loaded=None):
        raise Boom("the index could not be built")

    monkeypatch.setattr(Engine, "start", broken)
    app = make_app(workspace, ui_settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await shown(app, pilot, lambda: app.worker_errors, "the error recorded", timeout=20)
        await pilot.pause()
    assert app.return_value == 70
    assert app.worker_errors == ["engine: Boom: the index could not be built"]
