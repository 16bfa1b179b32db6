"""The dashboard's messages view (`M`): recent messages live, the full body, and `c` to write one."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from textual.widgets import DataTable, Input, TextArea

from lanes_tui.core.sanitize import is_clean, one_line
from lanes_tui.storage.files.coordination import file_messages, file_presence
from lanes_tui.ui.screens.messages_screen import ComposeModal, MessagesScreen

from .conftest import dashboard, shown

HOSTILE = "\x1b[2J[bold red]x[/] \u202eevil\u202c \x9b31m [@click=app.quit]quit[/] \x1b]52;c;SGVsbG8=\x07"
SHOWN = "\\x1b[2J[bold red]x[/] \\u202eevil\\u202c \\x9b31m [@click=app.quit]quit[/] \\x1b]52;c;SGVsbG8=\\x07"


def _cells(screen: MessagesScreen) -> list[list[str]]:
    table = screen.query_one(DataTable)
    return [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]


def _body(screen: MessagesScreen) -> str:
    return str(screen.query_one("#message-body").visual)


async def _open(app, pilot) -> MessagesScreen:
    await pilot.press("M")
    screen = await shown(app, pilot, lambda: isinstance(app.screen, MessagesScreen) and app.screen, "messages view")
    await shown(app, pilot, lambda: screen.loaded.is_set(), "first listing")
    return screen


async def test_messages_listed_newest_selected_and_new_ones_appear_live(workspace, ui_settings):
    root = workspace.store().root
    box = file_messages(root)
    box.send("alice", "all", "\n\nfirst line\nsecond line")
    box.send("bob", "role:reviewer", "please look at src/app.py")
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        screen = await _open(app, pilot)
        await shown(app, pilot, lambda: len(_cells(screen)) == 2, "two messages")
        rows = _cells(screen)
        assert [r[0] for r in rows] == ["1", "2"] and rows[0][2:] == ["alice", "all", "first line \u2026"]
        assert rows[1][2:] == ["bob", "role:reviewer", "please look at src/app.py"]
        assert screen.query_one(DataTable).cursor_row == 1  # the newest is selected
        assert "untrusted text from bob:\nplease look at src/app.py" in _body(screen)
        # Moving up shows the older body, with its line breaks.
        await pilot.press("up")
        await shown(app, pilot, lambda: "untrusted text from alice:\n\n\nfirst line\nsecond line" in _body(screen),
                    "alice's full body")
        await pilot.press("down")

        # Another process sends through the core API: the view follows the folder.
        code = "import sys; from lanes_tui.storage.files.coordination import file_messages; file_messages(sys.argv[1]).send('carol', 'bob', 'from afar')"
        await asyncio.to_thread(subprocess.run, [sys.executable, "-c", code, str(root)], check=True)
        await shown(app, pilot, lambda: len(_cells(screen)) == 3, "the new message appears")
        assert _cells(screen)[2][2:] == ["carol", "bob", "from afar"]
        await shown(app, pilot, lambda: screen.query_one(DataTable).cursor_row == 2, "the newest selected")
        assert "untrusted text from carol:\nfrom afar" in _body(screen)
        # Reading here marks nothing read: bob's inbox still holds what reached him (not his own).
        assert [m.body for m in box.inbox("bob")] == ["\n\nfirst line\nsecond line", "from afar"]

        await pilot.press("escape")
        await shown(app, pilot, lambda: len(app.screen_stack) == 1, "escape closes")
        await _open(app, pilot)
        await pilot.press("M")
        await shown(app, pilot, lambda: len(app.screen_stack) == 1, "M closes")


async def test_compose_sends_as_the_operator_and_an_agent_receives_it(workspace, ui_settings):
    root = workspace.store().root
    file_presence(root).register("bob", name="Bob", role="builder")
    box = file_messages(root)
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        screen = await _open(app, pilot)
        await pilot.press("w")
        modal = await shown(app, pilot, lambda: isinstance(app.screen, ComposeModal) and app.screen, "compose")
        to = modal.query_one("#to", Input)
        assert to.value == "all"
        hint = str(modal.query_one("#hint").visual)
        assert "bob (name:Bob, role:builder) active" in hint
        # Type the address, then the body (tab moves on to it), then ctrl+s.
        to.focus()
        to.value = ""
        await pilot.press(*"bob")
        await pilot.press("tab")
        assert modal.query_one("#body", TextArea).has_focus
        await pilot.press(*"hi", "enter", *"ship")
        await pilot.press("ctrl+s")
        await shown(app, pilot, lambda: app.screen is screen, "the modal closed")
        sent = box.recent()
        assert [(m.sender, m.to, m.body) for m in sent] == [("operator:test", "bob", "hi\nship")]
        await shown(app, pilot, lambda: _cells(screen) and _cells(screen)[-1][2:] == ["operator:test", "bob", "hi \u2026"],
                    "the sent message listed")
        # The agent reads it through its inbox (core API).
        assert [(m.sender, m.body) for m in box.inbox("bob")] == [("operator:test", "hi\nship")]


async def test_a_bad_address_is_refused_in_the_modal_and_nothing_is_sent(workspace, ui_settings):
    box = file_messages(workspace.store().root)
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        screen = await _open(app, pilot)
        await pilot.press("w")
        modal = await shown(app, pilot, lambda: isinstance(app.screen, ComposeModal) and app.screen, "compose")
        modal.query_one("#to", Input).value = "role:Not A Role"
        await pilot.press(*"hello")
        await pilot.press("ctrl+s")
        error = modal.query_one("#error")
        await shown(app, pilot, lambda: error.display and "a role is" in str(error.visual), "the error in the modal")
        assert app.screen is modal and box.recent() == []
        # An empty body is refused the same way.
        modal.query_one("#to", Input).value = "all"
        modal.query_one("#body", TextArea).text = "   "
        await pilot.click("#send")
        await shown(app, pilot, lambda: "needs a body" in str(error.visual), "empty body refused")
        assert box.recent() == []
        await pilot.press("escape")
        await shown(app, pilot, lambda: app.screen is screen, "escape cancels")
        assert box.recent() == [] and _cells(screen) == []


async def test_hostile_bodies_and_senders_show_escaped_and_literal(workspace, ui_settings):
    box = file_messages(workspace.store().root)
    box.send("mallory", "all", f"{HOSTILE}\nline two {HOSTILE}")
    # A line planted in the log by hand: the core API would refuse this sender and address.
    planted = {"id": 2, "sender": HOSTILE, "to": "all\u202e", "body": "planted", "sent_at": "2026-01-01T00:00:00Z"}
    with (box.log.path / "messages.jsonl").open("a", encoding="utf-8") as log:
        log.write(json.dumps(planted) + "\n")
    async with dashboard(workspace, ui_settings, watch_only=True, size=(200, 40)) as (app, pilot):
        screen = await _open(app, pilot)
        await shown(app, pilot, lambda: len(_cells(screen)) == 2, "listed")
        table = screen.query_one(DataTable)
        cell = table.get_row_at(0)[4]
        assert cell.plain == SHOWN + " \u2026" and not cell.spans  # markup stays characters
        assert [c.plain for c in table.get_row_at(1)[2:4]] == [one_line(HOSTILE, 40), "all\\u202e"]
        assert f"from {SHOWN[:100]}" in _body(screen) and "untrusted text from \\x1b[2J" in _body(screen)
        table.move_cursor(row=0)
        await shown(app, pilot, lambda: f"untrusted text from mallory:\n{SHOWN}\nline two {SHOWN}" in _body(screen),
                    "mallory's body, escaped")
        svg = app.export_screenshot()
        assert is_clean(svg) and "\x1b" not in svg and "\u202e" not in svg
        assert app.is_running  # the [@click=app.quit] in the body did nothing
