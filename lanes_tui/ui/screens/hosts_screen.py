"""`H`: every supervisor of the queue, one per host, and how this dashboard hears of changes.

Each row: the host, its state (running; late: heartbeats stopped coming; dead: its claims are
rescued once their leases run out; stopped: it let go of the queue cleanly), the age of its
last heartbeat (a shared queue's; the file store's one supervisor has none, its process is
checked instead), workers running / capacity, its pid and the tasks its workers run. The
title says how changes reach this dashboard (LISTEN/NOTIFY, polling, degraded). Re-read every
REREAD_SECONDS: heartbeats age with time, and no change announces that. Hosts and owners are
other machines' text: every cell is a sanitised `rich.text.Text`, never markup.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from lanes_tui.core.errors import LanesError
from lanes_tui.core.sanitize import one_line
from lanes_tui.core.supervisors import DEAD, LATE, RUNNING, STOPPED, SupervisorStatus
from lanes_tui.ui import formatting as fmt

COLUMNS = ("HOST", "STATE", "HEARTBEAT", "WORKERS", "PID", "TASKS")
REREAD_SECONDS = 2.0
STATE_STYLES = {RUNNING: "hosts--running", LATE: "hosts--late", DEAD: "hosts--dead", STOPPED: "hosts--stopped"}


def host_cells(status: SupervisorStatus, styles: dict[str, Any]) -> list[Text]:
    record = status.record
    heartbeat = "-" if status.heartbeat_age is None else f"{fmt.span(status.heartbeat_age)} ago"
    capacity = "?" if record.capacity is None else str(record.capacity)
    tasks = ", ".join(fmt.short_id(one_line(task_id, 200)) for task_id in sorted(record.workers))
    return [
        Text(one_line(status.host, 60) + (" (this host)" if status.here else "")),
        Text(status.state, styles.get(status.state, "")),
        Text(heartbeat),
        Text(f"{len(record.workers)}/{capacity}"),
        Text(str(record.pid)),
        Text(tasks or "-", "dim" if not tasks else ""),
    ]


def title_text(statuses: list[SupervisorStatus], notifier: str | None) -> str:
    counts = {state: sum(s.state == state for s in statuses) for state in (RUNNING, LATE, DEAD, STOPPED)}
    shown = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    text = f"Hosts: {len(statuses)} supervisor(s)" + (f", {shown}" if shown else "")
    if not statuses:
        text = "Hosts: no supervisor has run on this queue yet"
    if notifier:
        text += f"   changes: {one_line(notifier, 160)}"
    return text


def rescue_note(statuses: list[SupervisorStatus]) -> str:
    """What the operator should know about hosts that stopped beating."""
    late = [s for s in statuses if s.state == LATE]
    dead = [s for s in statuses if s.state == DEAD and s.record.workers]
    notes = []
    if late and late[0].dead_after is not None:
        notes.append(f"late: counted dead once its heartbeat is {late[0].dead_after:.0f} s old")
    if dead:
        notes.append("dead: the tasks it ran are claimed again by a live host once their leases run out")
    return "; ".join(notes)


class HostsScreen(Screen[None]):
    DEFAULT_CSS = """
    HostsScreen > #hosts-title { height: 1; background: $panel; text-style: bold; padding: 0 1; }
    HostsScreen > #hosts-note { height: auto; color: $text-muted; padding: 0 1; }
    HostsScreen > DataTable { height: 1fr; }
    HostsScreen > .hosts--running { color: $lanes-completed; text-style: bold; }
    HostsScreen > .hosts--late { color: $lanes-claimed; text-style: bold; }
    HostsScreen > .hosts--dead { color: $lanes-failed; text-style: bold; }
    HostsScreen > .hosts--stopped { color: $lanes-muted; }
    """
    COMPONENT_CLASSES = set(STATE_STYLES.values())
    BINDINGS = [Binding("escape,H", "close", "Back", id="hosts.close")]

    def __init__(self, engine: Any, now: Callable[[], datetime]) -> None:
        super().__init__()
        self.engine = engine
        self.now = now
        self.statuses: list[SupervisorStatus] = []
        self.loaded = asyncio.Event()  # the first listing is shown (tests)

    def compose(self) -> ComposeResult:
        yield Static(Text("Hosts"), id="hosts-title")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Static(Text(""), id="hosts-note")
        yield Footer()

    def on_mount(self) -> None:
        self.follow()

    @work(group="hosts", exclusive=True, exit_on_error=False)
    async def follow(self) -> None:
        while True:
            await self.reload()
            await asyncio.sleep(REREAD_SECONDS)  # a re-read on a timer: heartbeats age, nothing announces it

    async def reload(self) -> None:
        try:
            statuses = await self.engine.supervisors()
        except LanesError as exc:
            self.notify(one_line(f"cannot read the supervisors: {exc}", 200), severity="error", markup=False)
            statuses = []
        self.statuses = statuses
        styles = {state: self.get_component_rich_style(name, partial=True) for state, name in STATE_STYLES.items()}
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for status in statuses:
            table.add_row(*host_cells(status, styles), key=status.host)
        if statuses and cursor is not None:
            table.move_cursor(row=min(cursor, len(statuses) - 1))
        self.query_one("#hosts-title", Static).update(Text(title_text(statuses, self.engine.notifier())))
        self.query_one("#hosts-note", Static).update(Text(rescue_note(statuses)))
        self.loaded.set()

    def action_close(self) -> None:
        self.app.pop_screen()
