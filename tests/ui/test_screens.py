"""The task, log and help screens against a real store and stand-in workers (Pilot, no sleeps)."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Log, Static

from lanes_tui.ui.app import HELP_TEXT, KEYS
from lanes_tui.ui.screens.help_screen import HelpScreen
from lanes_tui.ui.screens.log_screen import LogScreen
from lanes_tui.ui.screens.task_screen import TaskScreen
from lanes_tui.ui.widgets.detail_pane import DetailPane
from lanes_tui.ui.widgets.task_table import TaskTable

from .conftest import dashboard, shown
from .test_help_screen import help_rows

PROMPT = "\n".join(f"step {i}: check part {i} of the build" for i in range(1, 31))


def plain(static: Static) -> str:
    """What a Static shows (its Text content), as a plain string."""
    return str(static.visual)


def log_lines(screen: LogScreen) -> list[str]:
    return list(screen.log_view.lines)


async def test_enter_opens_the_full_task_and_escape_closes_it(workspace, ui_settings):
    task_id = workspace.submit(prompt=PROMPT, name="long")["id"]
    async with dashboard(workspace, ui_settings) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: table.row(task_id) and table.row(task_id).state == "completed", "completed")
        # The detail pane shows the first lines only ...
        pane = app.query_one(DetailPane).query_one("#detail-info", Static)
        await shown(app, pilot, lambda: "(+26 lines)" in plain(pane), "the detail pane cut the prompt")
        assert "step 4:" in plain(pane) and "step 5:" not in plain(pane)
        # ... the task screen every line, every event, and the transcript.
        await pilot.press("enter")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, TaskScreen) and app.screen, "TaskScreen")
        assert screen.task_id == task_id
        await shown(app, pilot, lambda: screen.detail is not None, "detail loaded")
        info = plain(screen.query_one("#task-info", Static))
        for i in range(1, 31):
            assert f"step {i}: check part {i} of the build" in info
        assert "lines)" not in info  # nothing cut
        events = plain(screen.query_one("#task-events", Static))
        assert "response" in info and "created" in events  # the events, oldest included, after the answer
        transcript = screen.query_one("#task-transcript", Log)
        await shown(app, pilot, lambda: any("final result" in line for line in transcript.lines), "the transcript")
        assert transcript.lines[0] == "\u2500\u2500 attempt 1 \u2500\u2500 attempt-1.log"
        await pilot.press("escape")
        await shown(app, pilot, lambda: not isinstance(app.screen, TaskScreen), "TaskScreen closed")
        assert app.screen is app.screen_stack[0] and len(app.screen_stack) == 1
        assert screen._on_engine_changed not in app.engine._subscribers  # unsubscribed on the way out


async def test_task_screen_reloads_when_the_task_changes(workspace, ui_settings):
    task_id = workspace.submit(lane="held", prompt="wait here")["id"]
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: table.selected_id == task_id, "selected")
        await pilot.press("enter")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, TaskScreen) and app.screen, "TaskScreen")
        await shown(app, pilot, lambda: screen.detail is not None, "detail loaded")
        assert "queued" in plain(screen.query_one("#task-info", Static))
        # Another client claims it: the change feed reports it and the screen reads the task again.
        workspace.store().claim(task_id, owner="reviewer-elsewhere", lease_seconds=600)
        await shown(app, pilot, lambda: "owner reviewer-elsewhere" in plain(screen.query_one("#task-info", Static))
                    and "claimed" in str(screen.detail["task"].get("state")), "claim shown")
        assert "claimed" in plain(screen.query_one("#task-info", Static))


async def test_log_screen_follows_a_running_worker_then_searches(workspace, ui_settings, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "slow")
    monkeypatch.setenv("STANDIN_DELAY", "0.05")
    async with dashboard(workspace, ui_settings) as (app, pilot):
        # The lane is paused before the task exists, so the log is open before the worker starts
        # and every line below arrives while the screen is shown.
        app.engine.pause_lane("live")
        task_id = workspace.submit(lane="live", prompt="follow me")["id"]
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: table.selected_id == task_id, "the queued task selected")
        await pilot.press("l")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, LogScreen) and app.screen, "LogScreen")
        await shown(app, pilot, lambda: screen.reads > 0, "the first read")
        assert screen.task_id == task_id and log_lines(screen) == []
        assert "no attempt log yet" in plain(screen.query_one("#log-header", Static))

        seen: list[int] = []

        def done() -> bool:
            seen.append(len(log_lines(screen)))
            return any("final result" in line for line in log_lines(screen))

        assert app.engine.pause_lane("live") is False  # resumed: the worker starts now
        await shown(app, pilot, done, "the worker's lines, up to its final result")
        lines = log_lines(screen)
        assert lines[0] == "\u2500\u2500 attempt 1 \u2500\u2500 attempt-1.log"
        assert any("I'll look at the project layout first." in line for line in lines)
        assert any("Bash: ls -la" in line for line in lines)
        assert list(screen.lines) == lines  # unfiltered: the Log shows every line received
        assert seen[0] == 0 and seen[-1] == len(lines)

        # Search, as in less: enter goes to the first match (case-insensitive), n and N on.
        await pilot.press("slash")
        assert screen.search_input.has_focus
        await pilot.press(*"BASH", "enter")
        await shown(app, pilot, lambda: screen.query_text == "BASH", "search applied")
        at = [i for i, line in enumerate(lines) if "bash" in line.lower()]
        matching = [lines[i] for i in at]
        assert len(at) >= 2 and log_lines(screen) == lines  # every line still shown
        assert screen.current_match == at[0]
        header = plain(screen.query_one("#log-header", Static))
        assert f"match 1 of {len(at)} (line {at[0] + 1}) 'BASH'" in header
        await pilot.press("n")
        await shown(app, pilot, lambda: screen.current_match == at[1], "n: the next match")
        assert f"match 2 of {len(at)}" in plain(screen.query_one("#log-header", Static))
        view = screen.log_view  # the match near the top of the view, as far as the log can scroll
        assert round(view.scroll_y) == min(max(0, at[1] - 2), round(view.max_scroll_y))
        await pilot.press("N", "N")  # back to the first, then round to the last
        await shown(app, pilot, lambda: screen.current_match == at[-1], "N wraps round")
        # & shows only the matching lines, with a count in the header.
        await pilot.press("ampersand")
        await shown(app, pilot, lambda: log_lines(screen) == matching, "only the matching lines")
        header = plain(screen.query_one("#log-header", Static))
        assert f"{len(matching)} of {len(lines)} lines match 'BASH'" in header
        # escape clears the search first ...
        await pilot.press("escape")
        await shown(app, pilot, lambda: screen.query_text == "", "search cleared")
        assert log_lines(screen) == lines and not screen.search_input.display
        assert isinstance(app.screen, LogScreen)
        # ... then closes the screen.
        await pilot.press("escape")
        await shown(app, pilot, lambda: len(app.screen_stack) == 1, "LogScreen closed")
        assert screen._on_engine_changed not in app.engine._subscribers


async def test_help_lists_every_action_with_its_key(workspace, ui_settings):
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        for closing_key in ("escape", "question_mark", "q"):
            await pilot.press("question_mark")
            screen = await shown(app, pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen, "HelpScreen")
            rows = help_rows(screen)
            expected = [(app.get_key_display(Binding(key, action)), HELP_TEXT[binding_id])
                        for binding_id, key, _label, action, _show in KEYS]
            assert rows == expected
            assert ("/", HELP_TEXT["filter"]) in rows and ("?", HELP_TEXT["help"]) in rows
            footer = help_rows(screen, "help-more")
            assert footer[0][0] == "ctrl+p" and "lane:NAME state:STATE" in footer[1][1]
            await pilot.press(closing_key)
            await shown(app, pilot, lambda: len(app.screen_stack) == 1, f"{closing_key} closes help")
            assert app.is_running  # q closed the help, it did not quit the app
