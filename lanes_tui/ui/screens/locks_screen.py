"""`L`: the advisory file locks agents hold in this repository; `b` breaks the selected one.

Each row: the path (or resource name), holder, reason, age, time to expiry, whether the
holder's process is alive, and why it is stale if it is. The view follows `<store>/locks/`
through a folder watcher (re-checking every few seconds: a holder that dies or a TTL that
passes announces itself by no file event). Holders and reasons are agents' text: every cell
is a sanitised `rich.text.Text`, never markup.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Input, Static

from lanes_tui.core.clock import parse_ts
from lanes_tui.core.errors import LanesError
from lanes_tui.core.locks import LockState
from lanes_tui.core.sanitize import one_line
from lanes_tui.ui import formatting as fmt
from lanes_tui.ui.screens.confirm_modal import DIALOG_CSS
from lanes_tui.ui.screens.following import FollowingScreen

COLUMNS = ("LOCK", "HOLDER", "REASON", "AGE", "EXPIRES", "HOLDER ALIVE", "STALE")


def _ts(value: str) -> datetime | None:
    try:
        return parse_ts(value)
    except ValueError:
        return None


def lock_cells(state: LockState, now: datetime) -> list[Text]:
    record = state.record
    alive = {True: Text("yes"), False: Text("no", "bold"), None: Text("?", "dim")}[state.alive]
    key = record.key.split(":", 1)[1] if ":" in record.key else record.key
    kind = "" if record.key.startswith("path:") else "name "
    return [
        Text(kind + one_line(key, 120)),
        Text(one_line(record.owner, 60)),
        Text(one_line(record.reason, 80), "dim"),
        Text(fmt.age(_ts(record.acquired_at), now)),
        Text(fmt.left(_ts(record.expires_at), now), "bold" if state.stale else ""),
        alive,
        Text(one_line(state.stale or "", 60), "bold" if state.stale else ""),
    ]


class LockBreakModal(ModalScreen[str | None]):
    """Confirm breaking one lock, with the evidence and a reason (required)."""

    DEFAULT_CSS = "LockBreakModal {" + DIALOG_CSS + "}"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="lock_break.cancel")]

    def __init__(self, state: LockState, now: datetime) -> None:
        super().__init__()
        self.state = state
        self.now = now

    def compose(self) -> ComposeResult:
        record = self.state.record
        cells = lock_cells(self.state, self.now)
        body = Text()
        for label, cell in zip(("lock", "holder", "reason", "held for", "expires in", "holder alive", "stale"), cells):
            body.append(f"{label:<13}", "dim")
            body.append_text(cell)
            body.append("\n")
        body.append(f"token {record.token}: the holder's renew and unlock are refused afterwards", "dim")
        with Vertical(id="dialog"):
            yield Static(Text("Break this lock?"), id="title")
            yield Static(body, id="body", markup=False)
            yield Input(value="broken from the dashboard", id="reason", placeholder="why (required)")
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Break", variant="error", id="break")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._confirm()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "break":
            self._confirm()
        else:
            self.dismiss(None)

    def _confirm(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.query_one("#error", Static).update(Text("a reason is required"))
            return
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)


class LocksScreen(FollowingScreen):
    followed = "locks"
    DEFAULT_CSS = """
    LocksScreen > #locks-title { height: 1; background: $panel; text-style: bold; padding: 0 1; }
    LocksScreen > DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("b", "break_lock", "Break lock", id="locks.break"),
        Binding("escape,L", "close", "Back", id="locks.close"),
    ]

    def __init__(self, engine: Any, now: Callable[[], datetime]) -> None:
        super().__init__(engine, now)
        self.states: list[LockState] = []

    def compose(self) -> ComposeResult:
        yield Static(Text("Advisory locks"), id="locks-title")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Footer()

    async def reload(self) -> None:
        try:
            states = await self.engine.lock_states()
        except LanesError as exc:
            self.notify(one_line(f"cannot read locks: {exc}", 200), severity="error", markup=False)
            states = []
        table = self.query_one(DataTable)
        selected = self.selected()
        self.states = states
        now = self.now()
        table.clear()
        for state in states:
            table.add_row(*lock_cells(state, now), key=state.record.key)
        if selected is not None:
            keys = [s.record.key for s in states]
            if selected.record.key in keys:
                table.move_cursor(row=keys.index(selected.record.key))
        title = f"Advisory locks: {len(states)} held" + ("" if states else "   (none: agents take them with `lanes-tui lock PATH`)")
        self.query_one("#locks-title", Static).update(Text(title))
        self.loaded.set()

    def selected(self) -> LockState | None:
        table = self.query_one(DataTable)
        if not self.states or table.cursor_row is None or not 0 <= table.cursor_row < len(self.states):
            return None
        return self.states[table.cursor_row]

    def action_break_lock(self) -> None:
        state = self.selected()
        if state is None:
            self.notify("no lock selected", severity="warning")
            return

        def done(reason: str | None) -> None:
            if reason:
                self._break(state, reason)

        self.app.push_screen(LockBreakModal(state, self.now()), done)

    @work(group="lock-actions", exit_on_error=False)
    async def _break(self, state: LockState, reason: str) -> None:
        try:
            await self.engine.break_file_lock(state.record.key, reason)
        except LanesError as exc:
            self.notify(one_line(f"break refused: {exc}", 200), severity="error", markup=False)
            return
        self.notify(one_line(f"lock broken: {state.record.key} (was {state.record.owner})", 200), markup=False)
        await self.reload()

    def action_close(self) -> None:
        self.app.pop_screen()
