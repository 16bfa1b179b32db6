"""LanesApp: the dashboard. Watches the queue, runs the supervisor, and steers it by keyboard.

The app owns an `Engine` (the engine service) and draws snapshots of it. Engine changes
arrive as callbacks on the event loop; they are coalesced (ids collected, one
redraw per COALESCE_SECONDS) so a burst of worker output costs one repaint.
Nothing here polls the queue: the only timer redraws ages and lease countdowns
once a second, from memory.

Every action is an `action_*` with a `Binding` id (remappable through the
settings' `keys:`), listed in the `?` help screen and the command palette.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Input, Static
from textual.worker import Worker, WorkerState

from lanes_tui.core.errors import LanesError
from lanes_tui.core.sanitize import one_line
from lanes_tui.core.states import CLAIMED, FAILED
from lanes_tui.engine import events as ev
from lanes_tui.engine.service import (
    DEPENDENCY_WAIT,
    Engine,
    EngineChanged,
    LaneRow,
    Totals,
    VendorRow,
)
from lanes_tui.ui import formatting as fmt
from lanes_tui.ui.task_filter import TaskFilter
from lanes_tui.ui.widgets.detail_pane import DetailPane
from lanes_tui.ui.widgets.header_bar import HeaderBar
from lanes_tui.ui.widgets.lanes_panel import LanesPanel
from lanes_tui.ui.widgets.task_table import TaskTable

HANGUP_SIGNALS = (signal.SIGHUP, signal.SIGTERM)
DETAIL_TRANSCRIPT_LINES = 200  # of a worker this session did not run, read from its attempt logs
COALESCE_SECONDS = 0.02  # a burst of worker output costs one redraw; a change still shows at once
EXIT_OK, EXIT_CONFLICT, EXIT_ERROR = 0, 1, 70

# (id, key, description, action, show in footer)
KEYS: tuple[tuple[str, str, str, str, bool], ...] = (
    ("submit", "n", "Submit", "submit", True),
    ("break", "b", "Break claim", "break_claim", True),
    ("cancel", "c", "Cancel", "cancel", True),
    ("retry", "r", "Retry", "retry", True),
    ("merge", "m", "Merge", "merge", True),
    ("diff", "d", "Diff", "diff", False),
    ("mark", "space", "Mark", "mark", False),
    ("attention", "a", "Next attention", "next_attention", False),
    ("acknowledge", "x", "Acknowledge", "acknowledge", False),
    ("filter", "slash", "Filter", "filter", True),
    ("sort", "o", "Sort", "sort_next", False),
    ("sort_reverse", "O", "Reverse sort", "sort_reverse", False),
    ("open", "enter", "Open", "open_task", False),
    ("log", "l", "Log", "log", True),
    ("pause", "p", "Pause lane", "pause_lane", True),
    ("cap_up", "plus", "More workers", "cap(1)", False),
    ("cap_down", "minus", "Fewer workers", "cap(-1)", False),
    ("locks", "L", "Locks", "locks", False),
    ("agents", "A", "Agents", "agents", False),
    ("hosts", "H", "Hosts", "hosts", False),
    ("messages", "M", "Messages", "messages", False),
    ("requests", "i", "Needs input", "requests", False),
    ("theme", "t", "Theme", "themes", False),
    ("help", "question_mark", "Help", "help", True),
    ("quit", "q", "Quit", "quit", True),
)
HELP_TEXT = {
    "submit": "Submit a task (form: lane, task file or prompt, paths, vendor, model, effort, metadata)",
    "break": "Break the claim of the selected (or marked) task: back to queued, with an audit event",
    "cancel": "Cancel the selected (or marked) task: queued or claimed -> failed (cancelled)",
    "retry": "Retry the selected (or marked) failed task as a new task, optionally on another vendor/model/effort",
    "merge": "Merge the selected completed task's branch into its base branch (shows the target and the conflict check first)",
    "diff": "The selected task's branch as a diff, base to tip",
    "attention": "Jump to the next task that needs attention (failed, denied tool calls, stuck, expired lease)",
    "acknowledge": "Acknowledge the selected (or marked) finished task's problem: it stops counting as needing "
                   "attention (an `acknowledged` event on the task, seen by every dashboard on the queue)",
    "mark": "Mark or unmark the selected task for a bulk cancel, retry or break",
    "filter": "Filter as you type: lane: state: vendor: model: effort: (prefixes) and free words; escape clears",
    "sort": "Sort by the next column (ID, title, lane, vendor, age, tries, changes, cost; back to the working order); "
            "a click on a heading sorts by it",
    "sort_reverse": "Reverse the sort order",
    "open": "Open the full task screen (prompt, paths, all events, transcript)",
    "log": "Full-screen transcript of the selected task, every attempt (/ searches, n/N next/previous, "
           "& only matching lines, z unfolds)",
    "pause": "Pause or resume claiming on the selected task's lane",
    "cap_up": "Allow one more worker at a time",
    "cap_down": "Allow one worker fewer at a time (running workers are never stopped)",
    "locks": "Advisory file locks agents hold (holder, reason, expiry, alive?); b breaks the selected one",
    "agents": "Agents registered in this repository: status (active, idle, offline), last seen, task, note",
    "hosts": "Every host's supervisor on the queue: running, late or dead by its heartbeat, workers/capacity, "
             "its tasks; and how changes reach this dashboard (LISTEN/NOTIFY, polling, degraded)",
    "messages": "Messages between agents, newest last, with the selected one's full body; w writes one as the operator",
    "requests": "What waits for you: agents' questions, blockers and permission requests, oldest first; 1-9 picks "
                "an option, r (or enter) replies in words, a/A allow once/for the task, d/D deny/deny and stop",
    "theme": "Switch theme",
    "help": "This help",
    "quit": "Quit (asks what to do with running workers)",
}


# The actions of KEYS by name (without their arguments: `cap(1)` is `cap`).
KEY_ACTIONS = frozenset(action.split("(", 1)[0] for _, _, _, action, _ in KEYS)
# Available on every screen; every other key acts on the task table, so only on the dashboard
# itself, and is left out of an inner screen's footer and does nothing there.
GLOBAL_ACTIONS = frozenset({"help", "quit", "themes"})
# Also on the task screen, for the task it shows.
TASK_SCREEN_ACTIONS = frozenset({"log", "diff"})


class LanesApp(App[int]):
    TITLE = "lanes-tui"
    CSS_PATH = "lanes.tcss"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [Binding(key, action, label, show=show, id=binding_id) for binding_id, key, label, action, show in KEYS]

    def __init__(
        self,
        engine: Engine,
        *,
        queue_name: str,
        now: Callable[[], datetime] | None = None,
        keymap: dict[str, str] | None = None,
        theme_dirs: Iterable[Path] | None = None,
        notify: Callable[[str, str], None] | None = None,
        tick_seconds: float = 1.0,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.queue_name = queue_name
        self.now = now or engine.store.now
        self._key_overrides = dict(keymap or {})  # not `_keymap`: that is Textual's own attribute
        self._theme_dirs = list(theme_dirs) if theme_dirs is not None else None
        self._notify_hook = notify
        self._tick_seconds = tick_seconds
        # Errors of background work (loading a detail, an operator action, the engine itself):
        # shown at once, and printed on stderr once the terminal is back (commands/dashboard.py).
        self.worker_errors: list[str] = []
        self._pending_ids: set[str] = set()
        self._pending_all = False
        self._flush_scheduled = False
        self._detail_cache: dict[str, Any] = {}
        self._summary: tuple[Totals, list[LaneRow], list[VendorRow]] | None = None
        self._shown_times: tuple[str, ...] = ()
        self._shown_lane_ages: tuple[str, ...] = ()
        self._quitting: str | None = None  # "leave" | "stop" once the operator chose
        self._exit_code = EXIT_OK  # 128 + signal number after SIGHUP/SIGTERM
        self._hung_up = False  # SIGHUP: the terminal is gone
        self.loaded = asyncio.Event()  # the first full table is drawn (tests, benchmarks)
        self.engine.subscribe(self._on_engine_changed)  # for the app's whole life

    def get_theme_variable_defaults(self) -> dict[str, str]:
        # The $lanes-* variables must resolve before any theme file is loaded (and for
        # Textual's own themes, which know nothing of them): the light palette for a light one.
        from lanes_tui.ui.themes import lanes_variable_defaults

        return lanes_variable_defaults(dark=self.current_theme.dark)

    # -- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes: engine changes and the clock tick redraw them while another
        # screen (a task screen, a modal) is on top, where a query would not find them.
        self.header_bar = HeaderBar(id="header")
        self.lanes_panel = LanesPanel(id="lanes")
        self.table = TaskTable(self.now, id="tasks")
        self.filter_box = Input(placeholder="filter as you type: lane: state: vendor: model: effort: and words "
                                "(enter: to the table, escape: clear)", id="filter")
        self.filter_box.display = False
        self.filter_note = Static("", id="filter-note")  # what in the filter was not understood
        self.filter_note.display = False
        self.detail_pane = DetailPane(id="detail")
        yield self.header_bar
        yield self.lanes_panel
        # The table is as tall as its rows, up to a share of what is left under the lanes; the
        # detail pane takes the rest (lanes.tcss): no empty rows above a cramped detail.
        with Vertical(id="work"):
            yield self.table
            yield self.filter_box
            yield self.filter_note
            yield self.detail_pane
        yield Footer()

    def on_mount(self) -> None:
        if self._key_overrides:
            unknown = sorted(k for k in self._key_overrides if "." not in k and k not in HELP_TEXT)
            if unknown:
                self.notify(f"settings keys: unknown binding id(s) {', '.join(unknown)}; press ? for the ids",
                            severity="warning", markup=False, timeout=10)
            self.set_keymap(self._key_overrides)
        self._load_themes()
        self._watch_signals()
        self.table.focus()
        self._redraw_summary()
        self.set_interval(self._tick_seconds, self._tick)
        self.run_engine()

    def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in HANGUP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
        self.engine.close()

    def _watch_signals(self) -> None:
        """The terminal closed (SIGHUP) or someone asks us to stop (SIGTERM): stop the workers and
        release their claims with a reason, as `q` then "stop them" would, instead of dying with
        claims that only a lease expiry or the next supervisor would free."""
        loop = asyncio.get_running_loop()
        for signum in HANGUP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self._on_stop_signal, signum)

    def _on_stop_signal(self, signum: int) -> None:
        self._exit_code = 128 + signum
        if signum == signal.SIGHUP and not self._hung_up:
            # Nobody sees us any more, and Textual's shutdown can block for ever writing to the
            # dead terminal: once the workers are down, leave without it (and leave anyway if
            # winding down takes longer than the supervisor's grace periods allow).
            self._hung_up = True
            settings = self.engine.settings
            asyncio.get_running_loop().call_later(settings.kill_grace_seconds + 10, self._leave_now)
        if self._quitting == "stop":
            self.engine.stop_workers_now()
            return
        self._stop("stop", reason=f"dashboard got {signal.Signals(signum).name}")

    def _leave_now(self) -> None:
        """Exit the process at once (the terminal is gone): no worker of ours may outlive us and
        no claim of ours stays without a reason, so abandon what the wind-down did not finish."""
        self.engine.abandon_now("dashboard's terminal closed; claim released")
        os._exit(self._exit_code)

    def _load_themes(self) -> None:
        from lanes_tui.ui.themes import (
            BUILTIN_THEME_DIR,
            FALLBACK_DARK,
            fallback_themes,
            load_themes,
            user_theme_dir,
        )

        for theme in fallback_themes():
            self.register_theme(theme)
        dirs = self._theme_dirs if self._theme_dirs is not None else [BUILTIN_THEME_DIR, user_theme_dir()]
        loaded = load_themes(dirs)
        for theme in loaded.themes:
            self.register_theme(theme)
        for problem in loaded.problems:
            self.notify(f"theme skipped: {problem.path}: {problem.message}", severity="warning", markup=False,
                        timeout=8)
        self._restore_theme(FALLBACK_DARK)

    # The theme picked with `t` is remembered for the next run (lanes_tui/ui/dashboard_state.py).
    _state_path: Path | None = None  # None until the themes are loaded: nothing is saved before
    _remembered_theme: str | None = None

    def _restore_theme(self, default: str) -> None:
        from lanes_tui.ui.dashboard_state import read_state, state_path

        path = state_path()
        state, problem = read_state(path)
        theme = default
        if problem is not None:
            self.notify(f"theme not restored: {problem}", severity="warning", markup=False, timeout=8)
        elif state.theme is not None and state.theme not in self.available_themes:
            self.notify(f"theme not restored: {one_line(str(path))}: no theme named {one_line(state.theme, 60)!r}; "
                        f"using {default}", severity="warning", markup=False, timeout=8)
        elif state.theme is not None:
            theme = state.theme
        self._remembered_theme = theme  # starting on it is no reason to write the file
        self._state_path = path
        self.theme = theme

    def watch_theme(self, theme: str) -> None:
        if self._state_path is None or theme == self._remembered_theme:
            return
        from lanes_tui.ui.dashboard_state import describe_error, save_theme

        self._remembered_theme = theme
        try:
            save_theme(self._state_path, theme)
        except (OSError, LanesError) as exc:
            self.notify(f"theme not remembered: {describe_error(exc)}", severity="warning", markup=False, timeout=8)

    # -- background work ---------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that raised: never a silent empty screen. The engine's own worker failing
        means nothing is supervised or followed any more: the dashboard exits with 70."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        what = event.worker.group or event.worker.name or "background work"
        text = one_line(f"{what}: {type(error).__name__}: {error}", 300)
        self.worker_errors.append(text)
        if event.worker.group == "engine":
            self.exit(EXIT_ERROR, message=f"lanes-tui: internal error in the dashboard's supervisor ({text})")
            return
        self.notify(f"internal error in {text}", title="lanes-tui", severity="error", markup=False, timeout=15)

    # -- the engine -------------------------------------------------------------------

    @work(group="engine", exclusive=True, exit_on_error=False)
    async def run_engine(self) -> None:
        # The empty screen first, then the scan: the scan runs in a thread, and with Textual's
        # start-up competing for the interpreter a 10,000-task scan took three times as long.
        await self._painted()
        try:
            await self.engine.start(on_loaded=self._first_frame)
        except LanesError as exc:
            self.exit(EXIT_CONFLICT if exc.exit_code == 1 else exc.exit_code, message=one_line(str(exc), 500))
            return
        try:
            await self.engine.run()
        finally:
            if self._hung_up:
                self._leave_now()
            if self._quitting is not None:
                self.exit(self._exit_code)

    async def _first_frame(self) -> None:
        """The store is loaded: draw it, and let the frame reach the screen before the engine
        goes on arming its watcher (which holds the interpreter for a while on big stores)."""
        self.table.set_rows(self.engine.rows())
        self._redraw_summary()
        self._show_detail()
        self.loaded.set()
        await self._painted()

    async def _painted(self) -> None:
        """Once what is on screen now has been drawn."""
        painted = asyncio.Event()
        self.call_after_refresh(painted.set)
        await painted.wait()

    def _on_engine_changed(self, change: EngineChanged) -> None:
        if change.task_ids:
            self._pending_ids |= change.task_ids
        else:
            self._pending_all = True
        if change.event is not None:
            self._announce(change.event)
        for lane in sorted(change.drained_lanes):
            self._alert(f"lane {lane} drained", "information")
        for request in change.requests_arrived:
            self._alert(one_line(f"needs input: {request.kind} {request.id} from {request.agent}: {request.text} "
                                 "(i answers)", 200), "warning")
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.set_timer(COALESCE_SECONDS, self._apply_changes)

    def _apply_changes(self) -> None:
        self._flush_scheduled = False
        ids, self._pending_ids = self._pending_ids, set()
        self._pending_all = False
        if ids:
            self.table.update_rows({task_id: self.engine.row(task_id) for task_id in ids})
            for task_id in ids:
                self._detail_cache.pop(task_id, None)
        self._redraw_summary()
        if self.table.selected_id in ids or not ids:
            self._show_detail()

    def _tick(self) -> None:
        """Ages and lease countdowns move with the clock. Redraw only what shows a different
        string now (an idle dashboard of old tasks redraws nothing); counts change only with
        the engine, so nothing is recomputed here."""
        now = self.now()
        times = self.table.visible_times(now)
        if times != self._shown_times:
            self._shown_times = times
            self.table.refresh()
        if self._summary is not None and self.engine.notifier_degraded() != self._summary[0].notifier_degraded:
            self._redraw_summary()  # the feed's state changes in its thread, with no change to announce it
        if self._summary is not None:
            ages = tuple(fmt.age(lane.oldest_queued_at, now) for lane in self._summary[1])
            if ages != self._shown_lane_ages:
                self._shown_lane_ages = ages
                self._redraw_summary(recompute=False)
        row = self._selected_row()
        if row is not None and row.lease_expires_at is not None:
            # A tick can land while the app shuts down and its widgets are already gone.
            with contextlib.suppress(NoMatches):
                self._show_detail()  # its lease countdown

    def _redraw_summary(self, *, recompute: bool = True) -> None:
        if recompute or self._summary is None:
            self._summary = self.engine.overview()
        totals, lanes, vendors = self._summary
        self.header_bar.show(self.queue_name, self.engine.location(), totals,
                                       watch_only=self.engine.watch_only)
        selected = self.table.row(self.table.selected_id) if self.table.selected_id else None
        self.lanes_panel.show(lanes, self.now(), selected.lane if selected else None, vendors)

    def on_task_table_selection_changed(self, message: TaskTable.SelectionChanged) -> None:
        self._show_detail()
        self._redraw_summary(recompute=False)  # only the lane marker moves

    def _show_detail(self) -> None:
        task_id = self.table.selected_id
        row = self.engine.row(task_id) if task_id else None
        pane = self.detail_pane
        if row is None:
            pane.show(None, None, [], self.now())
            return
        detail = self._detail_cache.get(row.id)
        pane.show(row, detail, self.engine.transcript(row.id), self.now())
        if detail is None:
            self._load_detail(row.id)

    @work(group="detail", exclusive=True, exit_on_error=False)
    async def _load_detail(self, task_id: str) -> None:
        try:
            # The transcript's tail from disk when this session saw no worker of it run; not for
            # a completed task, whose answer takes the log's place (scrolling through finished
            # rows would read an attempt log per row for nothing).
            row = self.engine.row(task_id)
            shows_log = row is not None and row.state != "completed" and not self.engine.transcript(task_id)
            tail = DETAIL_TRANSCRIPT_LINES if shows_log else 0
            detail = await asyncio.to_thread(self.engine.task_detail, task_id, transcript_tail=tail)
        except LanesError as exc:
            detail = {"error": str(exc)}
        self._detail_cache[task_id] = detail
        if self.table.selected_id == task_id:
            self._show_detail()

    def _announce(self, event: ev.SupervisorEvent) -> None:
        """Toast, bell and the notify hook for what an operator must know about."""
        message = None
        severity = "information"
        if isinstance(event, ev.TaskFailed):
            message, severity = f"task failed: {event.task_id}: {one_line(event.reason, 160)}", "error"
        elif isinstance(event, ev.VendorPaused):
            message, severity = f"vendor {event.vendor} paused {event.seconds:.0f} s: {one_line(event.reason, 120)}", "warning"
        elif isinstance(event, ev.TaskWaiting) and not event.reason.startswith(DEPENDENCY_WAIT):
            message, severity = f"task needs attention: {event.task_id}: {one_line(event.reason, 160)}", "warning"
        if message is not None:
            self._alert(message, severity)

    def _alert(self, message: str, severity: str) -> None:
        self.notify(message, severity=severity, markup=False, timeout=6)  # type: ignore[arg-type]
        self.bell()
        if self._notify_hook is not None:
            self._notify_hook(severity, message)

    # -- actions -----------------------------------------------------------------------

    def action_mark(self) -> None:
        self.table.toggle_mark()

    def action_filter(self) -> None:
        box = self.filter_box
        box.display = True
        box.value = self.table.filter.text
        box.focus()

    def action_sort_next(self) -> None:
        from lanes_tui.ui.widgets.task_table import SORTABLE

        following = SORTABLE[(SORTABLE.index(self.table.sort_by) + 1) % len(SORTABLE)]
        self.table.set_sort(following)
        self.notify(self.table.sort_label() or "working order: running, queued, failed, completed", markup=False,
                    timeout=2)

    def action_sort_reverse(self) -> None:
        self.table.set_sort(self.table.sort_by, not self.table.sort_reverse)
        self.notify(self.table.sort_label() or "working order", markup=False, timeout=2)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":  # as you type: every key narrows the table at once
            self._apply_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self._apply_filter(event.value)
            event.input.display = bool(event.value.strip())
            self.table.focus()

    def _apply_filter(self, text: str) -> None:
        task_filter = TaskFilter.parse(text)
        self.table.set_filter(task_filter)
        self.filter_note.update(Text("; ".join(task_filter.errors), "bold"))
        self.filter_note.display = bool(task_filter.errors)

    def _clear_filter(self) -> None:
        box = self.filter_box
        box.value = ""
        box.display = False
        self._apply_filter("")
        self.table.focus()

    def on_key(self, event: Any) -> None:
        if event.key != "escape" or not self._on_main_screen():
            return
        if self.filter_box.has_focus or (self.table.has_focus and self.table.filter.text):
            self._clear_filter()  # escape clears the filter, from the box or from the table
            event.stop()
            event.stop()

    def action_cap(self, delta: int) -> None:
        try:
            cap = self.engine.set_cap((self.engine.global_cap or 1) + delta)
        except LanesError as exc:
            self.notify(one_line(str(exc), 200), severity="warning", markup=False)
            return
        self.notify(f"up to {cap} worker(s) at a time", markup=False, timeout=3)
        self._redraw_summary()

    def action_pause_lane(self) -> None:
        row = self._selected_row()
        if row is None:
            return
        try:
            paused = self.engine.pause_lane(row.lane)
        except LanesError as exc:
            self.notify(one_line(str(exc), 200), severity="warning", markup=False)
            return
        self.notify(f"lane {row.lane} {'paused' if paused else 'resumed'}", markup=False, timeout=3)
        self._redraw_summary()

    def action_cancel(self) -> None:
        targets = [tid for tid in self.table.targets() if (r := self.table.row(tid)) and r.state not in ("completed", FAILED)]
        if not targets:
            self.notify("nothing to cancel: only queued or claimed tasks can be cancelled", severity="warning")
            return
        from lanes_tui.ui.screens.confirm_modal import ConfirmModal

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._bulk("cancel", targets, lambda tid: self.engine.cancel(tid))

        self.push_screen(ConfirmModal("Cancel tasks", _task_list_text("Cancel", targets)), done)

    def action_break_claim(self) -> None:
        targets = [tid for tid in self.table.targets() if (r := self.table.row(tid)) and r.state == CLAIMED]
        if not targets:
            self.notify("nothing to break: only claimed tasks have a claim", severity="warning")
            return
        self._confirm_break(targets)

    @work(group="actions", exit_on_error=False)
    async def _confirm_break(self, targets: list[str]) -> None:
        from lanes_tui.ui.screens.break_modal import BreakModal, break_info

        now = self.now()
        # Reads each task's events: off the event loop, a bulk break of many tasks must not freeze the UI.
        infos = await asyncio.to_thread(lambda: [break_info(self.engine, tid, now) for tid in targets])

        def done(reason: str | None) -> None:
            if reason:
                self._bulk("break", targets, lambda tid: self.engine.break_claim(tid, reason))
                for info in infos:
                    if info.elsewhere:  # this host cannot stop that worker: say when its own host will
                        self.notify(f"{fmt.short_id(info.task_id)}: {info.elsewhere}", title="claim broken",
                                    markup=False, timeout=15)

        self.push_screen(BreakModal(infos), done)

    def action_retry(self) -> None:
        targets = [tid for tid in self.table.targets() if (r := self.table.row(tid)) and r.state == FAILED]
        if not targets:
            self.notify("nothing to retry: only failed tasks can be retried", severity="warning")
            return
        from lanes_tui.ui.screens.retry_modal import RetryModal

        def done(overrides: dict[str, str] | None) -> None:
            if overrides is not None:
                self._bulk("retry", targets, lambda tid: self.engine.retry(tid, overrides))

        self.push_screen(RetryModal(len(targets), self.engine.settings), done)

    def action_merge(self) -> None:
        row = self._selected_row()
        if row is None or row.state != "completed" or not row.changes:
            self.notify("nothing to merge: only a completed task that ran in a worktree has a branch",
                        severity="warning")
            return
        self._confirm_merge(row.id)

    @work(group="actions", exit_on_error=False)
    async def _confirm_merge(self, task_id: str) -> None:
        from lanes_tui.ui.merge_question import MERGEABLE, merge_question
        from lanes_tui.ui.screens.confirm_modal import ConfirmModal

        try:
            target = await self.engine.merge_target(task_id)
        except LanesError as exc:
            self.notify(one_line(str(exc), 300), severity="warning", markup=False)
            return

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._merge(target)

        can = target.plan.how in MERGEABLE
        self.push_screen(ConfirmModal("Merge the task's branch" if can else "This merge would conflict",
                                      merge_question(target), yes_label="Merge", can_confirm=can), done)

    @work(group="actions", exit_on_error=False)
    async def _merge(self, target: Any) -> None:
        try:
            outcome = await self.engine.merge(target)
        except LanesError as exc:
            self.notify(one_line(str(exc), 300), title="not merged", severity="error", markup=False, timeout=10)
            return
        self.notify(f"{outcome.branch} merged into {one_line(outcome.into, 80)} ({outcome.how})", markup=False,
                    timeout=5)

    def action_next_attention(self) -> None:
        task_id = self.table.next_matching(lambda row: row.attention)
        if task_id is not None:
            self.table.select(task_id)
            return
        hidden = self._summary[0].attention if self._summary else 0
        self.notify(f"{hidden} need attention, hidden by the filter (escape clears it)" if hidden
                    else "nothing needs attention", markup=False, timeout=3)

    def action_acknowledge(self) -> None:
        targets = [tid for tid in self.table.targets()
                   if (r := self.table.row(tid)) and r.attention and r.state in ("completed", FAILED)]
        if not targets:
            self.notify("nothing to acknowledge: only a finished task that needs attention can be",
                        severity="warning", markup=False)
            return
        self._bulk("acknowledge", targets, lambda tid: self.engine.acknowledge(tid))

    def action_diff(self) -> None:
        if task_id := self._target_task():
            from lanes_tui.ui.screens.diff_screen import DiffScreen

            self.push_screen(DiffScreen(self.engine, task_id))

    def action_submit(self) -> None:
        from lanes_tui.ui.screens.submit_modal import SubmitModal

        row = self._selected_row()

        def done(task_id: str | None) -> None:
            if task_id:
                self.notify(f"submitted {task_id}", markup=False, timeout=4)
                row = self.engine.row(task_id)  # the batched redraw may not have added it yet
                if row is not None:
                    self.table.update_rows({task_id: row})
                self.table.select(task_id)

        self.push_screen(SubmitModal(self.engine, default_lane=row.lane if row else None), done)

    def _on_main_screen(self) -> bool:
        return len(self.screen_stack) == 1  # the task and log screens open from the table only

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """One meaning per key: a dashboard key never acts on the table hidden under another screen
        (`c` on the locks screen used to cancel the selected task)."""
        if action not in KEY_ACTIONS or action in GLOBAL_ACTIONS or self._on_main_screen():
            return True
        return action in TASK_SCREEN_ACTIONS and self._task_screen_task() is not None

    def _task_screen_task(self) -> str | None:
        from lanes_tui.ui.screens.task_screen import TaskScreen

        screen = self.screen
        return screen.task_id if isinstance(screen, TaskScreen) and len(self.screen_stack) == 2 else None

    def _target_task(self) -> str | None:
        """The task `l` and `d` open: the selected row's on the dashboard, the shown one's on the task screen."""
        return self.table.selected_id if self._on_main_screen() else self._task_screen_task()

    def action_open_task(self) -> None:
        if self.table.selected_id and self._on_main_screen():
            from lanes_tui.ui.screens.task_screen import TaskScreen

            self.push_screen(TaskScreen(self.engine, self.table.selected_id, self.now))

    def action_log(self) -> None:
        if task_id := self._target_task():
            from lanes_tui.ui.screens.log_screen import LogScreen

            self.push_screen(LogScreen(self.engine, task_id))

    def action_locks(self) -> None:
        if self._on_main_screen():
            from lanes_tui.ui.screens.locks_screen import LocksScreen

            self.push_screen(LocksScreen(self.engine, self.now))

    def action_requests(self) -> None:
        if self._on_main_screen():
            from lanes_tui.ui.screens.requests_screen import RequestsScreen

            self.push_screen(RequestsScreen(self.engine, self.now))

    def action_agents(self) -> None:
        if self._on_main_screen():
            from lanes_tui.ui.screens.agents_screen import AgentsScreen

            self.push_screen(AgentsScreen(self.engine, self.now))

    def action_hosts(self) -> None:
        if self._on_main_screen():
            from lanes_tui.ui.screens.hosts_screen import HostsScreen

            self.push_screen(HostsScreen(self.engine, self.now))

    def action_messages(self) -> None:
        if self._on_main_screen():
            from lanes_tui.ui.screens.messages_screen import MessagesScreen

            self.push_screen(MessagesScreen(self.engine, self.now))

    def action_help(self) -> None:
        from lanes_tui.ui.screens.help_screen import HelpScreen

        self.push_screen(HelpScreen(self.key_help()))

    def action_themes(self) -> None:
        self.action_change_theme()

    def key_help(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every dashboard action, as currently bound (after remapping)."""
        # Textual applies the keymap to a copy of the bindings on each lookup; do the same here
        # (a clash unbinds the other action, which is then reachable from the palette only).
        bindings = self._bindings.copy()
        if self._keymap:
            bindings.apply_keymap(self._keymap)
        bound: dict[str, list[str]] = {}
        for _key, items in bindings.key_to_bindings.items():
            for binding in items:
                if binding.id:
                    bound.setdefault(binding.id, []).append(binding.key_display or self.get_key_display(binding))
        return [(", ".join(bound.get(binding_id) or ["(palette only)"]), HELP_TEXT[binding_id])
                for binding_id, *_ in KEYS]

    async def action_quit(self) -> None:
        if self._quitting is not None:  # asked again while waiting: stop the workers now
            self._quitting = "stop"
            self.engine.stop_workers_now()
            return
        running = len(self.engine.running_ids())
        if running == 0:
            self._stop("stop")
            return
        from lanes_tui.ui.screens.quit_modal import QuitModal

        def done(choice: str | None) -> None:
            if choice in ("leave", "stop"):
                self._stop(choice)

        self.push_screen(QuitModal(running), done)

    def _stop(self, choice: str, reason: str = "dashboard quit") -> None:
        """leave: claim nothing more and exit once running workers finish; stop: stop them now."""
        self._quitting = choice
        if choice == "leave":
            self.engine.request_stop(f"{reason}: letting workers finish", grace=math.inf)
            self.notify("claiming stopped; quitting when the running workers finish (q again: stop them)",
                        markup=False, timeout=30)
        else:
            self.engine.request_stop(reason, grace=0)
            self.engine.stop_workers_now()
        if not self.engine.supervising or not self.loaded.is_set():
            self.exit(self._exit_code)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for binding_id, _key, label, action, _show in KEYS:
            yield SystemCommand(label, HELP_TEXT[binding_id], _palette_callback(self, action))

    # -- bulk --------------------------------------------------------------------------

    def _bulk(self, verb: str, task_ids: list[str], act: Callable[[str], Any]) -> None:
        self._run_bulk(verb, task_ids, act)

    @work(group="actions", exit_on_error=False)
    async def _run_bulk(self, verb: str, task_ids: list[str], act: Callable[[str], Any]) -> None:
        done, problems = 0, []
        for task_id in task_ids:
            try:
                await act(task_id)
                done += 1
            except LanesError as exc:
                problems.append(f"{task_id}: {one_line(str(exc), 160)}")
        self.table.marked.difference_update(task_ids)
        self.table.refresh()
        if problems:
            self.notify(f"{verb}: {done} done, {len(problems)} refused: " + "; ".join(problems[:3]),
                        severity="error", markup=False, timeout=10)
        else:
            self.notify(f"{verb}: {done} task(s)", markup=False, timeout=4)

    def _selected_row(self):  # type: ignore[no-untyped-def]
        return self.table.row(self.table.selected_id) if self.table.selected_id else None


def _palette_callback(app: LanesApp, action: str) -> Callable[[], Any]:
    async def run() -> None:
        await app.run_action(action)

    return run


def _task_list_text(verb: str, task_ids: list[str]) -> Text:
    text = Text(f"{verb} {len(task_ids)} task(s)?\n\n")
    for task_id in task_ids[:10]:
        text.append(f"  {task_id}\n")
    if len(task_ids) > 10:
        text.append(f"  \u2026 and {len(task_ids) - 10} more\n")
    return text
