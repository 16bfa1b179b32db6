"""What the dashboard shows of how a run went: denied tool calls, API retries, trusted lanes.

Stand-in workers report them in the vendors' real formats (tests/standin);
the real CLIs produce the same lines in tests/realcli.
"""

from __future__ import annotations

from lanes_tui.ui.widgets.detail_pane import DetailPane
from lanes_tui.ui.widgets.lanes_panel import lanes_table
from lanes_tui.ui.widgets.task_table import TaskTable

from .conftest import dashboard, make_settings, shown


def pane_text(app) -> str:
    return str(app.query_one("#detail-info").render())


async def test_a_run_with_denied_tool_calls_is_completed_flagged_and_explained(workspace, ui_settings, monkeypatch):
    monkeypatch.setenv("STANDIN_DENY", "Write:/repo/src/\x1b]0;pwned\x07app.py")
    task = workspace.submit(prompt="edit it")["id"]
    async with dashboard(workspace, ui_settings) as (app, pilot):
        table = app.query_one(TaskTable)
        row = await shown(app, pilot, lambda: (r := table.row(task)) and r.state == "completed" and r, "completed")
        assert row.attention and row.reason.startswith("1 tool call(s) denied by the read-only preset: Write: ")
        assert app.engine.totals().attention == 1
        pane = app.query_one(DetailPane)
        await shown(app, pilot, lambda: pane.task_id == task and "denied (read-only preset)" in pane_text(app),
                    "the denial in the detail")
        text = pane_text(app)
        # Agent-written target: shown with its escape sequence made visible, never sent to the terminal.
        assert "Write: /repo/src/\\x1b]0;pwned\\x07app.py" in text and "\x1b" not in text
        lines = [line.text for line in app.engine.transcript(task)]
        assert any(line.startswith("needs attention: 1 tool call(s) denied") for line in lines)


async def test_api_retries_show_live_on_the_task(workspace, ui_settings, monkeypatch):
    monkeypatch.setenv("STANDIN_API_RETRIES", "2")
    task = workspace.submit(prompt="retry me", metadata={"required_vendor": "codex"})["id"]
    async with dashboard(workspace, ui_settings) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: (r := table.row(task)) and r.state == "completed", "completed")
        lines = [line.text for line in app.engine.transcript(task)]
        assert "API 429, retry 1/5" in lines and "API 429, retry 2/5" in lines


async def test_trusted_and_edit_lanes_are_marked(workspace, standins):
    settings = make_settings(workspace, lanes={"yolo": {"permissions": "trusted"}, "dev": {"permissions": "edit"}})
    for lane in ("yolo", "dev", "plain"):
        workspace.submit(lane=lane, name=lane)
    async with dashboard(workspace, settings, watch_only=True) as (app, pilot):
        lanes = {lane.name: lane for lane in app.engine.lanes()}
        assert (lanes["yolo"].permissions, lanes["dev"].permissions, lanes["plain"].permissions) == (
            "trusted", "edit", "read-only")
        rendered = lanes_table(list(lanes.values()), app.engine.store.now(), None)
        cells = {str(row[0]).strip(): str(row[-1]) for row in zip(*(c._cells for c in rendered.columns))}
        assert cells["yolo"] == "TRUSTED: no sandbox" and cells["dev"] == "edit" and cells["plain"] == ""
        table = app.query_one(TaskTable)
        yolo = next(i for i in table.shown_ids if table.row(i).lane == "yolo")
        assert table.row(yolo).permissions == "trusted"
