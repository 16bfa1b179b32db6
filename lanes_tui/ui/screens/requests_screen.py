"""`i`: what waits for a person — agents' questions, blockers for a human and permission
requests — oldest first, answered from the keyboard.

The list follows `<store>/requests/` (the engine re-reads it on every change there and every
few seconds, so an expiry or a dead waiter shows). The selected request's whole text, its
options and (for a permission request) the tool and its input show below. Keys:

    1-9        answer a question with that option
    r, enter   reply in words (a question or a blocker; the agent gets it as a message or
               as the tool's result)
    a          allow the tool call once          A  allow this tool for the rest of the task
    d          deny, with a message              D  deny and stop the task

Every cell and line is an agent's text: sanitised `rich.text.Text`, never markup; an edit's
input shows as the diff it would make.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Input, Static

from lanes_tui.core.clock import parse_ts
from lanes_tui.core.errors import LanesError
from lanes_tui.core.requests import (
    ALLOW,
    ALLOW_TOOL,
    DENY,
    DENY_STOP,
    PERMISSION,
    QUESTION,
    REPLY,
    InputRequest,
)
from lanes_tui.core.sanitize import clean, one_line
from lanes_tui.ui import formatting as fmt
from lanes_tui.ui.screens.following import FollowingScreen

COLUMNS = ("ID", "KIND", "TASK", "AGENT", "ASKED", "EXPIRES", "WHAT")
MAX_INPUT_SHOWN = 20_000  # characters of a tool's input drawn below the list
PERMISSION_KEYS = {"a": ALLOW, "A": ALLOW_TOOL, "d": DENY, "D": DENY_STOP}


def _ts(value: str | None) -> datetime | None:
    try:
        return parse_ts(value) if value else None
    except ValueError:
        return None


def request_cells(request: InputRequest, now: datetime) -> list[Text]:
    what = request.text if request.kind != PERMISSION else f"{request.tool or '?'}: {request.text}"
    return [
        Text(request.id),
        Text(request.kind, "bold" if request.kind == PERMISSION else ""),
        Text(one_line(request.task_id or "-", 40), "dim"),
        Text(one_line(request.agent, 40)),
        Text(fmt.age(_ts(request.created_at), now)),
        Text(fmt.left(_ts(request.expires_at), now)),
        Text(one_line(what, 200)),
    ]


def request_detail(request: InputRequest) -> Text:
    """The whole request, for the pane below the list."""
    text = Text()
    text.append(f"{request.id}  {request.kind} from {one_line(request.agent, 80)}", "bold")
    if request.task_id:
        text.append(f"  task {one_line(request.task_id, 80)}", "dim")
    text.append("\n(the agent's own words: information, not instructions)\n\n", "dim")
    text.append(clean(request.text, 8000))
    if request.options:
        text.append("\n\n")
        for number, option in enumerate(request.options, 1):
            text.append(f"  {number}) ", "bold")
            text.append(one_line(option, 200) + "\n")
    if request.kind == PERMISSION:
        text.append(f"\n\ntool {one_line(request.tool or '?', 80)}\n", "bold")
        text.append_text(tool_input_text(request.tool_input))
    return text


def tool_input_text(value: Any) -> Text:
    """A tool call's input: an edit as the diff it would make, anything else as JSON."""
    if isinstance(value, dict) and isinstance(value.get("old_string"), str) and isinstance(value.get("new_string"), str):
        text = Text()
        text.append(f"--- {one_line(str(value.get('file_path', '')), 200)}\n", "bold")
        for line in clean(value["old_string"], MAX_INPUT_SHOWN // 2).splitlines():
            text.append(f"-{line}\n", "red")
        for line in clean(value["new_string"], MAX_INPUT_SHOWN // 2).splitlines():
            text.append(f"+{line}\n", "green")
        return text
    try:
        shown = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        shown = repr(value)
    return Text(clean(shown, MAX_INPUT_SHOWN))


class RequestsScreen(FollowingScreen):
    followed = "requests"
    DEFAULT_CSS = """
    RequestsScreen > #requests-title { height: 1; background: $panel; text-style: bold; padding: 0 1; }
    RequestsScreen > DataTable { height: 1fr; max-height: 50%; }
    RequestsScreen > #request-detail { height: 1fr; padding: 0 1; border-top: solid $panel; }
    RequestsScreen > #request-reply { display: none; }
    RequestsScreen > #request-reply.shown { display: block; }
    """
    BINDINGS = [
        *(Binding(str(n), f"option({n})", f"Option {n}", show=n == 1, id=f"requests.option{n}") for n in range(1, 10)),
        Binding("r", "reply", "Reply", id="requests.reply"),
        Binding("a", "decide('a')", "Allow once", id="requests.allow"),
        Binding("A", "decide('A')", "Allow tool", id="requests.allow_tool"),
        Binding("d", "decide('d')", "Deny", id="requests.deny"),
        Binding("D", "decide('D')", "Deny+stop", id="requests.deny_stop"),
        Binding("escape,i", "close", "Back", id="requests.close"),
    ]

    def __init__(self, engine: Any, now: Callable[[], datetime]) -> None:
        super().__init__(engine, now)
        self.requests: tuple[InputRequest, ...] = ()
        self._replying: tuple[InputRequest, str] | None = None  # the request and the decision typed for

    def compose(self) -> ComposeResult:
        yield Static(Text("Waiting for you"), id="requests-title")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        with VerticalScroll(id="request-detail"):
            yield Static(Text(""), id="request-body", markup=False)
        yield Input(id="request-reply", placeholder="your answer (enter sends, escape cancels)")
        yield Footer()

    async def reload(self) -> None:
        try:
            requests = await self.engine.refresh_requests()
        except LanesError as exc:
            self.notify(one_line(f"cannot read requests: {exc}", 200), severity="error", markup=False)
            requests = ()
        table = self.query_one(DataTable)
        selected = self.selected()
        self.requests = requests
        now = self.now()
        table.clear()
        for request in requests:
            table.add_row(*request_cells(request, now), key=request.id)
        ids = [r.id for r in requests]
        if selected is not None and selected.id in ids:
            table.move_cursor(row=ids.index(selected.id))
        count = len(requests)
        title = f"Waiting for you: {count} request(s), oldest first" if count else \
            "Waiting for you: nothing (agents ask with the MCP tools ask_operator and report_blocker)"
        self.query_one("#requests-title", Static).update(Text(title))
        self._show_selected()
        self.loaded.set()

    def selected(self) -> InputRequest | None:
        table = self.query_one(DataTable)
        if not self.requests or table.cursor_row is None or not 0 <= table.cursor_row < len(self.requests):
            return None
        return self.requests[table.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_selected()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:  # enter on a row
        event.stop()
        self.action_reply()

    def _show_selected(self) -> None:
        request = self.selected()
        self.query_one("#request-body", Static).update(request_detail(request) if request else Text(""))

    # -- answering --------------------------------------------------------------------------

    def action_option(self, number: int) -> None:
        request = self.selected()
        if request is None:
            return
        if request.kind != QUESTION or not 1 <= number <= len(request.options):
            self.notify(f"{request.id} has no option {number}", severity="warning", markup=False)
            return
        self._answer(request, REPLY, request.options[number - 1])

    def action_reply(self) -> None:
        request = self.selected()
        if request is None:
            return
        if request.kind == PERMISSION:
            self.notify("a permission request is answered with a (allow), A (allow the tool), d (deny), "
                        "D (deny and stop)", severity="warning", markup=False)
            return
        self._ask_words(request, REPLY)

    def action_decide(self, key: str) -> None:
        request = self.selected()
        if request is None:
            return
        if request.kind != PERMISSION:
            self.notify(f"{request.id} is a {request.kind}: answer it with 1-9 or r", severity="warning",
                        markup=False)
            return
        decision = PERMISSION_KEYS[key]
        if decision == DENY:
            self._ask_words(request, DENY)  # the agent reads why
        else:
            self._answer(request, decision, "")

    def _ask_words(self, request: InputRequest, decision: str) -> None:
        box = self.query_one("#request-reply", Input)
        self._replying = (request, decision)
        box.value = ""
        box.placeholder = ("why not (the agent reads it; enter sends, escape cancels)" if decision == DENY
                           else f"your answer to {request.id} (enter sends, escape cancels)")
        box.add_class("shown")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._replying is None:
            return
        request, decision = self._replying
        words = event.value.strip()
        if not words and decision == REPLY:
            self.notify("an answer needs words (or an option: 1-9)", severity="warning", markup=False)
            return
        self._close_reply()
        self._answer(request, decision, words)

    def _close_reply(self) -> None:
        self._replying = None
        box = self.query_one("#request-reply", Input)
        box.remove_class("shown")
        self.query_one(DataTable).focus()

    @work(group="request-answers", exit_on_error=False)
    async def _answer(self, request: InputRequest, decision: str, reply: str) -> None:
        try:
            await self.engine.answer_request(request.id, decision, reply)
        except LanesError as exc:
            self.notify(one_line(f"{request.id} not answered: {exc}", 200), severity="error", markup=False)
        else:
            self.notify(one_line(f"{request.id} answered: {decision}{': ' + reply if reply else ''}", 200),
                        markup=False)
        await self.reload()

    def action_close(self) -> None:
        if self._replying is not None:  # escape in the answer box: back to the list
            self._close_reply()
            return
        self.app.pop_screen()
