"""`M`: the messages agents (and operators) sent each other; `w` writes one as the operator.

The table lists the recent messages, newest at the bottom (selected while the operator has
not moved away from it, so the view follows a conversation); the selected message's whole
body shows below. The view follows `<store>/messages/` through a folder watcher. Reading
here marks nothing read: agents' inboxes are theirs.

Senders, addresses and bodies are agents' text: every cell is a sanitised `rich.text.Text`,
never markup, and a body is drawn under a header that says whose untrusted words it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Input, Label, Static, TextArea

from lanes_tui.core.clock import parse_ts
from lanes_tui.core.errors import LanesError
from lanes_tui.core.messages import Message
from lanes_tui.core.presence import AgentState
from lanes_tui.core.sanitize import clean, one_line
from lanes_tui.ui.screens.confirm_modal import DIALOG_CSS
from lanes_tui.ui.screens.following import FollowingScreen

RECHECK_SECONDS = 30.0  # messages only change by a file event; the re-read is a safety net
LIMIT = 200
COLUMNS = ("#", "TIME", "FROM", "TO", "MESSAGE")
HINT_AGENTS = 12  # agents named in the compose hint; the rest are counted


def sent_time(message: Message, now: datetime) -> str:
    """Local time of day, with the date when it is not today's."""
    try:
        moment = parse_ts(message.sent_at)
    except ValueError:
        moment = None
    if moment is None:
        return "?"
    local, today = moment.astimezone(), now.astimezone()
    return local.strftime("%H:%M:%S" if local.date() == today.date() else "%Y-%m-%d %H:%M")


def first_line(body: str) -> str:
    """The first line with something on it (a body may start with blank lines)."""
    return next((line for line in body.split("\n") if line.strip()), "")


def message_cells(message: Message, now: datetime) -> list[Text]:
    more = body_lines(message.body) > 1
    return [
        Text(str(message.id)),
        Text(sent_time(message, now)),
        Text(one_line(message.sender, 40)),
        Text(one_line(message.to, 40)),
        Text(one_line(first_line(message.body), 120) + (" \u2026" if more else "")),
    ]


def body_lines(body: str) -> int:
    return sum(1 for line in body.split("\n") if line.strip())


def body_text(message: Message | None) -> Text:
    """The whole body, cleaned (newlines and tabs kept), under a header naming its sender."""
    if message is None:
        return Text("no message selected", "dim")
    sender = one_line(message.sender, 120)
    text = Text()
    text.append(f"message {message.id} from ", "dim")
    text.append(sender, "bold")
    text.append(" to ", "dim")
    text.append(one_line(message.to, 120), "bold")
    text.append(f" at {one_line(message.sent_at, 40)}\n", "dim")
    text.append(f"untrusted text from {sender}:\n", "dim italic")
    text.append(clean(message.body))
    return text


def address_hint(agents: list[AgentState]) -> Text:
    """What `to` accepts, with the agents known now (ids first: they are what to type)."""
    text = Text("all, an agent id, name:NAME or role:ROLE", "dim")
    if not agents:
        return text.append("   (no agent registered)", "dim")
    known = []
    for state in agents[:HINT_AGENTS]:
        record = state.record
        extra = [f"name:{record.name}"] if record.name != record.id else []
        extra += [f"role:{record.role}"] if record.role else []
        label = record.id + (f" ({', '.join(extra)})" if extra else "")
        known.append(one_line(f"{label} {state.status}", 120))
    rest = len(agents) - HINT_AGENTS
    text.append("\nknown: ", "dim")
    text.append("; ".join(known) + (f"; and {rest} more" if rest > 0 else ""))
    return text


class ComposeModal(ModalScreen[Message | None]):
    """Write a message as the operator. Sends through the engine; stays open (showing why) until a
    send works (returns the Message) or the operator leaves with escape (None)."""

    DEFAULT_CSS = "ComposeModal {" + DIALOG_CSS + """
        & > #dialog { width: 90; }
        & .row { height: auto; }
        & .row Label { width: 6; color: $text-muted; }
        & .row Input { width: 1fr; }
        & #hint { height: auto; max-height: 6; margin-left: 6; }
        & #body { height: 8; width: 1fr; }
    }"""
    BINDINGS = [
        Binding("ctrl+s", "send", "Send", id="compose.send"),
        Binding("escape", "cancel", "Cancel", id="compose.cancel"),
    ]
    AUTO_FOCUS = "#body"

    def __init__(self, engine: Any, agents: list[AgentState], to: str = "all") -> None:
        super().__init__()
        self.engine = engine
        self.agents = agents
        self.default_to = to
        self._busy = False

    def compose(self) -> ComposeResult:
        title = Text(f"Message as {one_line(self.engine.operator, 80)}   (ctrl+s: send, escape: cancel)")
        with Vertical(id="dialog"):
            yield Static(title, id="title", markup=False)
            with Horizontal(classes="row"):
                yield Label("To", markup=False)
                yield Input(self.default_to, id="to", compact=True)
            yield Static(address_hint(self.agents), id="hint", markup=False)
            with Horizontal(classes="row"):
                yield Label("Body", markup=False)
                yield TextArea(id="body", compact=True, soft_wrap=True, placeholder="what to tell them")
            error = Static("", id="error", classes="error")
            error.display = False
            yield error
            with Horizontal(classes="buttons"):
                yield Button("Send", variant="primary", id="send", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()  # enter after the address moves on to the body (a body is always needed)
        self.query_one("#body", TextArea).focus()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "send":
            await self.action_send()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    async def action_send(self) -> None:
        if self._busy:
            return  # one send at a time: a double ctrl+s must not send twice
        self._busy = True
        self.query_one("#send", Button).disabled = True
        try:
            message = await self.engine.send_message(self.query_one("#to", Input).value.strip(),
                                                    self.query_one("#body", TextArea).text)
        except LanesError as exc:  # InvalidInput: bad address, empty or oversized body
            self._show_error(str(exc))
        except OSError as exc:
            self._show_error(f"cannot write the message: {exc}")
        else:
            self.dismiss(message)
            return
        finally:
            self._busy = False
        self.query_one("#send", Button).disabled = False

    def _show_error(self, message: str) -> None:
        error = self.query_one("#error", Static)
        error.update(Text(one_line(message, 500)))
        error.display = True


class MessagesScreen(FollowingScreen):
    followed = "messages"
    DEFAULT_CSS = """
    MessagesScreen > #messages-title { height: 1; background: $panel; text-style: bold; padding: 0 1; }
    MessagesScreen > DataTable { height: 1fr; }
    MessagesScreen > #message-pane { height: 40%; border-top: solid $panel; padding: 0 1; }
    """
    BINDINGS = [
        # `w`, not `c`: on the dashboard `c` cancels; one meaning per key across screens.
        Binding("w", "compose_message", "Write", id="messages.compose"),
        Binding("escape,M", "close", "Back", id="messages.close"),
    ]

    def __init__(self, engine: Any, now: Callable[[], datetime]) -> None:
        super().__init__(engine, now)
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield Static(Text("Messages"), id="messages-title")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        with VerticalScroll(id="message-pane"):
            yield Static(body_text(None), id="message-body", markup=False)
        yield Footer()

    async def reload(self) -> None:
        try:
            messages = await self.engine.recent_messages(LIMIT)
        except LanesError as exc:
            self.notify(one_line(f"cannot read messages: {exc}", 200), severity="error", markup=False)
            messages = []
        if self.loaded.is_set() and [m.id for m in messages] == [m.id for m in self.messages]:
            return  # a cursor or counter write: nothing new to draw
        table = self.query_one(DataTable)
        selected = self.selected()
        # At the newest (or nothing yet): stay at the newest, so a new message shows at once.
        follow_tail = selected is None or selected.id == self.messages[-1].id
        self.messages = messages
        now = self.now()
        table.clear()
        for message in messages:
            table.add_row(*message_cells(message, now), key=str(message.id))
        ids = [m.id for m in messages]
        if messages:
            row = len(messages) - 1 if follow_tail or selected is None or selected.id not in ids else ids.index(selected.id)
            table.move_cursor(row=row, scroll=True)
        self.show_body()
        title = f"Messages: the last {len(messages)}" if len(messages) == LIMIT else f"Messages: {len(messages)}"
        if not messages:
            title += "   (none yet: w writes one; agents use `lanes-tui send`)"
        self.query_one("#messages-title", Static).update(Text(title))
        self.loaded.set()

    def selected(self) -> Message | None:
        table = self.query_one(DataTable)
        if not self.messages or table.cursor_row is None or not 0 <= table.cursor_row < len(self.messages):
            return None
        return self.messages[table.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_body()

    def show_body(self) -> None:
        self.query_one("#message-body", Static).update(body_text(self.selected()))

    def action_compose_message(self) -> None:
        self._open_compose()

    @work(group="compose", exclusive=True, exit_on_error=False)
    async def _open_compose(self) -> None:
        try:
            agents = await self.engine.agent_states()  # for the address hint only
        except LanesError:
            agents = []

        def done(message: Message | None) -> None:
            if message is not None:
                self.notify(one_line(f"message {message.id} sent to {message.to}", 200), markup=False, timeout=4)

        self.app.push_screen(ComposeModal(self.engine, agents), done)

    def action_close(self) -> None:
        self.app.pop_screen()
