"""`A`: the agents registered in this repository, and whether they are still around.

Each row: id, name, role, status (active / idle / offline), how long ago the agent was
last seen, the task it said it works on, and its note. The view follows `<store>/agents/`
through a folder watcher and re-reads every few seconds anyway: status decays with time
(a heartbeat that stops coming, a process that dies) and no file event announces that.
Workers the supervisor started stay registered, offline, once they finish: they fold into
one line (`f` shows them), so the view is about who is around. Ids, names and notes are
agents' text: every cell is a sanitised `rich.text.Text`, never markup.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from lanes_tui.core.clock import parse_ts
from lanes_tui.core.errors import LanesError
from lanes_tui.core.presence import AgentState
from lanes_tui.core.sanitize import one_line
from lanes_tui.ui import formatting as fmt
from lanes_tui.ui.screens.following import FollowingScreen

COLUMNS = ("ID", "NAME", "ROLE", "STATUS", "SEEN", "TASK", "NOTE")


def _ts(value: str) -> datetime | None:
    try:
        return parse_ts(value)
    except ValueError:
        return None


WORKER_ROLE = "worker"  # what the supervisor registers its workers as (engine/worker_presence.py)
FOLDED_KEY = "__finished_workers__"


def finished_worker(state: AgentState) -> bool:
    """A worker the supervisor started whose process is gone: it stays offline for ever."""
    return state.record.role == WORKER_ROLE and state.status == "offline"


def agent_cells(state: AgentState, now: datetime, status_style: Style | str = "") -> list[Text]:
    record = state.record
    # A worker's name is its id: the same 60 characters twice say nothing more.
    name = "" if record.role == WORKER_ROLE and record.name == record.id else record.name
    return [
        Text(one_line(record.id, 60)),
        Text(one_line(name, 40)),
        Text(one_line(record.role or "", 40)),
        Text(state.status, status_style),
        Text(fmt.age(_ts(record.last_seen), now)),
        Text(fmt.short_id(one_line(record.task_id or "", 200))),
        Text(one_line(record.note, 120), "dim"),
    ]


class AgentsScreen(FollowingScreen):
    followed = "agents"
    DEFAULT_CSS = """
    AgentsScreen > #agents-title { height: 1; background: $panel; text-style: bold; padding: 0 1; }
    AgentsScreen > DataTable { height: 1fr; }
    AgentsScreen > .agents--active { color: $lanes-completed; text-style: bold; }
    AgentsScreen > .agents--idle { color: $lanes-claimed; }
    AgentsScreen > .agents--offline { color: $lanes-muted; }
    """
    # Theme colours, read when a row is drawn (a theme switch shows at the next re-read).
    COMPONENT_CLASSES = {"agents--active", "agents--idle", "agents--offline"}
    BINDINGS = [
        Binding("escape,A", "close", "Back", id="agents.close"),
        Binding("f", "toggle_finished", "Finished workers", id="agents.finished"),
    ]

    def __init__(self, engine: Any, now: Callable[[], datetime]) -> None:
        super().__init__(engine, now)
        self.states: list[AgentState] = []  # as the table shows them (finished workers folded or not)
        self.show_finished = False

    def compose(self) -> ComposeResult:
        yield Static(Text("Agents"), id="agents-title")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Footer()

    async def reload(self) -> None:
        try:
            states = await self.engine.agent_states()
        except LanesError as exc:
            self.notify(one_line(f"cannot read agents: {exc}", 200), severity="error", markup=False)
            states = []
        table = self.query_one(DataTable)
        selected = self.selected()
        finished = [s for s in states if finished_worker(s)]
        self.states = states if self.show_finished else [s for s in states if not finished_worker(s)]
        now = self.now()
        table.clear()
        for state in self.states:
            style = self.get_component_rich_style(f"agents--{state.status}", partial=True)
            table.add_row(*agent_cells(state, now, style), key=state.record.id)
        if finished and not self.show_finished:
            # One line for them all: finished workers pile up, one per task ever run.
            newest = max((_ts(s.record.last_seen) for s in finished), key=lambda t: t or datetime.min.replace(
                tzinfo=now.tzinfo), default=None)
            table.add_row(Text(f"{len(finished)} finished worker(s)", "dim"), Text(""), Text(WORKER_ROLE, "dim"),
                          Text("offline", "dim"), Text(fmt.age(newest, now)), Text(""),
                          Text("f shows them", "dim"), key=FOLDED_KEY)
        if selected is not None:
            ids = [s.record.id for s in self.states]
            if selected.record.id in ids:  # the row may have moved: status reorders the table
                table.move_cursor(row=ids.index(selected.record.id))
        self.query_one("#agents-title", Static).update(Text(self.title_text(states)))
        self.loaded.set()

    async def action_toggle_finished(self) -> None:
        self.show_finished = not self.show_finished
        await self.reload()

    @staticmethod
    def title_text(states: list[AgentState]) -> str:
        if not states:
            return "Agents: none registered   (agents join with `lanes-tui register --as NAME`)"
        counts = {status: sum(s.status == status for s in states) for status in ("active", "idle", "offline")}
        return f"Agents: {len(states)} registered, " + ", ".join(f"{n} {status}" for status, n in counts.items())

    def selected(self) -> AgentState | None:
        table = self.query_one(DataTable)
        if not self.states or table.cursor_row is None or not 0 <= table.cursor_row < len(self.states):
            return None
        return self.states[table.cursor_row]

    def action_close(self) -> None:
        self.app.pop_screen()
