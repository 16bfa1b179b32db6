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
        totals = app.engine.totals()
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


async def test_t_switches_theme_and_a_broken_theme_file_is_reported_and_skipped(workspace, ui_settings, tmp_path):
    from lanes_tui.ui.themes import BUILTIN_THEME_DIR

    user_dir = tmp_path / "themes"
    user_dir.mkdir()
    (user_dir / "broken.yaml").write_text("name: broken\ndark: [not, a, bool]\nprimary: '#ffffff'\n")
    (user_dir / "mine.yaml").write_text("name: mine\ndark: false\nprimary: '#224488'\n")
    async with dashboard(workspace, ui_settings, watch_only=True, theme_dirs=[BUILTIN_THEME_DIR, user_dir]) as (app, pilot):
        problems = [str(n.message) for n in app._notifications if "theme skipped" in str(n.message)]
        assert len(problems) == 1 and "broken.yaml" in problems[0]
        assert "mine" in app.available_themes and "broken" not in app.available_themes
        assert app.theme == "lanes-dark"
        await pilot.press("t")
        await shown(app, pilot, lambda: app.screen.__class__.__name__ == "CommandPalette", "the theme picker")
        await pilot.press(*"lanes-light", "enter")
        await shown(app, pilot, lambda: app.theme == "lanes-light", "light theme chosen")
