"""The dashboard walked through in a real terminal (tmux), as an operator would (issue 12):
submit -> watch the transcript -> read the answer -> see the diff -> retry -> filter -> quit.

Everything is real: `python -m lanes_tui` in a tmux window, a git repository whose lanes let the
agents edit (so each task runs in its own worktree, on its own branch), the stand-in `claude`
editing a file there, keystrokes typed with `send-keys`, and only what `capture-pane` shows
decides when the next step goes. Each wait is bounded; none is a sleep.

The failed task is a lane whose `setup` checks for a `.env` the repository's `.worktreeinclude`
would copy into the worktree: the first try fails because the main tree has none, the operator
writes one, and the retry (a new task, same title) completes.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable

import pytest
from helpers.gitrepo import git, make_repository
from helpers.standins import install_standins
from helpers.supervisor import write_settings

from .test_terminal import BOUND, TMUX, Terminal

pytestmark = pytest.mark.skipif(TMUX is None and not os.environ.get("CI"), reason="tmux is not installed")

ANSWER = "# Queue design\n\n- one lease per claim\n- retries back off"
SETUP = ["sh", "-c", "test -f .env || { echo 'no .env in the worktree'; exit 3; }"]


def table_rows(screen: str) -> list[str]:
    """The task table's rows: the lines under its heading, up to the rule under it."""
    lines = screen.split("\n")
    for index, line in enumerate(lines):
        if " ID " in line and "TITLE" in line:
            rows = []
            for row in lines[index + 1:]:
                if row.startswith(("─", "▊")):  # the rule, or the filter box
                    break
                if row[:30].strip():  # not a blank line with a toast over its right half
                    rows.append(row)
            return rows
    return []


def row_with(screen: str, *words: str) -> str | None:
    return next((row for row in table_rows(screen) if all(word in row for word in words)), None)


def form_row(screen: str, label: str) -> str:
    return next((line for line in screen.split("\n") if f" {label} " in line), "")


class Check:
    """One thing a screen must show: `Check("what", predicate)`; a plain string must be on it,
    `no("text")` must not."""

    def __init__(self, what: str, predicate: Callable[[str], object]) -> None:
        self.what = what
        self.predicate = predicate

    def __call__(self, screen: str) -> bool:
        return bool(self.predicate(screen))


def no(text: str) -> Check:
    return Check(f"no {text!r}", lambda s: text not in s)


def row(*words: str) -> Check:
    return Check(f"a table row with {' '.join(map(repr, words))}", lambda s: row_with(s, *words))


def rows(count: int) -> Check:
    return Check(f"{count} table row(s)", lambda s: len(table_rows(s)) == count)


def line(text: str) -> Check:
    return Check(f"a line reading {text!r}", lambda s: any(item.strip() == text for item in s.split("\n")))


def words(text: str) -> Check:
    """`text` on the screen, possibly wrapped over lines (whitespace is not compared)."""
    return Check(f"{text!r}, wrapped or not", lambda s: " ".join(text.split()) in " ".join(s.split()))


# The header's labels, and the short ones it uses when its figures would not fit (80 columns).
SHORT = {"queued": "q", "claimed": "run", "completed": "done", "failed": "fail"}


def header(label: str, count: int) -> Check:
    wanted = (f"{label} {count}", f"{SHORT[label]} {count}")
    return Check(f"the header's {label} {count}", lambda s: any(w in s.split("\n")[1] for w in wanted))


def in_field(label: str, text: str) -> Check:
    return Check(f"{text!r} in the form's {label} field", lambda s: text in form_row(s, label))


class WalkTerminal(Terminal):
    """The Terminal of test_terminal.py, and: screens checked whole (`see`), keys pressed again
    until they work (`press_until`), and where the focus is. Textual puts the terminal's (hidden)
    cursor on the focused input's caret, so the screen says which field has the focus."""

    def __init__(self, argv: list[str], *args, marker: str, **kwargs) -> None:
        super().__init__(argv, *args, **kwargs)  # (Terminal unsets COLUMNS and LINES)
        self.marker = marker  # printed by the shell once the app exited

    def cursor_line(self) -> str:
        y = int(self._tmux("display-message", "-p", "-t", "0", "#{cursor_y}").strip())
        lines = self.screen().split("\n")
        return lines[y] if y < len(lines) else ""

    def focus_on(self, label: str, timeout: float = 10.0) -> None:
        """Wait until the caret is in the row labelled `label`: the keys typed next go there
        (a key sent right after Tab would still reach the field that had the focus)."""
        deadline = time.monotonic() + timeout
        while f" {label} " not in self.cursor_line():
            if time.monotonic() > deadline:
                raise AssertionError(f"the focus never reached {label!r}; cursor on: {self.cursor_line()!r}\n"
                                     f"{self.screen()}")
            time.sleep(0.05)  # polling the screen, bounded by the deadline

    def press_until(self, key: str, what: str, *checks: str | Check, every: float = 1.0,
                    timeout: float = BOUND) -> str:
        """Press `key` until the screen shows `checks`, waiting up to `every` seconds after each
        press (a press that came too early is simply made again), `timeout` in all."""
        deadline = time.monotonic() + timeout
        while True:
            self.keys(key)
            try:
                return self.see(what, *checks, timeout=min(every, max(0.0, deadline - time.monotonic())))
            except AssertionError:
                if self.marker in self.screen() or time.monotonic() >= deadline:
                    raise

    def see(self, what: str, *checks: str | Check, timeout: float = BOUND) -> str:
        """The first screen on which every check holds. All of them are read on one capture:
        a frame caught half drawn simply fails one and is read again, never half-asserted."""
        wanted = [c if isinstance(c, Check) else Check(repr(c), lambda s, c=c: c in s) for c in checks]
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            missing = [c.what for c in wanted if not c(screen)]
            if not missing:
                return screen
            if self.marker in screen:
                raise AssertionError(f"the app exited while waiting for: {what}\n{screen}")
            if time.monotonic() > deadline:
                raise AssertionError(f"not on screen within {timeout}s: {what}; missing: {'; '.join(missing)}\n"
                                     f"{screen}")
            time.sleep(0.05)  # polling the screen, bounded by the deadline: the condition is what we wait for


@pytest.mark.parametrize("size", [(120, 36), (80, 24)], ids=["120x36", "80x24"])
def test_walk_through_submit_transcript_answer_diff_retry_filter_quit(workspace, tmp_path, size):
    make_repository(workspace)
    (workspace.root / ".worktreeinclude").write_text(".env\n")  # .env is copied into each new worktree
    write_settings(workspace.config.parent / "lanes-tui.yaml", worktrees_dir=str(tmp_path / "worktrees"),
                   lane={"permissions": "edit", "timeout_seconds": 20},
                   lanes={"checked": {"max_attempts": 1, "setup": [SETUP]}})
    bin_dir = install_standins(tmp_path / "bin")
    env = {
        "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]),
        "STANDIN_MODE": "slow", "STANDIN_DELAY": "0.3",  # the transcript grows while it is watched
        "STANDIN_WRITE": "notes.txt=walkthrough edit",  # the agent's edit, in its worktree
        "STANDIN_ANSWER": ANSWER,
        # Each agent waits, before its first line, until two are in this folder: the first one
        # waits for the test's file (written once the log screen shows it running), later ones not.
        "STANDIN_BARRIER": f"{tmp_path / 'go'}:2",
        "TERM": "xterm-256color", "HOME": os.environ.get("HOME", str(tmp_path)),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    marker = f"exit-code-{uuid.uuid4().hex[:6]}"
    # The shell only reports the exit code after the app is gone: it is not part of what is tested.
    script = f'"$0" -m lanes_tui --config "$1"; echo "{marker}=$?"; sleep 60'
    term = WalkTerminal(["sh", "-c", script, sys.executable, str(workspace.config)], env, str(workspace.root),
                        size=size, marker=marker)
    store = workspace.store()
    wide = size[0] >= 120
    try:
        term.see("the empty dashboard", "queued 0", "no lanes yet")

        # 1. Submit through the form: a prompt, a title, ctrl+s; the row shows the title.
        term.keys("n")
        term.see("the submit form", "Submit a task", "Title")
        term.keys("Summarise the queue design.", literal=True)
        term.see("the prompt typed", in_field("Prompt", "Summarise the queue design."))
        term.keys("Tab")
        term.focus_on("Title")
        term.keys("Queue notes", literal=True)
        term.see("the title typed", in_field("Title", "Queue notes"))
        term.keys("C-s")
        term.see("the task's row, with its title", no("Submit a task"), row("Queue notes", "default"))
        (first,) = store.task_ids()
        assert store.read_task(first)["metadata"]["title"] == "Queue notes"

        # 2. Watch the transcript: `l` follows the attempt log while the agent works.
        term.keys("l")
        term.see("the log screen, the task running", f"log  {first}  claimed")
        (tmp_path / "go").mkdir(exist_ok=True)
        (tmp_path / "go" / "test").touch()  # the agent goes on: its lines arrive in the open screen
        term.see("the agent's first message", "I'll look at the project layout first.")
        term.see("the whole transcript, the task completed", f"{first}  completed", "• Bash: ls -la",
                 "↳ result of Bash: ls -la", "# Queue design", "✓ final result")  # the agent's text as written
        term.keys("Escape")
        term.see("back on the table", no("log  "), row("Queue notes", "completed", *(["+1 -0"] if wide else [])))

        # 3. Read the answer, rendered as Markdown: the heading without its `#`, the list as bullets.
        if wide:  # the detail pane has room for it under the events
            term.see("the answer in the detail pane", line("Queue design"), "• one lease per claim",
                     "• retries back off", no("# Queue design"), no("- one lease"))
        term.keys("Enter")
        term.see("the task screen", f"{first}  completed", "transcript: 1 attempt(s)")
        # The answer comes after the events: End scrolls down to it. It is drawn once the task's
        # files are read, so an End pressed before that stops short of it, as it would for a person.
        term.press_until("End", "the answer on the task screen", "answer", line("Queue design"),
                         "• one lease per claim", "• retries back off")

        # 4. See the diff of the task's branch (`d` works on the task screen too).
        term.keys("d")
        branch = git(workspace.root, "branch", "--list", "lanes/*").lstrip("*+ ")
        term.see("the branch's diff", f"diff  {branch}", "1 file changed", "+++ b/notes.txt",
                 "+walkthrough edit")
        term.keys("Escape")
        term.see("back on the task screen", no("diff  lanes/"), "transcript: 1 attempt(s)")
        term.keys("Escape")
        term.see("back on the table", no("transcript: 1 attempt(s)"), row("Queue notes"))

        # 5. A task fails (its lane's set-up finds no .env); the operator writes one and retries it.
        term.keys("n")
        term.see("the submit form again", "Submit a task", "Title")
        term.keys("Check the fixtures load.", literal=True)
        term.see("the second prompt typed", in_field("Prompt", "Check the fixtures load."))
        term.keys("Tab")
        term.focus_on("Title")
        term.keys("Fixture check", literal=True)
        term.see("the second title typed", in_field("Title", "Fixture check"))
        term.keys("Tab")
        term.focus_on("Lane")  # it holds the selected task's lane, selected: typing replaces it
        term.keys("checked", literal=True)
        term.see("the lane typed", in_field("Lane", "checked"),
                 Check("no 'default' left in the Lane field", lambda s: "default" not in form_row(s, "Lane")))
        term.keys("C-s")
        term.see("the second task failed", no("Submit a task"), row("Fixture check", "failed"), header("failed", 1),
                 "no .env in the")  # the start of the reason, in the detail pane (the toast has it all)
        (second,) = [t for t in store.task_ids() if t != first]
        failed = store.read_task(second)
        assert failed["state"] == "failed" and "no .env in the worktree" in failed["failure_reason"]
        term.keys("Enter")  # the reason in full: the task screen wraps what the pane cuts
        term.see("why it failed", "transcript:", f"{second}  failed", words("exited 3: no .env in the worktree"))
        term.keys("Escape")
        term.see("back on the table", no("transcript:"), row("Fixture check", "failed"))
        (workspace.root / ".env").write_text("FIXTURES=1\n")  # the operator's fix, from another shell
        term.keys("r")  # the failed task is still the selected one
        term.see("the retry question", "Retry 1 failed task(s) as new task(s)")
        term.keys("C-s")
        term.see("the retry completed, a new row", no("Retry 1 failed"), row("Fixture check", "completed"),
                 row("Fixture check", "failed"), rows(3), header("completed", 2))
        (third,) = [t for t in store.task_ids() if t not in (first, second)]
        retried = store.read_task(third)
        assert retried["state"] == "completed" and retried["lane"] == "checked"
        assert retried["metadata"]["title"] == "Fixture check" and retried["metadata"]["requeued_from"] == second

        # 6. Filter as you type: a word of one title leaves its row alone; escape brings all back.
        term.keys("/")
        term.see("the filter box", "filter as you type")
        term.keys("notes", literal=True)
        term.see("only the matching row", rows(1), row("Queue notes"))
        term.keys("Escape")
        term.see("every row again, the filter gone", rows(3), no("filter as you type"))

        # 7. Quit: nothing runs any more, so `q` leaves at once, with 0.
        assert not [t for t in store.task_ids() if store.read_task(t)["state"] in ("queued", "claimed")]
        term.keys("q")
        screen = term.wait_for(lambda s: marker in s, "the app exited")
        assert f"{marker}=0" in screen
    finally:
        term.close()
