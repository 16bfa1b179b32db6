"""Issue 12, point 5: every screen has its own keys; a dashboard key never acts on the table
hidden under another screen, and the footer offers only what works there."""

from __future__ import annotations

from lanes_tui.ui.screens.confirm_modal import ConfirmModal
from lanes_tui.ui.screens.locks_screen import LocksScreen
from lanes_tui.ui.screens.log_screen import LogScreen
from lanes_tui.ui.screens.submit_modal import SubmitModal
from lanes_tui.ui.screens.task_screen import TaskScreen
from lanes_tui.ui.widgets.task_table import TaskTable

from .conftest import dashboard, shown


def footer_keys(app) -> set[str]:
    """The keys the active screen's footer offers (what Textual considers active bindings)."""
    return {binding.key for _, binding, enabled, _ in app.active_bindings.values() if enabled and binding.show}


async def test_task_keys_do_nothing_on_inner_screens(workspace, ui_settings):
    task_id = workspace.submit(lane="held", prompt="wait here")["id"]
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: table.selected_id == task_id, "selected")
        assert {"c", "b", "n", "slash", "l"} <= footer_keys(app)
        await pilot.press("L")
        await shown(app, pilot, lambda: isinstance(app.screen, LocksScreen), "the locks screen")
        await pilot.press("c", "n", "r", "p", "space")
        await pilot.pause()
        assert isinstance(app.screen, LocksScreen)  # no cancel confirmation, no submit form
        assert workspace.store().read_task(task_id)["state"] == "queued"
        assert not {"c", "n", "r", "slash", "l"} & footer_keys(app)
        await pilot.press("escape")
        await shown(app, pilot, lambda: len(app.screen_stack) == 1, "back on the dashboard")

        # The task screen: no filter, no cancel; `l` opens this task's transcript.
        await pilot.press("enter")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, TaskScreen) and app.screen, "TaskScreen")
        keys = footer_keys(app)
        assert "l" in keys and not {"slash", "c", "b", "n"} & keys
        await pilot.press("c")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmModal)
        await pilot.press("l")
        log = await shown(app, pilot, lambda: isinstance(app.screen, LogScreen) and app.screen, "LogScreen")
        assert log.task_id == screen.task_id == task_id
        # In the log, `n` is not the submit form.
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, SubmitModal) and app.screen is log
