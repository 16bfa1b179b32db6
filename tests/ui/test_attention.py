"""Attention as a list: `a` jumps through the tasks that need it, `x` acknowledges a finished one
(an event on the task, so a restarted dashboard agrees), and a cancel or a retry is not a problem."""

from __future__ import annotations

from lanes_tui.engine.service import ACKNOWLEDGED
from lanes_tui.ui.widgets.task_table import TaskTable

from .conftest import dashboard, shown


def fail(workspace, store, prompt: str) -> str:
    task_id = workspace.submit(prompt=prompt, name=prompt)["id"]
    claimed = store.claim(task_id, owner="robot", lease_seconds=600)
    store.respond(task_id, body="it broke", reviewer="robot", claim_token=claimed["claim_token"], status="failed")
    return task_id


async def test_a_jumps_through_what_needs_attention_and_x_acknowledges_it_for_good(workspace, ui_settings):
    store = workspace.store()
    broken = [fail(workspace, store, f"broken {n}") for n in range(2)]
    fine = workspace.submit(prompt="fine", name="fine")["id"]
    cancelled = workspace.submit(prompt="not needed", name="cancelled")["id"]
    store.cancel(cancelled, by="operator:someone", reason="changed my mind")
    retried = fail(workspace, store, "retried")
    store.requeue(retried, by="operator:someone")
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: len(table.shown_ids) == 6, "six tasks")  # the retry's new task too
        # Only the two real failures count: not the cancel, not the failure already retried.
        await shown(app, pilot, lambda: app.engine.totals().attention == 2, "two need attention")
        assert not table.row(cancelled).attention and not table.row(retried).attention
        table.select(fine)
        await pilot.press("a")
        first = await shown(app, pilot, lambda: table.selected_id in broken and table.selected_id, "jumped")
        await pilot.press("a")
        second = await shown(app, pilot, lambda: table.selected_id in broken and table.selected_id != first
                             and table.selected_id, "jumped to the other")
        await pilot.press("x")
        await shown(app, pilot, lambda: app.engine.totals().attention == 1, "acknowledged")
        assert not table.row(second).attention and table.row(first).attention
        await pilot.press("a")
        await shown(app, pilot, lambda: table.selected_id == first, "only the other is left")
    last = store.last_event(second)
    assert last["type"] == ACKNOWLEDGED and last["data"]["by"] == "operator:test"
    # A new dashboard reads it from the task's events.
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        await shown(app, pilot, lambda: app.engine.totals().attention == 1, "still one after a restart")
        table = app.query_one(TaskTable)
        assert not table.row(second).attention
        table.select(fine)
        await pilot.press("x")  # nothing to acknowledge on a queued task: refused, nothing written
        await pilot.pause()
        assert store.last_event(fine)["type"] == "created"
