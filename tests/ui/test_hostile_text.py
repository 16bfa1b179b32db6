"""Fault row 24: hostile text in every rendered field (task.json, events, agent output).

Markup must show as the characters it is, escape sequences and bidi controls as
visible escapes (`\\x1b`, `\\u202e`), and nothing the content carries may reach
the terminal raw. What is on screen is read back from the App's own screenshot
(`export_screenshot`, the SVG of exactly what would be drawn): its text must
hold the escaped forms and no raw ESC, C1, bidi control or lone surrogate.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from typing import Any, AsyncIterator

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from lanes_tui.core.sanitize import is_clean
from lanes_tui.engine import events as ev
from lanes_tui.ui.screens.log_screen import LogScreen
from lanes_tui.ui.screens.task_screen import TaskScreen
from lanes_tui.ui.widgets.task_table import TaskTable

from .conftest import dashboard, make_app, shown

# Escapes and bidi first: narrow columns still show them.
HOSTILE = (
    "\x1b[2J[bold red]x[/] \u202eevil\u202c \x9b31m \udc80 "
    "[link=file:///etc/passwd]open[/link] [@click=app.quit]quit[/] [unclosed "
    "\x1b]52;c;SGVsbG8=\x07 \x1b]0;title\x07 end"
)
# What the sanitiser makes of it (one_line and clean agree on this single line).
SHOWN = (
    "\\x1b[2J[bold red]x[/] \\u202eevil\\u202c \\x9b31m \\udc80 "
    "[link=file:///etc/passwd]open[/link] [@click=app.quit]quit[/] [unclosed "
    "\\x1b]52;c;SGVsbG8=\\x07 \\x1b]0;title\\x07 end"
)
MEGA = "m" * 1_000_000  # a 1 MB line
SIZE = (200, 50)
CELL = 12.2  # px per terminal cell in Textual's SVG export (0.61 * font size 20)
_TEXT = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
                   r'clip-path="url\(#[\w-]+-line-(\d+)\)">(.*?)</text>', re.S)


def screen(app) -> tuple[str, list[str]]:
    """(the SVG, its text as terminal lines) of what the App draws now."""
    svg = app.export_screenshot()
    rows: dict[int, dict[int, str]] = {}
    for x, line, content in _TEXT.findall(svg):
        rows.setdefault(int(line), {})[round(float(x) / CELL)] = html.unescape(content).replace("\xa0", " ").rstrip("\n")
    lines = []
    for number in range(max(rows, default=-1) + 1):
        text = ""
        for column, piece in sorted(rows.get(number, {}).items()):
            text = text.ljust(column) + piece
        lines.append(text)
    return svg, lines


@contextlib.asynccontextmanager
async def dashboard_with_toasts(workspace: Any, settings: Any) -> AsyncIterator[tuple[Any, Any]]:
    """`dashboard`, with toasts drawn (run_test leaves them out unless asked): they show agent text too."""
    app = make_app(workspace, settings)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await asyncio.wait_for(app.loaded.wait(), 20)
        await pilot.pause()
        yield app, pilot


def assert_nothing_raw(svg: str) -> None:
    assert "\x1b" not in svg and "\u202e" not in svg and "\x9b" not in svg and "\x07" not in svg
    assert is_clean(svg)  # no C0/C1 control, bidi control or lone surrogate anywhere on screen


def find(lines: list[str], needle: str) -> tuple[int, int] | None:
    for y, line in enumerate(lines):
        if needle in line:
            return line.index(needle), y
    return None


async def test_hostile_task_fields_show_escaped_everywhere(workspace, ui_settings):
    store = workspace.store()
    prompt = f"{HOSTILE}\nsecond {HOSTILE}\n{MEGA}\nlast line"
    long_prompt = workspace.submit(lane="\x1b[31mred\u202e", prompt=prompt, name="p")["id"]
    owned = workspace.submit(lane="[bold]lane[/]", prompt="fine", name="o")["id"]
    store.claim(owned, owner=HOSTILE, lease_seconds=600)
    store.append_event(owned, "note", HOSTILE + MEGA)  # an event message written by another client
    failed = workspace.submit(lane="x", prompt="fine", name="f")["id"]
    store.respond(failed, body=HOSTILE + " " + MEGA, reviewer=HOSTILE, status="failed")
    async with dashboard(workspace, ui_settings, watch_only=True, size=SIZE) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: set(table.shown_ids) == {long_prompt, owned, failed}, "three rows")

        # The table: lane, owner and failure reason, each cut to its column, escaped, markup literal.
        # (Waited for, not read at once: on a loaded machine the rows arrive before their cells.)
        needles = ("\\x1b[31mr",  # the lane (10 cells)
                   "[bold]lan",  # a markup-looking lane, literal
                   SHOWN[:60],  # the failure reason, in the activity column
                   "\\x1b[2J[bold r")  # the owner column
        await shown(app, pilot, lambda: all(find(screen(app)[1], n) for n in needles), "every cell escaped")
        assert_nothing_raw(screen(app)[0])

        # The detail pane of each task.
        for task_id, needle in ((failed, SHOWN[:100]), (owned, SHOWN[:100]), (long_prompt, "  " + SHOWN[:80])):
            table.select(task_id)
            await shown(app, pilot, lambda: find(screen(app)[1], needle), f"detail of {task_id} escaped")
            assert_nothing_raw(screen(app)[0])

        # The task screen: the whole prompt, escaped, the 1 MB line cut to a line's worth.
        await pilot.press("enter")
        task_screen = await shown(app, pilot, lambda: isinstance(app.screen, TaskScreen) and app.screen, "TaskScreen")
        await shown(app, pilot, lambda: task_screen.detail is not None, "detail loaded")
        svg, lines = screen(app)
        assert_nothing_raw(svg)
        assert find(lines, "  " + SHOWN[:100])
        assert find(lines, "second " + SHOWN[:100])
        info = str(task_screen.query_one("#task-info", Static).visual)
        assert "m" * 500 in info and "m" * 501 not in info  # a line's worth, not the megabyte
        # Clicking text that looks like `[@click=app.quit]` fires nothing: it is only text.
        spot = find(lines, "[@click=app.quit]quit")
        assert spot is not None
        await pilot.click(offset=(spot[0] + len("[@click=app.quit]") + 1, spot[1]))
        await pilot.pause()
        assert app.is_running and app.screen is task_screen
        await pilot.press("escape")
        await shown(app, pilot, lambda: len(app.screen_stack) == 1, "back")

        # The claimed task's event message (another client's) in its task screen.
        table.select(owned)
        await pilot.press("enter")
        task_screen = await shown(app, pilot, lambda: isinstance(app.screen, TaskScreen) and app.screen
                                  and app.screen.task_id == owned, "TaskScreen of the claimed task")
        await shown(app, pilot, lambda: find(screen(app)[1], "note " + SHOWN[:60]), "hostile event message escaped")
        assert_nothing_raw(screen(app)[0])


async def test_hostile_agent_output_in_transcripts_and_toasts(workspace, ui_settings, monkeypatch):
    # The real path: the stand-in's final answer is hostile (one line: it becomes the activity).
    # Env values cannot hold NUL and hold lone surrogates as surrogateescape bytes, as a real CLI would.
    monkeypatch.setenv("STANDIN_ANSWER", HOSTILE)
    task_id = workspace.submit(prompt=f"{HOSTILE.replace(chr(0xDC80), '')}\n{MEGA}", name="h")["id"]
    # A lone surrogate cannot be written to the agent's stdin as UTF-8: whatever the engine
    # makes of it (today: a failed task, the UnicodeEncodeError as its reason), the screen survives.
    unencodable = workspace.submit(prompt=HOSTILE, name="u")["id"]
    async with dashboard_with_toasts(workspace, ui_settings) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: table.row(task_id) and table.row(task_id).state == "completed", "completed")
        await shown(app, pilot, lambda: table.row(unencodable) and table.row(unencodable).state in ("completed", "failed"),
                    "the lone-surrogate prompt finished one way or the other")
        table.select(task_id)
        # Straight into the engine, unsanitised: a 1 MB activity line and a hostile failure toast.
        app.engine._on_event(ev.WorkerActivity(task_id, HOSTILE + MEGA))
        app.engine._on_event(ev.TaskFailed(task_id, "default", 1, HOSTILE))
        await shown(app, pilot, lambda: find(screen(app)[1], "task failed: " + task_id[:20]), "the failure toast")
        svg, lines = screen(app)
        assert_nothing_raw(svg)  # the detail pane's transcript and the toasts

        await pilot.press("l")
        log_screen = await shown(app, pilot, lambda: isinstance(app.screen, LogScreen) and app.screen, "LogScreen")
        await shown(app, pilot, lambda: any("final result" in line for line in log_screen.lines), "all lines in")
        lines_text = list(log_screen.log_view.lines)
        answer = [line for line in lines_text if "[bold red]x[/]" in line]
        assert answer and all("\\x1b[2J" in line and "\x1b" not in line for line in answer)
        assert max(len(line) for line in lines_text) <= 2004  # a line is cut at 2,000 characters (plus its indent)
        svg, lines = screen(app)
        assert_nothing_raw(svg)
        assert find(lines, "    " + SHOWN[:80])  # the final result's body, sanitised

        # Search for markup-looking text: it is a plain substring, nothing is parsed.
        await pilot.press("slash", *"[bold red]", "enter", "ampersand")
        await shown(app, pilot, lambda: log_screen.query_text == "[bold red]" and log_screen.only_matching,
                    "search applied")
        assert log_screen.log_view.lines and all("[bold red]" in line for line in log_screen.log_view.lines)
        svg, lines = screen(app)
        assert_nothing_raw(svg)
        assert find(lines, "lines match '[bold red]'")
        await pilot.press("escape", "escape")
        await shown(app, pilot, lambda: len(app.screen_stack) == 1, "back")

        await pilot.press("enter")
        task_screen = await shown(app, pilot, lambda: isinstance(app.screen, TaskScreen) and app.screen, "TaskScreen")
        await shown(app, pilot, lambda: task_screen.detail is not None, "detail loaded")
        svg, lines = screen(app)
        assert_nothing_raw(svg)
        assert find(lines, "  " + SHOWN[:42])  # up to where the lone surrogate was left out
        assert find(lines, "    " + SHOWN[:80])  # the transcript under it: the final result, sanitised


async def test_the_screen_probe_sees_raw_text():
    """The probe above is not vacuous: raw escapes drawn by a careless widget do reach the SVG."""

    class Careless(App[None]):
        def compose(self) -> ComposeResult:
            yield Static(Text("a\x1b[2Jb \u202eevil"))

    app = Careless()
    async with app.run_test(size=(40, 3)) as pilot:
        await pilot.pause()
        svg = app.export_screenshot()
    assert "\x1b" in svg and "\u202e" in svg and not is_clean(svg)
