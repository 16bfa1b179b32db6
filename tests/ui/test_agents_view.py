"""The dashboard's agents view (`A`): who is registered, their status, followed live."""

from __future__ import annotations

import os
import subprocess

from textual.widgets import DataTable

from lanes_tui.storage.files.coordination import file_presence
from lanes_tui.ui.screens.agents_screen import AgentsScreen

from .conftest import dashboard, shown


def _cells(screen: AgentsScreen) -> list[list[str]]:
    table = screen.query_one(DataTable)
    return [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]


def _by_id(screen: AgentsScreen) -> dict[str, list[str]]:
    return {row[0]: row for row in _cells(screen)}


def _dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: the pid names no process of ours (pid + start time guard reuse)
    return gone.pid


async def test_agents_show_with_status_and_new_ones_appear_live(workspace, ui_settings):
    presence = file_presence(workspace.store().root)
    presence.register("alice", name="Alice", role="reviewer", pid=os.getpid(), task_id="20261024T155119250137Z-alpha-dd38d9525789")
    presence.heartbeat("alice", note="reading the parser")
    presence.register("ghost", pid=_dead_pid())
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        await pilot.press("A")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, AgentsScreen) and app.screen, "agents view")
        await shown(app, pilot, lambda: screen.loaded.is_set() and len(_cells(screen)) == 2, "first listing")
        rows = _cells(screen)
        # Active before offline; the task id is shortened like the task table's.
        assert [r[0] for r in rows] == ["alice", "ghost"]
        alice, ghost = rows
        assert alice[1:4] == ["Alice", "reviewer", "active"] and alice[4].endswith("s")
        assert alice[5] == "155119.250\u20265789" and alice[6] == "reading the parser"
        assert ghost[1:4] == ["ghost", "", "offline"] and ghost[5] == ""
        assert "2 registered, 1 active, 0 idle, 1 offline" in str(screen.query_one("#agents-title").visual)

        # An agent joins while the view is open: the folder feed shows it without a key press.
        presence.register("bob", role="builder")
        await shown(app, pilot, lambda: "bob" in _by_id(screen), "bob appears")
        assert _by_id(screen)["bob"][2:4] == ["builder", "active"]
        assert [r[0] for r in _cells(screen)] == ["alice", "bob", "ghost"]

        # A heartbeat's new note shows too (the record is replaced in place).
        presence.heartbeat("bob", note="building")
        await shown(app, pilot, lambda: _by_id(screen)["bob"][6] == "building", "bob's note")

        await pilot.press("escape")
        await shown(app, pilot, lambda: len(app.screen_stack) == 1, "escape closes")
        await pilot.press("A")
        await shown(app, pilot, lambda: isinstance(app.screen, AgentsScreen), "agents view again")
        await pilot.press("A")
        await shown(app, pilot, lambda: len(app.screen_stack) == 1, "A closes")


async def test_status_follows_the_clock_and_hostile_notes_show_escaped(workspace, ui_settings):
    # Explicit timestamps instead of waiting: an old heartbeat is idle or offline at once.
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    root = workspace.store().root
    file_presence(root, clock=lambda: now - timedelta(minutes=5)).register("sleepy")
    file_presence(root, clock=lambda: now - timedelta(hours=2)).register("gone")
    file_presence(root).register("fresh")
    file_presence(root).heartbeat("fresh", note="\x1b[2J[bold red]x[/] \u202eevil\u202c")
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        await pilot.press("A")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, AgentsScreen) and app.screen, "agents view")
        await shown(app, pilot, lambda: len(_cells(screen)) == 3, "listing")
        rows = _cells(screen)
        assert [(r[0], r[3]) for r in rows] == [("fresh", "active"), ("sleepy", "idle"), ("gone", "offline")]
        assert [r[4] for r in rows[1:]] == ["5m", "2h00m"]
        note = screen.query_one(DataTable).get_row_at(0)[6]
        assert note.plain == "\\x1b[2J[bold red]x[/] \\u202eevil\\u202c" and not note.spans
        svg = app.export_screenshot()
        assert "\x1b" not in svg and "\u202e" not in svg


async def test_finished_workers_fold_into_one_line_that_f_unfolds(workspace, ui_settings):
    """Issue 12, point 8: the view filled with finished workers that stay offline for ever."""
    presence = file_presence(workspace.store().root)
    presence.register("alice", role="reviewer", pid=os.getpid())
    workers = [f"lanes-worker-{n}-20261024T155119250137Z-alpha-dd38d9525789" for n in range(3)]
    for worker in workers:
        presence.register(worker, role="worker", pid=_dead_pid(), task_id="20261024T155119250137Z-alpha-dd38d9525789")
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        await pilot.press("A")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, AgentsScreen) and app.screen, "agents view")
        await shown(app, pilot, lambda: screen.loaded.is_set() and len(_cells(screen)) == 2, "folded")
        alice, folded = _cells(screen)
        assert alice[0] == "alice" and folded[0] == "3 finished worker(s)" and folded[6] == "f shows them"
        assert "4 registered" in str(screen.query_one("#agents-title").visual)  # the title still counts them
        await pilot.press("f")
        await shown(app, pilot, lambda: len(_cells(screen)) == 4, "unfolded")
        rows = _by_id(screen)
        assert all(rows[w][1] == "" and rows[w][3] == "offline" for w in workers)  # no name repeating the id
        await pilot.press("f")
        await shown(app, pilot, lambda: len(_cells(screen)) == 2, "folded again")
