"""Issue 12, points 2 and 3: the transcript is read from the attempt logs, so it is there after a
restart and in watch-only mode, whole, and follows a worker of another process. Real store,
stand-in agents, the real App under Pilot."""

from __future__ import annotations

import json

from textual.geometry import Region

from lanes_tui.ui.screens.log_screen import LogScreen
from lanes_tui.ui.widgets.task_table import TaskTable

from .conftest import dashboard, shown


def log_lines(screen: LogScreen) -> list[str]:
    return list(screen.log_view.lines)


async def test_the_transcript_survives_a_restart_and_shows_in_watch_only_mode(workspace, ui_settings, monkeypatch):
    monkeypatch.setenv("STANDIN_ANSWER", "Plan:\n1. first\n2. second\n3. third")
    task_id = workspace.submit(prompt="plan it")["id"]
    async with dashboard(workspace, ui_settings) as (app, pilot):  # a supervising session runs it ...
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: table.row(task_id) and table.row(task_id).state == "completed", "completed")
    async with dashboard(workspace, ui_settings, watch_only=True, size=(160, 40)) as (app, pilot):  # ... a later one
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: table.selected_id == task_id, "selected")
        await pilot.press("l")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, LogScreen) and app.screen, "LogScreen")
        await shown(app, pilot, lambda: any("final result" in line for line in log_lines(screen)), "the transcript")
        text = "\n".join(log_lines(screen))
        assert "    Plan:\n    1. first\n    2. second\n    3. third" in text  # every line of it
        assert "I'll look at the project layout first." in text and "Bash: ls -la" in text
        # The table and the header say what the answer recorded, not what this session saw run.
        answer = workspace.store().read_response(task_id)["metadata"]
        await shown(app, pilot, lambda: app.engine.row(task_id).cost_usd is not None, "the answer's figures loaded")
        row = app.engine.row(task_id)
        assert row.vendor == answer["vendor"] == "claude"
        assert row.model == answer["model_used"] and row.model
        assert row.cost_usd == answer["cost_usd"] is not None
        totals = app.engine.totals()
        assert (totals.tokens_in, totals.tokens_out) == (answer["tokens_in"], answer["tokens_out"]) != (0, 0)
        # Per lane and per vendor, the same figures (issue 12, point 8: totals in the lanes panel).
        lane = next(lane for lane in app.engine.lanes() if lane.name == "default")
        assert (lane.completed, lane.failed, lane.tokens_in, lane.cost_usd) == (1, 0, answer["tokens_in"],
                                                                                answer["cost_usd"])
        vendors = app.engine.vendors()
        assert [(v.name, v.completed, v.tokens_out, v.cost_usd) for v in vendors] == [
            ("claude", 1, answer["tokens_out"], answer["cost_usd"])]
        size = app.lanes_panel.size
        panel = "\n".join(strip.text for strip in app.lanes_panel.render_lines(Region(0, 0, size.width, size.height)))
        assert "VENDOR" in panel and "claude" in panel  # beside the lanes: the terminal is wide enough


async def test_a_search_keeps_filtering_what_another_process_appends(workspace, ui_settings):
    task_id = workspace.submit(prompt="quiet")["id"]
    log_path = workspace.store().attempt_log_path(task_id, 1)
    log_path.parent.mkdir(parents=True)

    def say(*texts: str) -> None:  # a worker of another supervisor, writing its stream-json log
        with log_path.open("a") as out:
            for text in texts:
                out.write(json.dumps({"type": "assistant", "message": {"content": [{"type": "text", "text": text}]}})
                          + "\n")

    say("reading src/app.py", "Running tests", "editing src/App.py")
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: table.selected_id == task_id, "selected")
        await pilot.press("l")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, LogScreen) and app.screen, "LogScreen")
        await shown(app, pilot, lambda: len(log_lines(screen)) == 7, "a heading and three messages")
        await pilot.press("slash", *"app.py", "enter", "ampersand")  # & keeps only the matching lines
        await shown(app, pilot, lambda: screen.query_text == "app.py" and screen.only_matching, "search applied")
        assert log_lines(screen) == ["    reading src/app.py", "    editing src/App.py"]
        say("tests passed", "writing APP.PY notes")  # found by the once-a-second read: no engine event
        await shown(app, pilot, lambda: len(screen.lines) == 11, "new lines received")
        await shown(app, pilot, lambda: len(log_lines(screen)) == 3, "the new match shown")
        assert log_lines(screen)[-1] == "    writing APP.PY notes"
        assert "3 of 11 lines match 'app.py'" in str(screen.query_one("#log-header").visual)
        await pilot.press("escape")
        await shown(app, pilot, lambda: len(log_lines(screen)) == 11, "all lines back")


async def test_z_unfolds_and_folds_tool_results(workspace, ui_settings):
    task_id = workspace.submit(prompt="quiet")["id"]
    log_path = workspace.store().attempt_log_path(task_id, 1)
    log_path.parent.mkdir(parents=True)
    result = "\n".join(f"line {i}" for i in range(20))
    log_path.write_text(
        json.dumps({"type": "assistant", "message": {"content": [
            {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "a.py"}}]}}) + "\n"
        + json.dumps({"type": "user", "message": {"content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": result}]}}) + "\n")
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        await pilot.press("l")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, LogScreen) and app.screen, "LogScreen")
        await shown(app, pilot, lambda: any("more line(s)" in line for line in log_lines(screen)), "folded")
        assert "    line 19" not in log_lines(screen)
        await pilot.press("z")
        await shown(app, pilot, lambda: "    line 19" in log_lines(screen), "unfolded")
        assert not any("more line(s)" in line for line in log_lines(screen))
        await pilot.press("z")
        await shown(app, pilot, lambda: "    line 19" not in log_lines(screen), "folded again")


async def test_the_detail_pane_shows_the_transcript_on_disk_of_a_worker_this_session_never_ran(
        workspace, ui_settings):
    """Issue 12, point 3: "(no worker output in this session)" although the attempt logs hold it."""
    from textual.widgets import Log

    from lanes_tui.ui.widgets.detail_pane import DetailPane

    task_id = workspace.submit(prompt="quiet")["id"]
    log_path = workspace.store().attempt_log_path(task_id, 1)
    log_path.parent.mkdir(parents=True)
    with log_path.open("w") as out:  # another supervisor's worker, before this dashboard started
        for text in ("reading src/app.py", "running the tests"):
            out.write(json.dumps({"type": "assistant", "message": {"content": [{"type": "text", "text": text}]}})
                      + "\n")
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: table.selected_id == task_id, "selected")
        log = app.query_one(DetailPane).query_one("#detail-transcript", Log)
        await shown(app, pilot, lambda: any("running the tests" in line for line in log.lines), "the tail from disk")
        assert any("reading src/app.py" in line for line in log.lines)
        assert not any("no worker output" in line for line in log.lines)
