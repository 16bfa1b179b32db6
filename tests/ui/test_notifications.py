"""Toasts, the bell and the notify hook: a task fails, needs attention, or a lane drains."""

from __future__ import annotations

import sys

from helpers.supervisor import make_settings, wait_sync

from lanes_tui.engine.notify_hook import NotifyHook
from lanes_tui.ui.app import LanesApp

from .conftest import dashboard, shown


def _toasts(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_a_failed_task_rings_toasts_and_runs_the_hook(workspace, standins, monkeypatch, tmp_path):
    monkeypatch.setenv("STANDIN_MODE", "error_result")
    settings = make_settings(workspace, lane={"max_attempts": 1})
    out = tmp_path / "hook.log"
    script = "import sys; open(sys.argv[1], 'a').write(' | '.join(sys.argv[2:]) + '\\n')"
    hook = NotifyHook((sys.executable, "-c", script, str(out)))
    task_id = workspace.submit(prompt="will fail")["id"]
    bells = []
    monkeypatch.setattr(LanesApp, "bell", lambda self: bells.append(1))
    async with dashboard(workspace, settings, notify=hook) as (app, pilot):
        await shown(app, pilot, lambda: any("task failed" in t for t in _toasts(app)), "failure toast")
        assert any(task_id in t for t in _toasts(app)) and bells
        await shown(app, pilot, lambda: app.engine.totals().attention == 1, "counted as needing attention")
    wait_sync(lambda: out.exists() and "error | task failed" in out.read_text(), 10)
    assert task_id in out.read_text()


async def test_a_missing_vendor_needs_attention_and_says_why(workspace, standins, monkeypatch):
    task_id = workspace.submit(metadata={"required_vendor": "codex"})["id"]
    (standins / "codex").unlink()
    async with dashboard(workspace, make_settings(workspace)) as (app, pilot):
        await shown(app, pilot, lambda: any("needs attention" in t and task_id in t for t in _toasts(app)),
                    "attention toast")
        row = app.engine.row(task_id)
        assert row.attention and row.state == "queued" and "codex" in row.reason


async def test_a_lane_that_drains_is_announced(workspace, ui_settings):
    workspace.submit(lane="docs", name="a")
    async with dashboard(workspace, ui_settings) as (app, pilot):
        await shown(app, pilot, lambda: any(t == "lane docs drained" for t in _toasts(app)), "drain toast")
