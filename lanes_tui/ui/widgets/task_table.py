"""The task table: one line per task, drawn line by line, with a selection that follows the task.

A DataTable cannot re-sort by a key of our own or skip columns at narrow widths,
and re-adding 10,000 rows on every change is too slow, so this is a ScrollView
using the Line API: only the visible lines are rendered. The order is kept in a
plain list (running, queued oldest first, then failed and completed newest
first); the cursor is a task id, not a row number, so rows can move under it
(as htop does). All text in a row was sanitised by the engine; it is drawn as
plain `Text`, never parsed as markup.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable, Iterable

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from lanes_tui.core.states import CLAIMED, COMPLETED, FAILED, QUEUED
from lanes_tui.engine.service import TaskRow
from lanes_tui.ui import formatting as fmt
from lanes_tui.ui.short_ids import ShortIds
from lanes_tui.ui.task_filter import TaskFilter


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int
    priority: int  # lower goes first when the table is too narrow
    right: bool = False


COLUMNS = (
    Column("mark", "", 1, 99),
    Column("id", "ID", 8, 98),  # as wide as the shortest unique ids shown (ui/short_ids.py)
    Column("title", "TITLE", 16, 85),  # takes part of what is left
    Column("lane", "LANE", 8, 90),
    Column("state", "STATE", 9, 97),
    Column("vme", "VENDOR/MODEL/EFFORT", 14, 40),
    Column("owner", "OWNER", 16, 20),
    Column("age", "AGE", 5, 60, right=True),
    Column("lease", "LEASE", 7, 50, right=True),
    Column("attempts", "TRY", 3, 30, right=True),
    Column("activity", "ACTIVITY", 10, 80),  # takes what is left
    Column("changes", "CHANGES", 9, 35, right=True),
    Column("cost", "COST", 8, 10, right=True),
)
FLEX = "activity"
TITLE_EXTRA = 24  # the title grows by at most this much; the activity takes the rest
MAX_ID_WIDTH = 22
_RANK = {CLAIMED: 0, QUEUED: 1, FAILED: 2, COMPLETED: 3}
# Columns `o` sorts by, in the order it cycles through them ("state" is the default order).
SORTABLE = ("state", "id", "title", "lane", "vme", "age", "attempts", "changes", "cost")
SortKey = tuple


def _stamp(row: TaskRow) -> float:
    return row.created_at.timestamp() if row.created_at else 0.0


def sort_key(row: TaskRow, by: str = "state") -> SortKey:
    """Where `row` goes when sorting by column `by`, ascending (`O` shows the reverse).

    The default ("state") is the working order: running, queued oldest first, then failed
    and completed newest first. Other columns sort by their value, ties in that order; a
    missing value (no cost, no attempts yet) goes last."""
    rank = _RANK.get(row.state, 4)
    working = (rank, _stamp(row) if rank <= 1 else -_stamp(row))
    if by == "title":
        return (row.title.casefold(), *working)
    if by == "lane":
        return (row.lane.casefold(), *working)
    if by == "vme":
        return ("/".join((row.vendor, row.model, row.effort)).casefold(), *working)
    if by in ("id", "age"):
        return (-_stamp(row) if by == "age" else _stamp(row), row.id)  # age: youngest first
    if by == "attempts":
        return (row.attempts is None, -(row.attempts or 0), *working)  # most tries first
    if by == "cost":
        return (row.cost_usd is None, -(row.cost_usd or 0.0), *working)  # dearest first
    if by == "changes":
        return (not row.changes, row.changes, *working)
    return working


def fit_columns(width: int, id_width: int = 8) -> list[tuple[Column, int]]:
    """The columns that fit in `width` (one space between), the flexible ones widened; the id
    column as wide as `id_width` (the widest short id shown)."""
    shown = [replace(c, width=max(c.width, min(id_width, MAX_ID_WIDTH))) if c.key == "id" else c for c in COLUMNS]
    def needed(cols: list[Column]) -> int:
        return sum(c.width for c in cols) + len(cols) - 1
    while len(shown) > 3 and needed(shown) > width:
        shown.remove(min(shown, key=lambda c: c.priority))
    spare = max(0, width - needed(shown))
    has_flex = any(c.key == FLEX for c in shown)
    title_extra = min(TITLE_EXTRA, spare // 2) if has_flex else spare
    widths = []
    for c in shown:
        extra = title_extra if c.key == "title" else spare - title_extra if c.key == FLEX else 0
        widths.append((c, c.width + extra))
    return widths


class TaskTable(ScrollView, can_focus=True):
    """Rows of TaskRow; `selected_id` is the task under the cursor, `marked` the multi-selection."""

    # The selected row: $lanes-selected, a background every state colour and $lanes-muted read
    # on (4.5:1, tests/ui/test_theme_contrast.py); the cells keep their colours. Paler while the
    # table is not focused (the filter box is).
    DEFAULT_CSS = """
    TaskTable { background: $surface; height: auto; min-height: 3; overflow-x: hidden; }
    TaskTable > .task-table--header { text-style: bold; color: $text-muted; background: $panel; }
    TaskTable > .task-table--cursor { background: $lanes-selected 60%; }
    TaskTable:focus > .task-table--cursor { background: $lanes-selected; text-style: bold; }
    TaskTable > .task-table--queued { color: $lanes-queued; }
    TaskTable > .task-table--claimed { color: $lanes-claimed; }
    TaskTable > .task-table--completed { color: $lanes-completed; }
    TaskTable > .task-table--failed { color: $lanes-failed; }
    TaskTable > .task-table--attention { color: $lanes-attention; text-style: bold; }
    TaskTable > .task-table--muted { color: $lanes-muted; }
    TaskTable > .task-table--marked { color: $lanes-attention; text-style: bold; }
    """
    COMPONENT_CLASSES = {
        "task-table--header", "task-table--cursor", "task-table--queued", "task-table--claimed",
        "task-table--completed", "task-table--failed", "task-table--attention", "task-table--muted",
        "task-table--marked",
    }
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.page_down"),
        Binding("home,g", "edge(0)", "First", show=False, id="table.first"),
        Binding("end,G", "edge(1)", "Last", show=False, id="table.last"),
    ]

    class SelectionChanged(Message):
        """The cursor is on another task (or on none: task_id is None)."""

        def __init__(self, task_id: str | None) -> None:
            super().__init__()
            self.task_id = task_id

    def __init__(self, now: Callable[[], datetime], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._now = now
        self._all: dict[str, TaskRow] = {}
        self._keys: list[tuple[SortKey, str]] = []  # (sort_key, id) of the rows shown, ascending
        self._short = ShortIds()  # the shown ids' shortest unique forms
        self._shown_version = 0  # bumped whenever the rows shown (or their order) change
        self._id_width_key: tuple[int, int, int] | None = None
        self._id_width_cached = 0
        self.sort_by = "state"
        self.sort_reverse = False
        self._order: list[str] = []  # ids shown, in display order
        self._position: dict[str, int] = {}
        self.selected_id: str | None = None
        self.marked: set[str] = set()
        self.filter = TaskFilter()

    # -- data ----------------------------------------------------------------------------

    def set_rows(self, rows: Iterable[TaskRow]) -> None:
        self._all = {row.id: row for row in rows}
        self._resort()

    def update_rows(self, changed: dict[str, TaskRow | None]) -> None:
        """Apply changed rows (None: the task is gone), keeping the order and the selection.

        Each changed row leaves its old place and is inserted at its new one by bisection:
        a change costs a few list operations, not a sort of 10,000 rows.
        """
        for task_id, row in changed.items():
            old = self._all.get(task_id)
            if old is not None and self.filter.matches(old):
                key = (sort_key(old, self.sort_by), task_id)
                at = bisect.bisect_left(self._keys, key)
                if at < len(self._keys) and self._keys[at] == key:
                    del self._keys[at]
            if row is None:
                self._all.pop(task_id, None)
                self.marked.discard(task_id)
                self._short.discard(task_id)
                continue
            self._all[task_id] = row
            if self.filter.matches(row):
                bisect.insort(self._keys, (sort_key(row, self.sort_by), task_id))
                self._short.add(task_id)
            else:
                self._short.discard(task_id)
        self._reorder()

    def set_filter(self, task_filter: TaskFilter) -> None:
        self.filter = task_filter
        self._resort()

    def set_sort(self, by: str, reverse: bool = False) -> None:
        """Sort by column `by` (one of SORTABLE), ascending or reversed; the cursor stays on its task."""
        if by not in SORTABLE:
            raise ValueError(f"cannot sort by {by!r}")
        self.sort_by, self.sort_reverse = by, reverse
        self._resort()

    def sort_label(self) -> str:
        """How the rows are sorted, for the status line: "" for the default order."""
        if self.sort_by == "state" and not self.sort_reverse:
            return ""
        title = next(c.title for c in COLUMNS if c.key == self.sort_by)
        return f"sorted by {title.lower()}{' (reversed)' if self.sort_reverse else ''}"

    def short_id(self, task_id: str) -> str:
        """The form of `task_id` the ID column shows (unique among the rows shown)."""
        return self._short.label(task_id)

    def row(self, task_id: str) -> TaskRow | None:
        return self._all.get(task_id)

    @property
    def shown_ids(self) -> list[str]:
        return list(self._order)

    @property
    def total(self) -> int:
        return len(self._all)

    def toggle_mark(self) -> None:
        if self.selected_id is None:
            return
        if self.selected_id in self.marked:
            self.marked.discard(self.selected_id)
        else:
            self.marked.add(self.selected_id)
        self.refresh()

    def targets(self) -> list[str]:
        """What a bulk action applies to: the marked tasks still shown, else the selected one."""
        marked = [task_id for task_id in self._order if task_id in self.marked]
        if marked:
            return marked
        return [self.selected_id] if self.selected_id is not None else []

    def next_matching(self, wanted: Callable[[TaskRow], bool]) -> str | None:
        """The first shown task after the cursor (wrapping round) for which `wanted` holds."""
        if not self._order:
            return None
        start = (self.cursor if self.cursor is not None else -1) + 1
        for offset in range(len(self._order)):
            task_id = self._order[(start + offset) % len(self._order)]
            if wanted(self._all[task_id]):
                return task_id
        return None

    def select(self, task_id: str) -> bool:
        if task_id not in self._position:
            return False
        self._move_to(self._position[task_id])
        return True

    def _resort(self) -> None:
        shown = self._all.values() if not self.filter else filter(self.filter.matches, self._all.values())
        self._keys = sorted((sort_key(row, self.sort_by), row.id) for row in shown)
        self._short = ShortIds(task_id for _, task_id in self._keys)
        self._reorder()

    def _reorder(self) -> None:
        """Re-derive positions from the sorted keys and put the cursor back on its task."""
        previous = self.selected_id
        old_index = self._position.get(previous, 0) if previous else 0
        rows_before = len(self._order)
        self._shown_version += 1
        self._order = [task_id for _, task_id in (reversed(self._keys) if self.sort_reverse else self._keys)]
        self._position = {task_id: i for i, task_id in enumerate(self._order)}
        self.virtual_size = Size(self._width(), len(self._order) + 1)
        if len(self._order) != rows_before:
            # As tall as its rows (up to its max-height): the detail pane gets the rest, not empty rows.
            self.refresh(layout=True)
        if previous in self._position:
            self._scroll_to_cursor(self._position[previous])
        elif self._order:
            # The selected task left the view: stay at the same place in the list.
            self._move_to(min(old_index, len(self._order) - 1))
        else:
            self._set_selected(None)
        self.refresh()

    def visible_times(self, now: datetime) -> tuple[str, ...]:
        """The age and lease cells on screen now: the clock tick redraws only when they change."""
        top = int(self.scroll_y)
        cells: list[str] = []
        for task_id in self._order[top:top + max(0, self.size.height - 1)]:
            row = self._all[task_id]
            cells += (fmt.age(row.created_at, now), fmt.left(row.lease_expires_at, now))
        return tuple(cells)

    # -- cursor --------------------------------------------------------------------------

    @property
    def cursor(self) -> int | None:
        return self._position.get(self.selected_id) if self.selected_id else None

    def action_cursor(self, delta: int) -> None:
        if self._order:
            self._move_to(max(0, min(len(self._order) - 1, (self.cursor or 0) + delta)))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.size.height - 2))

    def action_edge(self, end: int) -> None:
        if self._order:
            self._move_to(len(self._order) - 1 if end else 0)

    def _move_to(self, index: int) -> None:
        self._set_selected(self._order[index])
        self._scroll_to_cursor(index)
        self.refresh()

    def _set_selected(self, task_id: str | None) -> None:
        if task_id != self.selected_id:
            self.selected_id = task_id
            self.post_message(self.SelectionChanged(task_id))

    def _scroll_to_cursor(self, index: int) -> None:
        rows_visible = max(1, self.size.height - 1)
        top = int(self.scroll_y)
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + rows_visible:
            self.scroll_to(y=index - rows_visible + 1, animate=False)

    def on_click(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.y == 0:
            self._sort_at(event.x)
            return
        index = int(self.scroll_y) + event.y - 1
        if 0 <= index < len(self._order):
            self._move_to(index)

    def _id_width(self) -> int:
        """The widest short id on screen: the rows drawn, not all 10,000 (whose widest label
        would be reckoned again on every new task). Cached per scroll position and row set."""
        top = int(self.scroll_y)
        key = (top, self.size.height, self._shown_version)
        if key != self._id_width_key:
            shown = self._order[top:top + max(0, self.size.height - 1)]
            self._id_width_key = key
            self._id_width_cached = max((len(self._short.label(task_id)) for task_id in shown), default=0)
        return self._id_width_cached

    def _sort_at(self, x: int) -> None:
        """A click on a heading sorts by that column; a second click reverses."""
        left = 0
        for column, width in fit_columns(self._width(), self._id_width()):
            if left <= x < left + width and column.key in SORTABLE:
                reverse = not self.sort_reverse if column.key == self.sort_by else False
                self.set_sort(column.key, reverse)
                return
            left += width + 1

    def on_resize(self) -> None:
        self.virtual_size = Size(self._width(), len(self._order) + 1)

    def _width(self) -> int:
        """Columns for the cells: the vertical scrollbar, when shown, takes its share."""
        return self.scrollable_content_region.width or self.size.width

    # -- drawing -------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self._width()
        columns = fit_columns(width, self._id_width())
        if y == 0:
            style = self.get_component_rich_style("task-table--header")
            return self._strip([(c, w, Text(self._heading(c))) for c, w in columns], style, width)
        index = int(self.scroll_y) + y - 1
        if index >= len(self._order):
            return Strip.blank(width, self.rich_style)
        row = self._all[self._order[index]]
        cells = [(c, w, self._cell(c.key, row)) for c, w in columns]
        base = self.rich_style
        if index == self.cursor:
            base = base + self.get_component_rich_style("task-table--cursor")
        return self._strip(cells, base, width)

    def _strip(self, cells: list[tuple[Column, int, Text]], style: Style, width: int) -> Strip:
        segments: list[Segment] = []
        for i, (column, cell_width, text) in enumerate(cells):
            if i:
                segments.append(Segment(" ", style))
            text = text.copy()
            text.truncate(cell_width, overflow="ellipsis", pad=False)
            pad = cell_width - text.cell_len
            if column.right:
                segments.append(Segment(" " * pad, style))
            # Text.render drops the Text's own style when it has no spans: fold it in here.
            cell_style = style + text.style if isinstance(text.style, Style) else style
            segments.extend(Segment(seg.text, cell_style + seg.style if seg.style else cell_style)
                            for seg in text.render(self.app.console))
            if not column.right:
                segments.append(Segment(" " * pad, style))
        return Strip(segments).crop_extend(0, width, style)

    def _heading(self, column: Column) -> str:
        if column.key != self.sort_by or (column.key == "state" and not self.sort_reverse):
            return column.title
        return column.title + ("\u25bc" if self.sort_reverse else "\u25b2")

    def _cell(self, key: str, row: TaskRow) -> Text:
        now = self._now()
        if key == "mark":
            return Text("\u25cf", self._style("marked")) if row.id in self.marked else Text(" ")
        if key == "id":
            return Text(self._short.label(row.id))
        if key == "title":
            return Text(row.title)
        if key == "lane":
            return Text(row.lane)
        if key == "state":
            if row.asking:  # its agent waits for a person's answer (the activity column says what)
                return Text("input", self._style("attention"))
            label = "attention" if row.attention and row.state != FAILED else row.state
            return Text(row.state, self._style(label if label in ("attention",) else row.state))
        if key == "vme":
            parts = [p for p in (row.vendor, row.model, row.effort) if p]
            return Text("/".join(parts), self._style("muted") if not row.ours else Style())
        if key == "owner":
            return Text(row.owner, self._style("muted"))
        if key == "age":
            return Text(fmt.age(row.created_at, now))
        if key == "lease":
            text = fmt.left(row.lease_expires_at, now)
            return Text(text, self._style("attention") if text == "expired" else Style())
        if key == "attempts":
            return Text("" if row.attempts is None else str(row.attempts))
        if key == "activity":
            if row.asking:
                return Text(row.reason, self._style("attention"))
            if row.activity:
                return Text(row.activity)
            if row.state == QUEUED and row.reason and not row.reason.startswith("waiting"):
                # The column says why a queued task is not running: "waiting: all 2 slot(s) busy".
                return Text(f"waiting: {row.reason}", self._style("attention" if row.attention else "muted"))
            return Text(row.reason, self._style("failed" if row.state == FAILED else "muted"))
        if key == "changes":
            return Text(row.changes, self._style("muted") if row.changes in ("merged", "no edits") else Style())
        if key == "cost":
            return Text(fmt.money(row.cost_usd))
        return Text("")

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"task-table--{name}", partial=True)
