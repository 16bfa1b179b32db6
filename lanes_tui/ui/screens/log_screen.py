"""`l`: the full-screen transcript of one task, every attempt, read from its attempt logs.

The lines come from `Engine.task_transcript` (engine/attempt_transcript.py): the
attempt logs on disk parsed into whole messages, tool calls with their input and
folded results, edits as diffs, retries, denials and the final result. So the
same transcript shows in any session, after a restart and in watch-only mode.
Reading happens in a thread; the screen follows the log while it grows (on each
engine change for the task, and once a second for workers of other processes),
appending only new lines. `z` unfolds thinking and tool results (and folds them
again). Every line is sanitised before it reaches the `Log`, which parses no markup.

Search works as in less: `/` opens an input, enter goes to the first line
containing the text (case-insensitive) from where the view is, `n` and `N` to
the next and previous one (wrapping round), the header saying "match 3 of 17".
`&` shows only the matching lines instead (new matching lines keep arriving)
and back. `escape` clears the search first, then closes the screen.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Log, Static

from lanes_tui.core.sanitize import one_line
from lanes_tui.engine.service import Engine, EngineChanged

COALESCE_SECONDS = 0.05  # one redraw per burst of worker output, as the dashboard does
MAX_LINES = 200_000  # kept while the screen is open; the log on disk has them all


def matches(line: str, query: str) -> bool:
    return query.casefold() in line.casefold()


class LogScreen(Screen[None]):
    DEFAULT_CSS = """
    LogScreen { layout: vertical; }
    LogScreen > #log-header { height: auto; padding: 0 1; background: $panel; }
    LogScreen > #log-search { height: 3; border: tall $accent; }
    LogScreen > #log-lines { height: 1fr; padding: 0 1; background: $surface; }
    """
    BINDINGS = [
        Binding("slash", "search", "Search", id="log.search"),
        Binding("n", "next_match(1)", "Next match", id="log.next"),
        Binding("N", "next_match(-1)", "Previous match", id="log.previous"),
        Binding("ampersand", "toggle_only_matching", "Only matching", id="log.only_matching"),
        Binding("z", "unfold", "Fold/unfold", id="log.unfold"),
        Binding("escape", "back", "Clear search / back", id="log.back"),
    ]

    def __init__(self, engine: Engine, task_id: str) -> None:
        super().__init__()
        self.engine = engine
        self._unsubscribe: Callable[[], None] = lambda: None  # until mounted
        self.task_id = task_id
        self.lines: deque[str] = deque(maxlen=MAX_LINES)  # every line received, plain
        self.query_text = ""  # the active search ("" = none)
        self.match_count = 0
        self.only_matching = False  # `&`: the Log shows the matching lines only
        self.current_match: int | None = None  # with all lines shown: the index (in `lines`) gone to
        self.transcript = engine.task_transcript(task_id)
        self.unfolded = False
        self.reads = 0  # transcript reads finished (tests wait on it)
        self._flush_scheduled = False

    def compose(self) -> ComposeResult:
        yield Static(Text(""), id="log-header")
        search = Input(placeholder="search (enter: show matching lines, escape: clear)", id="log-search")
        search.display = False
        yield search
        yield Log(id="log-lines", highlight=False, max_lines=MAX_LINES)
        yield Footer()

    @property
    def log_view(self) -> Log:
        return self.query_one("#log-lines", Log)

    @property
    def search_input(self) -> Input:
        return self.query_one("#log-search", Input)

    def on_mount(self) -> None:
        self._unsubscribe = self.engine.subscribe(self._on_engine_changed)
        self._show_header()
        self._read()
        self.set_interval(1.0, self._read)  # a worker of another process writes no engine events here
        self.log_view.focus()

    def on_unmount(self) -> None:
        self._unsubscribe()

    # -- following -------------------------------------------------------------------

    def _on_engine_changed(self, change: EngineChanged) -> None:
        # Called on the event loop thread, possibly many times per second: coalesce.
        if self.task_id in change.task_ids and not self._flush_scheduled:
            self._flush_scheduled = True
            self.set_timer(COALESCE_SECONDS, self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        self._read()

    @work(group="log-read", exit_on_error=False)
    async def _read(self) -> None:
        new = await self.transcript.read()
        if new is None:
            return  # another read is under way
        self.reads += 1
        self._append(new)

    def _append(self, new: list[str]) -> None:
        if new:
            dropped = len(self.lines) + len(new) > MAX_LINES
            self.lines.extend(new)
            found = [line for line in new if matches(line, self.query_text)] if self.query_text else []
            if dropped and self.query_text:
                self.match_count = sum(1 for line in self.lines if matches(line, self.query_text))
                self.current_match = None  # the indexes moved with the lines dropped
            else:
                self.match_count += len(found)
            self.log_view.write_lines(found if self.only_matching and self.query_text else new)
        self._show_header()

    def action_unfold(self) -> None:
        """Show thinking, tool results and written files whole (or folded again)."""
        if self.transcript.reading:
            self.notify("still reading the log; try again in a moment", markup=False)
            return
        self.unfolded = self.transcript.unfold = not self.unfolded
        self.lines.clear()
        self.match_count = 0
        self.log_view.clear()
        self._append(self.transcript.render())

    def _show_header(self) -> None:
        row = self.engine.row(self.task_id)
        text = Text()
        text.append("log  ", "dim")
        text.append(self.task_id, "bold")
        if row is not None:
            text.append(f"  {row.state}  lane {row.lane}")
        text.append(f"  {len(self.lines)} line(s)", "dim")
        if not self.lines:
            text.append("  (no attempt log yet)" if self.reads else "  (reading\u2026)", "dim")
        if self.unfolded:
            text.append("  unfolded", "dim")
        if self.query_text and self.only_matching:
            text.append("\n")
            text.append(f"{self.match_count} of {len(self.lines)} lines match ", "bold")
            text.append(repr(one_line(self.query_text, 80)), "bold")
            text.append("   &: all lines  escape: clear", "dim")
        elif self.query_text:
            text.append("\n")
            where = self._match_position()
            if not self.match_count:
                text.append("no line matches ", "bold")
            elif where is not None:
                text.append(f"match {where} of {self.match_count} (line {self.current_match + 1}) ", "bold")
            else:
                text.append(f"{self.match_count} line(s) match ", "bold")
            text.append(repr(one_line(self.query_text, 80)), "bold")
            text.append("   n/N: next/previous  &: only matching lines  escape: clear", "dim")
        else:
            text.append("   / search  z fold  esc back", "dim")
        self.query_one("#log-header", Static).update(text)

    # -- search ----------------------------------------------------------------------

    def action_search(self) -> None:
        box = self.search_input
        box.display = True
        box.value = self.query_text
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "log-search":
            return
        event.stop()  # the dashboard's own filter handler must not see it
        self.set_query(event.value)

    def set_query(self, query: str) -> None:
        """Search for `query` (case-insensitive): go to its first line from the top of the view,
        or, with only matching lines shown, show those; "" clears the search."""
        self.query_text = query if query.strip() else ""
        box = self.search_input
        box.display = bool(self.query_text)
        self.match_count = sum(1 for line in self.lines if matches(line, self.query_text)) if self.query_text else 0
        self.current_match = None
        if not self.query_text:
            self.only_matching = False
        self._redraw()
        if self.query_text and not self.only_matching:
            self._go_to_match(int(self.log_view.scroll_y) - 1, 1)
        self.log_view.focus()
        self._show_header()

    def _redraw(self) -> None:
        log = self.log_view
        log.clear()
        if self.only_matching and self.query_text:
            log.write_lines([line for line in self.lines if matches(line, self.query_text)])
        else:
            log.write_lines(list(self.lines))
        log.scroll_end(animate=False)

    def action_next_match(self, direction: int) -> None:
        if not self.query_text:
            self.action_search()
            return
        if self.only_matching:
            self.log_view.scroll_relative(y=direction, animate=False)  # every line is a match here
            return
        start = self.current_match if self.current_match is not None else int(self.log_view.scroll_y) - 1
        self._go_to_match(start, direction)
        self._show_header()

    def _go_to_match(self, after: int, direction: int) -> None:
        """Go to the first matching line past index `after` in `direction`, wrapping round."""
        count = len(self.lines)
        for step in range(1, count + 1):
            index = (after + direction * step) % count
            if matches(self.lines[index], self.query_text):
                self.current_match = index
                # A few lines of context above it, as less leaves the match near the top.
                self.log_view.scroll_to(y=max(0, index - 2), animate=False)
                return

    def _match_position(self) -> int | None:
        """Which match (1-based) the current one is, counting from the top."""
        if self.current_match is None or self.current_match >= len(self.lines):
            return None
        return 1 + sum(1 for line in list(self.lines)[:self.current_match] if matches(line, self.query_text))

    def action_toggle_only_matching(self) -> None:
        if not self.query_text:
            self.notify("search first (/), then & shows only the matching lines", markup=False, timeout=3)
            return
        self.only_matching = not self.only_matching
        self._redraw()
        if not self.only_matching and self.current_match is not None:
            self.log_view.scroll_to(y=max(0, self.current_match - 2), animate=False)
        self._show_header()

    def action_back(self) -> None:
        box = self.search_input
        if self.query_text or box.has_focus:
            box.value = ""
            if self.query_text:
                self.set_query("")
            else:
                box.display = False
                self.log_view.focus()
            return
        self.dismiss(None)
