"""Issue 12, point 1: the answer is read in the dashboard, as Markdown, and the response file's
state is told truthfully; a task submitted from the form gets its answer file on completion.

Real store, stand-in agents, the real App under Pilot."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static
from textual.widgets._markdown import MarkdownBlock, MarkdownBulletList, MarkdownH1

from lanes_tui.engine.submitting import SubmitForm
from lanes_tui.ui.screens.task_screen import TaskScreen
from lanes_tui.ui.widgets.answer_view import AnswerView
from lanes_tui.ui.widgets.detail_pane import DetailPane
from lanes_tui.ui.widgets.task_table import TaskTable

from .conftest import dashboard, shown

ANSWER = ("# Review of app.py\n\n"
          "Plan:\n\n"
          "- first finding\n"
          "- second finding\n\n"
          "See [the docs](https://evil.example/steal?x=1) and [bold red]not markup[/].\n\n"
          "Escape: \x1b]52;c;SGVsbG8=\x07 done.\n")


def rendered(view: AnswerView) -> str:
    """The text of every block the Markdown widget built, as drawn (plain)."""
    return "\n".join(str(block.visual) for block in view.query(MarkdownBlock) if block.visual is not None)


def plain(static: Static) -> str:
    return str(static.visual)


async def test_a_completed_tasks_answer_is_shown_as_markdown_with_links_inert(workspace, ui_settings, monkeypatch):
    monkeypatch.setenv("STANDIN_ANSWER", ANSWER)
    task_id = workspace.submit(prompt="review app.py", name="review")["id"]
    async with dashboard(workspace, ui_settings) as (app, pilot):
        opened: list[str] = []
        monkeypatch.setattr(app, "open_url", lambda url, **kw: opened.append(url))
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: table.row(task_id) and table.row(task_id).state == "completed", "completed")
        pane = app.query_one(DetailPane)
        view = await shown(app, pilot,
                           lambda: pane.query("#detail-answer") and pane.query_one("#detail-answer", AnswerView),
                           "the answer view mounted")
        await shown(app, pilot, lambda: view.display and "second finding" in rendered(view), "the answer drawn")
        assert not app.query_one(DetailPane).query_one("#detail-transcript").display  # the answer takes its place
        assert len(view.query(MarkdownH1)) == 1 and len(view.query(MarkdownBulletList)) == 1  # rendered, not raw
        text = rendered(view)
        assert "Review of app.py" in text and "# Review" not in text
        # The link is shown with its target and is no link; markup-like text stays text.
        assert "[the docs](https://evil.example/steal?x=1)" in text
        assert "[bold red]not markup[/]" in text
        assert "\x1b" not in text and "\\x1b]52;c;SGVsbG8=\\x07" in text
        for block in view.query(MarkdownBlock):
            for span in block.visual.spans if hasattr(block.visual, "spans") else ():
                assert "link" not in str(span.style)
        assert opened == []
        # The response file: recorded in the store, but nobody wrote it yet; the detail says so.
        info = plain(app.query_one(DetailPane).query_one("#detail-info", Static))
        assert "answer recorded, file not written yet: `lanes-tui wait <id>` writes it" in info
        assert not (workspace.root / "review.md").exists()
        # The task screen shows it too.
        await pilot.press("enter")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, TaskScreen) and app.screen, "TaskScreen")
        task_view = screen.query_one("#task-answer", AnswerView)
        await shown(app, pilot, lambda: "first finding" in rendered(task_view), "the answer on the task screen")
        assert screen.query_one("#task-answer-title").display


async def test_the_response_file_state_follows_the_file(workspace, ui_settings, monkeypatch):
    monkeypatch.setenv("STANDIN_ANSWER", "the answer")
    task_id = workspace.submit(prompt="answer me", name="answer")["id"]
    async with dashboard(workspace, ui_settings) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: table.row(task_id) and table.row(task_id).state == "completed", "completed")
        detail = app.engine.task_detail(task_id)
        assert detail["answer"] == "the answer" and detail["response_file"] == "not written"
        result = workspace.run("wait", task_id, "--timeout", "5")
        assert result.returncode == 0, result.stderr
        assert app.engine.task_detail(task_id)["response_file"] == "written"
        (workspace.root / "answer.md").write_text("edited by hand\n")
        assert app.engine.task_detail(task_id)["response_file"] == "differs"


async def test_a_task_submitted_from_the_form_gets_its_answer_file(workspace, ui_settings, monkeypatch):
    monkeypatch.setenv("STANDIN_ANSWER", "## Done\n\nall good")
    async with dashboard(workspace, ui_settings) as (app, pilot):
        task = await app.engine.submit(SubmitForm(lane="default", prompt="check the build"))
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: table.row(task["id"]) and table.row(task["id"]).state == "completed",
                    "completed")
        target = Path(task["response_path"])
        assert target.read_text() == "## Done\n\nall good"
        assert app.engine.task_detail(task["id"])["response_file"] == "written"
