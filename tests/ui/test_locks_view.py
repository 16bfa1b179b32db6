"""The dashboard's locks view: live list of advisory locks; `b` breaks the selected one after a confirm."""

from __future__ import annotations

import json

from lanes_tui.core.locks import lock_key_for_name, lock_key_for_path
from lanes_tui.storage.files.coordination import file_locks
from lanes_tui.ui.screens.locks_screen import LockBreakModal, LocksScreen

from .conftest import dashboard, shown


def _cells(screen: LocksScreen) -> list[list[str]]:
    from textual.widgets import DataTable

    table = screen.query_one(DataTable)
    return [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_locks_show_live_and_b_breaks_the_selected_one(workspace, ui_settings):
    table = file_locks(workspace.store().root)
    key = lock_key_for_path("src/app.py", workspace_root=workspace.root, cwd=workspace.root)
    held = table.acquire(key, owner="alice", ttl_seconds=600, reason="parser refactor")
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        await pilot.press("L")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, LocksScreen) and app.screen, "locks view")
        await shown(app, pilot, lambda: screen.loaded.is_set() and _cells(screen), "first listing")
        row = _cells(screen)[0]
        assert row[:3] == ["src/app.py", "alice", "parser refactor"] and row[4] in ("9m", "10m") and row[6] == ""
        # Another agent takes a lock elsewhere: the view follows the folder.
        table.acquire(lock_key_for_name("deploy"), owner="bob[bold]\u202e", ttl_seconds=60)
        await shown(app, pilot, lambda: len(_cells(screen)) == 2, "second lock shown")
        assert any(r[1] == "bob[bold]\\u202e" for r in _cells(screen))
        # Select alice's lock and break it.
        screen.query_one("DataTable").move_cursor(row=[r[0] for r in _cells(screen)].index("src/app.py"))
        await pilot.press("b")
        modal = await shown(app, pilot, lambda: isinstance(app.screen, LockBreakModal) and app.screen, "confirm")
        assert modal.state.record.owner == "alice"
        await pilot.press("enter")
        await shown(app, pilot, lambda: table.get(key) is None, "lock gone on disk")
        await shown(app, pilot, lambda: [r[0] for r in _cells(screen)] == ["name deploy"], "view updated")
    events = [json.loads(line) for line in (table.records.path / "events.jsonl").read_text().splitlines()]
    broken = [e for e in events if e["type"] == "broken"]
    assert broken == [{**broken[0], "key": key, "owner": "alice", "token": held.token,
                       "by": "operator:test", "reason": "broken from the dashboard"}]


async def test_escape_in_the_confirm_breaks_nothing_and_an_empty_reason_is_refused(workspace, ui_settings):
    table = file_locks(workspace.store().root)
    key = lock_key_for_name("db")
    table.acquire(key, owner="alice", ttl_seconds=600)
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        await pilot.press("L")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, LocksScreen) and app.screen, "locks view")
        await shown(app, pilot, lambda: _cells(screen), "listing")
        await pilot.press("b")
        modal = await shown(app, pilot, lambda: isinstance(app.screen, LockBreakModal) and app.screen, "confirm")
        modal.query_one("#reason").value = ""
        await pilot.press("enter")
        assert isinstance(app.screen, LockBreakModal) and table.get(key) is not None
        await pilot.press("escape")
        await shown(app, pilot, lambda: isinstance(app.screen, LocksScreen), "back to the list")
        assert table.get(key).owner == "alice"
        await pilot.press("escape")
        await shown(app, pilot, lambda: len(app.screen_stack) == 1, "back to the main screen")
