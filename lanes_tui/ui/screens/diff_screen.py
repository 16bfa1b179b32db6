"""`d`: what a task's branch changed, base to tip, as a coloured diff.

The diff is text the agent wrote: the engine has sanitised every line (engine/task_git.py),
and each is drawn as a plain `Text` with a style chosen by its first characters (file
headers, hunk headers, added and removed lines), never parsed as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static

from lanes_tui.core.errors import LanesError
from lanes_tui.core.sanitize import one_line
from lanes_tui.engine.service import Engine

MAX_LINES_SHOWN = 20_000


def diff_line_style(line: str) -> str:
    """The style of one line of a unified diff."""
    if line.startswith(("diff --git", "index ", "--- ", "+++ ", "new file", "deleted file", "rename ", "similarity ")):
        return "bold"
    if line.startswith("@@"):
        return "cyan"
    if line.startswith("+"):
        return "green"
    if line.startswith("-"):
        return "red"
    return ""


class DiffScreen(Screen[None]):
    DEFAULT_CSS = """
    DiffScreen { layout: vertical; }
    DiffScreen > #diff-header { height: auto; padding: 0 1; background: $panel; }
    DiffScreen > #diff-lines { height: 1fr; padding: 0 1; background: $surface; }
    """
    BINDINGS = [Binding("escape", "back", "Back", id="diff.back")]

    def __init__(self, engine: Engine, task_id: str) -> None:
        super().__init__()
        self.engine = engine
        self.task_id = task_id
        self.shown_lines = 0

    def compose(self) -> ComposeResult:
        yield Static(Text(f"diff  {self.task_id}  loading\u2026"), id="diff-header", markup=False)
        # auto_scroll off: a diff is read from its top (each write would queue a scroll to the end).
        yield RichLog(id="diff-lines", markup=False, highlight=False, wrap=False, max_lines=MAX_LINES_SHOWN + 1,
                      auto_scroll=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#diff-lines", RichLog).focus()
        self.load()

    @work(exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        header = self.query_one("#diff-header", Static)
        try:
            diff = await self.engine.branch_diff(self.task_id)
        except LanesError as exc:
            header.update(Text(f"diff  {self.task_id}\n{one_line(str(exc), 300)}", "bold"))
            return
        text = Text()
        text.append("diff  ", "dim")
        text.append(diff.branch, "bold")
        text.append(f"  {diff.base[:12]}..{diff.head[:12]}  ")
        text.append(diff.stat or "no changes", "dim")
        lines = diff.lines[:MAX_LINES_SHOWN]
        if diff.cut or len(diff.lines) > len(lines):
            text.append(f"\nshowing the first {len(lines)} lines; the rest: git diff {diff.base[:12]} {diff.branch}",
                        "bold")
        text.append("   escape: back", "dim")
        header.update(text)
        log = self.query_one("#diff-lines", RichLog)
        for line in lines:
            log.write(Text(line, diff_line_style(line)))
        if not lines:
            log.write(Text("(the branch changes nothing)", "dim"))
        log.scroll_home(animate=False)
        self.shown_lines = len(lines)

    def action_back(self) -> None:
        self.dismiss(None)
