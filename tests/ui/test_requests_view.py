"""`i`: what waits for a person, answered from the keyboard (issue 13). Real store, watch-only
dashboard under Pilot; the requests written as `lanes-tui mcp` writes them, every key's answer
read back from disk."""

from __future__ import annotations

import os

import pytest
from textual.widgets import DataTable, Input, Static

from lanes_tui.core.requests import (
    ALLOW,
    ALLOW_TOOL,
    ANSWERED,
    BLOCKER,
    DENY,
    DENY_STOP,
    PERMISSION,
    QUESTION,
)
from lanes_tui.ui.app import LanesApp
from lanes_tui.ui.screens.requests_screen import RequestsScreen

from .conftest import dashboard, shown

HOSTILE = "Deploy \x1b[2J\x1b]0;pwned\x07 [bold]now[/bold]\u202e?"


def _claimed(workspace, name="t"):
    task = workspace.submit(name=name)
    workspace.store().claim(task["id"], owner="w", lease_seconds=600)
    return task["id"]


def _open(workspace, task_id, kind, text, **extra):
    return workspace.store().requests().open(kind=kind, agent=f"w/{task_id}", text=text, task_id=task_id,
                                             lane="default", timeout_seconds=600, pid=os.getpid(), **extra)


def _ids(screen):
    table = screen.query_one(DataTable)
    return [table.get_row_at(i)[0].plain for i in range(table.row_count)]


def _body(screen) -> str:
    return screen.query_one("#request-body", Static).content.plain


async def _requests_screen(app, pilot):
    await pilot.press("i")
    screen = await shown(app, pilot, lambda: isinstance(app.screen, RequestsScreen) and app.screen, "requests view")
    await shown(app, pilot, lambda: screen.loaded.is_set(), "first listing")
    return screen


async def test_a_question_and_a_blocker_are_answered_with_an_option_and_with_words(workspace, ui_settings):
    asking, blocked = _claimed(workspace, "a"), _claimed(workspace, "b")
    question = _open(workspace, asking, QUESTION, "Which database?", options=["postgres", "sqlite"])
    blocker = _open(workspace, blocked, BLOCKER, "no access to the staging key")
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        await shown(app, pilot, lambda: app.engine.totals().needs_input == 2, "counted")
        assert " 2 need input (i) " in app.query_one("HeaderBar").content.plain
        assert app.table.row(asking).asking == 1 and app.table.row(blocked).asking == 0
        screen = await _requests_screen(app, pilot)
        assert _ids(screen) == [question.id, blocker.id]  # oldest first
        assert "1) postgres" in _body(screen) and "2) sqlite" in _body(screen)
        await pilot.press("3")  # no such option: nothing is answered
        assert workspace.store().requests().get(question.id).state != ANSWERED
        await pilot.press("2")
        await shown(app, pilot, lambda: _ids(screen) == [blocker.id], "the question left the list")
        answered = workspace.store().requests().get(question.id)
        assert (answered.state, answered.reply, answered.answered_by) == (ANSWERED, "sqlite", "operator:test")
        await pilot.press("r")
        box = screen.query_one("#request-reply", Input)
        await shown(app, pilot, lambda: box.has_focus, "the answer box")
        await pilot.press(*"use mine")
        await pilot.press("enter")
        await shown(app, pilot, lambda: _ids(screen) == [], "the blocker answered")
        assert workspace.store().requests().get(blocker.id).reply == "use mine"
        assert app.engine.totals().needs_input == 0
        await pilot.press("escape")
        await shown(app, pilot, lambda: len(app.screen_stack) == 1, "back to the dashboard")


@pytest.mark.parametrize("key,decision,words", [("a", ALLOW, ""), ("A", ALLOW_TOOL, ""),
                                                ("d", DENY, "not on main"), ("D", DENY_STOP, "")])
async def test_every_permission_key(workspace, ui_settings, key, decision, words):
    task_id = _claimed(workspace)
    request = _open(workspace, task_id, PERMISSION, "edit app.py", tool="Edit",
                    tool_input={"file_path": "app.py", "old_string": "x = 1\n", "new_string": "x = 2\n"})
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        screen = await _requests_screen(app, pilot)
        await shown(app, pilot, lambda: _ids(screen) == [request.id], "listed")
        assert "-x = 1" in _body(screen) and "+x = 2" in _body(screen)  # an edit shows as its diff
        await pilot.press("1")  # a question's key does nothing here
        await pilot.press("r")
        assert not screen.query_one("#request-reply", Input).has_focus
        await pilot.press(key)
        if words:
            await pilot.press(*words)
            await pilot.press("enter")
        await shown(app, pilot, lambda: _ids(screen) == [], "answered")
    final = workspace.store().requests().get(request.id)
    assert (final.state, final.decision, final.reply) == (ANSWERED, decision, words)


async def test_hostile_text_is_shown_escaped_and_a_new_request_rings(workspace, ui_settings, monkeypatch):
    task_id = _claimed(workspace)
    bells = []
    monkeypatch.setattr(LanesApp, "bell", lambda self: bells.append(1))
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        request = _open(workspace, task_id, PERMISSION, HOSTILE, tool="Bash\x1b[31m",
                        tool_input={"command": "rm -rf \x1b[2J /"})
        await shown(app, pilot, lambda: any("needs input" in str(n.message) for n in app._notifications), "toast")
        assert bells
        assert app.table.row(task_id).reason.startswith(f"needs input: permission {request.id}: Deploy \\x1b[2J")
        screen = await _requests_screen(app, pilot)
        body = _body(screen)
        assert "\x1b" not in body and "\u202e" not in body
        assert "\\x1b[2J" in body and "[bold]now[/bold]" in body  # markup stays literal text
        assert "Bash\\x1b[31m" in body and "rm -rf \\u001b[2J /" in body  # JSON escapes control bytes
