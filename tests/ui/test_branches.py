"""The dashboard and a task's branch (issue 11): CHANGES on the row, the branch in the detail,
`d` for the diff (sanitised, coloured), `m` to merge after a confirmation that shows the target
and the conflict check. Real git repositories, stand-in agents, the real supervisor."""

from __future__ import annotations

from helpers.gitrepo import edit_settings, finished_tasks, git, make_repository, repository_state
from rich.text import Text
from textual.widgets import Button, RichLog, Static

from lanes_tui.gitwork import refs
from lanes_tui.ui.screens.confirm_modal import ConfirmModal
from lanes_tui.ui.screens.diff_screen import DiffScreen

from .conftest import dashboard, shown


def rendered(widget: Static) -> str:
    content = widget.content
    return content.plain if isinstance(content, Text) else str(content)


async def test_the_row_the_detail_and_the_diff_show_the_branch(workspace, standins, monkeypatch, tmp_path):
    make_repository(workspace)
    # An agent's hostile text in the file it writes: an escape sequence and markup.
    monkeypatch.setenv("STANDIN_WRITE", "app.py=print('\x1b[31mred[/] [bold]x')")
    settings = edit_settings(workspace, tmp_path)
    [task_id] = await finished_tasks(workspace, settings, "Change app.py")
    async with dashboard(workspace, settings, watch_only=True) as (app, pilot):
        await shown(app, pilot, lambda: app.table.row(task_id) and app.table.row(task_id).changes == "+1 -1",
                    "the CHANGES cell from the answer's git metadata")
        app.table.select(task_id)
        info = app.detail_pane.query_one("#detail-info", Static)
        await shown(app, pilot, lambda: "branch" in rendered(info), "the branch line in the detail")
        assert f"{refs.task_branch(task_id)}  from main @ " in rendered(info)
        assert "1 commit(s), 1 file(s) +1 -1  not merged" in rendered(info)
        await pilot.press("d")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.shown_lines
                             and app.screen, "the diff screen")
        lines = [strip.text for strip in screen.query_one("#diff-lines", RichLog).lines]
        assert "-print('hello')" in lines
        added = [line for line in lines if line.startswith("+print(")]
        assert added == [f"+print('\\x1b[31mred[/] [bold]x') {task_id}"]  # escaped, and never markup
        assert "\x1b" not in "".join(lines)
        await pilot.press("escape")
        await shown(app, pilot, lambda: not isinstance(app.screen, DiffScreen), "back to the table")


async def test_merge_asks_first_then_merges_and_a_conflict_is_refused(workspace, standins, monkeypatch, tmp_path):
    make_repository(workspace)
    monkeypatch.setenv("STANDIN_WRITE", "app.py=print('edited by')")
    settings = edit_settings(workspace, tmp_path)
    first, second = await finished_tasks(workspace, settings, "One", "Two")
    async with dashboard(workspace, settings, watch_only=True) as (app, pilot):
        await shown(app, pilot, lambda: all(app.table.row(t) and app.table.row(t).changes for t in (first, second)))
        app.table.select(first)
        await pilot.press("m")
        modal = await shown(app, pilot, lambda: isinstance(app.screen, ConfirmModal) and app.screen, "the dialog")
        body = rendered(modal.query_one("#body", Static))
        assert f"{refs.task_branch(first)}  \u2192  main" in body and "fast-forward" in body
        await pilot.press("y")
        await shown(app, pilot, lambda: app.table.row(first).changes == "merged", "merged on the row")
        assert git(workspace.root, "rev-parse", "main") == git(workspace.root, "rev-parse", refs.task_branch(first))

        before = repository_state(workspace.root)
        app.table.select(second)
        await pilot.press("m")
        modal = await shown(app, pilot, lambda: isinstance(app.screen, ConfirmModal) and app.screen, "the dialog")
        body = rendered(modal.query_one("#body", Static))
        assert "conflicts in 1 file(s):" in body and "app.py" in body and "Nothing would be changed" in body
        assert [b.id for b in modal.query(Button)] == ["no"]  # no way to merge it from here
        await pilot.press("y")  # not an answer that merges
        await shown(app, pilot, lambda: not isinstance(app.screen, ConfirmModal), "the dialog closed")
        assert repository_state(workspace.root) == before
        assert app.table.row(second).changes == "+1 -1"
