"""`enter`: one task in full: the whole prompt, paths, every recent event, the answer (as
Markdown) and the transcript.

The text is `detail_text` of the detail pane with no line limits, drawn as a
`rich.text.Text` (never markup) in a scrollable area. task.json and events are
read off the event loop (`Engine.task_detail` blocks) and read again when the
engine reports that this task changed on disk or in its state; worker output
alone only appends transcript lines (no disk read per line of output).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Log, Static

from lanes_tui.core.errors import LanesError
from lanes_tui.core.states import FAILED
from lanes_tui.engine import events as ev
from lanes_tui.engine.service import Engine, EngineChanged
from lanes_tui.ui.screens.log_screen import COALESCE_SECONDS, MAX_LINES
from lanes_tui.ui.widgets.answer_view import AnswerView
from lanes_tui.ui.widgets.detail_pane import detail_text, events_text

# Events that only add transcript lines or counters: no reason to read task.json again.
_TRANSCRIPT_ONLY = (ev.WorkerActivity, ev.WorkerUsage)


class TaskScreen(Screen[None]):
    DEFAULT_CSS = """
    TaskScreen { layout: vertical; }
    TaskScreen > #task-info-scroll { height: 1fr; padding: 0 1; }
    TaskScreen #task-answer-title { margin-top: 1; }
    TaskScreen > #task-transcript-title { height: 1; padding: 0 1; background: $panel; color: $text-muted; }
    TaskScreen > #task-transcript { height: 40%; padding: 0 1; background: $surface; }
    """
    BINDINGS = [
        Binding("escape", "close", "Back", id="task.close"),
    ]

    def __init__(self, engine: Engine, task_id: str, now: Callable[[], datetime]) -> None:
        super().__init__()
        self.engine = engine
        self._unsubscribe: Callable[[], None] = lambda: None  # until mounted
        self.task_id = task_id
        self.now = now
        self.detail: dict[str, Any] | None = None  # None while loading
        self.loads = 0  # detail reads finished (tests wait on it)
        self._detail_stale = False
        self._flush_scheduled = False
        self.transcript = engine.task_transcript(task_id)
        self.transcript_lines = 0

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="task-info-scroll"):
            yield Static(Text(""), id="task-info")
            heading = Static(Text("answer", "dim"), id="task-answer-title")
            heading.display = False
            yield heading
            yield AnswerView(id="task-answer")
            yield Static(Text(""), id="task-events")  # after the answer: it is what one came for
        yield Static(Text("transcript"), id="task-transcript-title")
        yield Log(id="task-transcript", highlight=False, max_lines=MAX_LINES)
        yield Footer()

    def on_mount(self) -> None:
        self._unsubscribe = self.engine.subscribe(self._on_engine_changed)
        self._show_info()
        self._append_transcript()
        self._load_detail()
        self.set_interval(1.0, self._show_info)  # lease countdown and age move with the clock
        self.set_interval(1.0, self._append_transcript)  # workers of other processes send no engine events
        self.query_one("#task-info-scroll").focus()

    def on_unmount(self) -> None:
        self._unsubscribe()

    def action_close(self) -> None:
        self.dismiss(None)

    # -- engine changes ---------------------------------------------------------------

    def _on_engine_changed(self, change: EngineChanged) -> None:
        # Called on the event loop thread; bursts of worker output coalesce into one redraw.
        if self.task_id not in change.task_ids:
            return
        if not isinstance(change.event, _TRANSCRIPT_ONLY):
            self._detail_stale = True
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.set_timer(COALESCE_SECONDS, self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        self._append_transcript()
        self._show_info()
        if self._detail_stale:
            self._detail_stale = False
            self._load_detail()

    # -- drawing ---------------------------------------------------------------------

    def _show_info(self) -> None:
        row = self.engine.row(self.task_id)
        info = self.query_one("#task-info", Static)
        if row is None:
            text = Text(self.task_id, "bold")
            text.append("  is not in the queue (any more)", "dim")
            info.update(text)
            return
        info.update(detail_text(row, self.detail, self.now(), prompt_lines=0, wrap=True, with_events=False))
        answer = (self.detail or {}).get("answer") or None
        heading = self.query_one("#task-answer-title", Static)
        heading.display = answer is not None
        # A failed task's response is its failure, not an answer.
        heading.update(Text("failure" if row.state == FAILED else "answer", "dim"))
        self.query_one("#task-answer", AnswerView).show(answer)
        events = self.query_one("#task-events", Static)
        events.update(events_text(self.detail, first="\n") if self.detail and "error" not in self.detail else Text())

    @work(group="task-transcript", exit_on_error=False)
    async def _append_transcript(self) -> None:
        new = await self.transcript.read()
        if new:
            self.query_one("#task-transcript", Log).write_lines(new)
            self.transcript_lines += len(new)
        attempts = len(self.transcript.attempts)
        title = self.query_one("#task-transcript-title", Static)
        title.update(Text(f"transcript: {attempts} attempt(s), {self.transcript_lines} line(s)   l: full screen"
                          if attempts else "transcript: no attempt log yet"))

    @work(group="task-detail", exclusive=True, exit_on_error=False)
    async def _load_detail(self) -> None:
        try:
            detail = await asyncio.to_thread(self.engine.task_detail, self.task_id)
        except (LanesError, OSError) as exc:
            detail = {"error": str(exc)}
        self.detail = detail
        self.loads += 1
        self._show_info()
