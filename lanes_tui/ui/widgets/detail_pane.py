"""The selected task: prompt, request and response paths, last error, events, and the live transcript."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Log, Static

from lanes_tui.core.request_files import FILE_DIFFERS, FILE_NOT_WRITTEN, FILE_WRITTEN
from lanes_tui.core.sanitize import clean, one_line
from lanes_tui.core.states import COMPLETED, FAILED
from lanes_tui.core.titles import first_line
from lanes_tui.engine.service import TaskRow, TranscriptLine
from lanes_tui.engine.task_git import detail_line, merged_event
from lanes_tui.ui import formatting as fmt

if TYPE_CHECKING:
    from lanes_tui.ui.widgets.answer_view import AnswerView

PROMPT_LINES = 4
EVENT_LINES = 4


def detail_text(row: TaskRow, detail: dict[str, Any] | None, now: datetime, *, prompt_lines: int = PROMPT_LINES,
                event_lines: int = EVENT_LINES, wrap: bool = False, with_events: bool = True) -> Text:
    """Plain Text (never markup) of what we know about one task; `detail` may be None while loading.

    Unwrapped (the pane: one screen line per line, cut with an ellipsis) unless `wrap`;
    without the events when `with_events` is False (the task screen shows them after the answer).
    """
    text = Text(no_wrap=not wrap, overflow="fold" if wrap else "ellipsis")
    text.append(row.id, "bold")
    text.append(f"  {row.state}  lane {row.lane}", "bold" if row.attention else "")
    if row.permissions == "trusted":
        text.append("  TRUSTED (no sandbox, no permission checks)", "bold reverse")
    elif row.permissions != "read-only":
        text.append(f"  {row.permissions}", "dim")
    if row.owner:
        text.append(f"  owner {row.owner}", "dim")
    if row.lease_expires_at is not None:
        text.append(f"  lease {fmt.left(row.lease_expires_at, now)}", "dim")
    if row.reason:
        text.append("\n")
        text.append("! " + row.reason, "bold")
    if detail is None:
        text.append("\nloading\u2026", "dim")
        return text
    if "error" in detail:
        text.append("\n" + one_line(str(detail["error"]), 300), "bold")
        return text
    task = detail["task"]
    if row.title and row.title != first_line(task.get("prompt")):
        text.append("\ntitle    ", "dim")  # given with --title (else it is the prompt's first line, below)
        text.append(row.title, "bold")
    base = task.get("workspace_root")
    text.append("\nrequest  ", "dim")
    text.append(one_line(fmt.short_path(task.get("request_path"), base), 300))
    text.append("\nresponse ", "dim")
    text.append(one_line(fmt.short_path(task.get("response_path"), base), 300))
    text.append(f"  ({response_note(detail)})", "dim")
    _append_run(text, detail.get("response_metadata") or {})
    branch = detail_line((detail.get("response_metadata") or {}).get("git"), merged_event(detail.get("events") or []))
    if branch:
        text.append("\nbranch   ", "dim")
        text.append(branch)
    prompt = clean(str(task.get("prompt") or ""), 20_000).splitlines() or [""]
    text.append("\nprompt   ", "dim")  # its first line beside the heading: a short pane still shows some
    shown = prompt if prompt_lines <= 0 else prompt[:prompt_lines]
    for i, line in enumerate(shown):
        text.append(("" if i == 0 else "\n         ") + line[:500])
    if len(shown) < len(prompt):
        text.append(f"  (+{len(prompt) - len(shown)} lines)", "dim")
    if with_events:
        text.append_text(events_text(detail, event_lines, first="\n"))
    return text


def events_text(detail: dict[str, Any], event_lines: int = 0, *, first: str = "") -> Text:
    """The task's last `event_lines` events (0: all that were read), one line each."""
    text = Text()
    events = detail.get("events") or []
    if events:
        text.append(first + "events   ", "dim")
        tail = events if event_lines <= 0 else events[-event_lines:]
        for i, event in enumerate(tail):
            text.append("" if i == 0 else "\n         ")
            text.append(one_line(str(event.get("created_at") or ""), 32)[11:19], "dim")
            text.append(" ")
            text.append(one_line(str(event.get("type") or "?"), 32), "bold")
            text.append(" ")
            text.append(one_line(str(event.get("message") or ""), 200))
    return text


def response_note(detail: dict[str, Any]) -> str:
    """What is true of the response file: the store's answer and the file are two things."""
    if (detail.get("task") or {}).get("state") == FAILED:
        return "no answer: the task failed (the failure is recorded as its response)"
    state = detail.get("response_file")
    if state == FILE_WRITTEN:
        return "answer written to this file"
    if state == FILE_NOT_WRITTEN:
        return "answer recorded, file not written yet: `lanes-tui wait <id>` writes it"
    if state == FILE_DIFFERS:
        return "answer recorded; this file holds something else (edited, or an older answer)"
    return "no answer yet"


def _append_run(text: Text, metadata: dict[str, Any]) -> None:
    """What the recorded answer says about its run: the preset, denied tool calls, attention.
    Agent-written (tool targets): sanitised, one line each."""
    denials = metadata.get("permission_denials")
    if not isinstance(denials, list) or not denials:
        return
    preset = one_line(str(metadata.get("permissions") or "?"), 16)
    text.append(f"\ndenied ({preset} preset)", "bold")
    for denial in denials[:8]:
        denial = denial if isinstance(denial, dict) else {}
        text.append("\n  " + one_line(f"{denial.get('tool', '?')}: {denial.get('target', '')}", 300))
    if len(denials) > 8:
        text.append(f"\n  (+{len(denials) - 8} more)", "dim")


def transcript_lines(lines: list[TranscriptLine]) -> list[str]:
    """One plain line per transcript entry (already sanitised by the engine)."""
    marks = {"activity": "\u2022", "usage": "\u00a4", "status": "\u25b8", "error": "!"}
    return [f"{marks.get(line.kind, '-')} {line.text}" for line in lines]


class TailLog(Log):
    """A Log that stays at its end when it is resized while at its end (the pane grows and
    shrinks with the table above it): the latest line stays in view."""

    _at_end = True

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._at_end = new_value >= self.max_scroll_y

    def on_resize(self) -> None:
        if self._at_end:
            self.call_after_refresh(self.scroll_end, animate=False)


class DetailPane(Vertical):
    DEFAULT_CSS = """
    DetailPane { height: 1fr; min-height: 6; border-top: solid $panel; }
    DetailPane > #detail-info { height: auto; max-height: 50%; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    DetailPane > #detail-answer { height: 1fr; min-height: 3; overflow-y: auto; }
    DetailPane > #detail-transcript { height: 1fr; min-height: 3; padding: 0 1; background: $surface;
                                      overflow-x: hidden; overflow-y: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.task_id: str | None = None
        self._last_seq = 0  # of the transcript line shown last
        # (task, detail loaded?, the transcript's tail from disk) as last drawn while no line came
        self._shown_history: tuple[str | None, bool, list[str]] = (None, False, [])

    @staticmethod
    def _history_of(detail: dict[str, Any] | None) -> list[str]:
        return list((detail or {}).get("transcript_tail") or [])

    @staticmethod
    def _placeholder(detail: dict[str, Any] | None) -> str:
        return "(loading\u2026)" if detail is None else "(no worker output yet: no attempt log)"

    def compose(self) -> ComposeResult:
        yield Static(Text("no task selected", "dim"), id="detail-info")
        # The answer view (#detail-answer) is mounted with the first answer shown: Markdown and
        # its parser are a tenth of the dashboard's start-up, and many sessions never show one.
        yield TailLog(id="detail-transcript", highlight=False, max_lines=5000)

    def _answer_view(self) -> AnswerView | None:
        found = self.query("#detail-answer")
        return found.first() if found else None  # type: ignore[return-value]

    def show(self, row: TaskRow | None, detail: dict[str, Any] | None, transcript: list[TranscriptLine],
             now: datetime) -> None:
        info = self.query_one("#detail-info", Static)
        log = self.query_one("#detail-transcript", Log)
        if row is None:
            info.update(Text("no task selected", "dim"))
            if (view := self._answer_view()) is not None:
                view.display = False
            log.display = True
            log.clear()
            self.task_id, self._last_seq = None, 0
            return
        info.update(detail_text(row, detail, now))
        # A finished task's answer is what one wants to read; its transcript is on `l`.
        answer = (detail or {}).get("answer") if row.state == COMPLETED else None
        answer_view = self._answer_view()
        if answer_view is None and answer:
            from lanes_tui.ui.widgets.answer_view import AnswerView

            self.mount(AnswerView(answer, id="detail-answer"), before=log)
        elif answer_view is not None:
            answer_view.display = bool(answer)
            answer_view.show(answer or None)
        log.display = not answer
        history = self._history_of(detail)
        shown = (row.id, detail is not None, history)
        if row.id != self.task_id or (not transcript and shown != self._shown_history):
            log.clear()
            self._last_seq = 0
            if not transcript:
                # No worker of it ran in this session: the end of its transcript on disk.
                log.write_lines(history or [self._placeholder(detail)])
                log.scroll_end(animate=False)
        self._shown_history = shown
        self.task_id = row.id
        new = [line for line in transcript if line.seq > self._last_seq]
        if new:
            first_fill = self._last_seq == 0
            if first_fill:
                log.clear()  # the placeholder, or the transcript from disk this session's lines go on from
            log.write_lines(transcript_lines(new), scroll_end=True if first_fill else None)
            if first_fill:  # the info block above may grow after this: end up at the latest line
                self.call_after_refresh(log.scroll_end, animate=False)
            self._last_seq = new[-1].seq
