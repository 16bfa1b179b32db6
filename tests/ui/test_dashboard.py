"""The main screen against a real store and stand-in workers: rows, selection, header, detail."""

from __future__ import annotations

from lanes_tui.ui.widgets.detail_pane import DetailPane
from lanes_tui.ui.widgets.task_table import TaskTable

from .conftest import dashboard, shown


async def test_tasks_flow_through_the_table_and_finish(workspace, ui_settings):
    ids = [workspace.submit(prompt=f"task {i}", name=f"out{i}")["id"] for i in range(3)]
    async with dashboard(workspace, ui_settings) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: all(table.row(i) and table.row(i).state == "completed" for i in ids),
                    "all three completed in the table")
        assert sorted(table.shown_ids) == sorted(ids)
        totals = app.board.totals()
        assert totals.counts["completed"] == 3 and totals.tokens_in > 0
    store = workspace.store()
    for task_id in ids:
        assert store.read_response(task_id)["body"].strip()


async def test_selection_follows_the_task_when_rows_re_sort(workspace, ui_settings):
    store = workspace.store()
    first = workspace.submit(lane="slow", prompt="first", name="a")["id"]
    second = workspace.submit(lane="slow", prompt="second", name="b")["id"]
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: table.shown_ids == [first, second], "queued, oldest first")
        await pilot.press("down")
        assert table.selected_id == second
        # `second` is claimed elsewhere: claimed rows sort first, and the cursor goes with it.
        store.claim(second, owner="someone-else", lease_seconds=60)
        await shown(app, pilot, lambda: table.shown_ids == [second, first], "claimed row moved up")
        assert table.selected_id == second and table.cursor == 0
        pane = app.query_one(DetailPane)
        assert pane.task_id == second
