"""The real `lanes-tui` in a real terminal (tmux): submit through the form with keystrokes,
then read the task appear and finish on the screen, and quit cleanly.

tmux is the terminal here: `send-keys` types, `capture-pane` reads what a person would see.
CI installs it (.ci/run); elsewhere the test is skipped when tmux is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest
from helpers.standins import install_standins
from helpers.supervisor import write_settings

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None and not os.environ.get("CI"), reason="tmux is not installed")
BOUND = 30.0


class Terminal:
    """One tmux server of our own (its own socket), one window running one command."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str, size: tuple[int, int] = (120, 36)) -> None:
        self.socket = f"lanes-tui-test-{uuid.uuid4().hex[:8]}"
        # The environment goes through env(1): tmux's own (-e, the global environment) does not
        # reliably override PATH for the first window of a new server.
        assignments = [f"{key}={value}" for key, value in env.items()]
        # -u COLUMNS -u LINES: a pytest process has readline loaded, which exports COLUMNS=80
        # LINES=24 to its children; Textual would take its size from them, not from the pane.
        self._tmux("-f", "/dev/null", "new-session", "-d", "-x", str(size[0]), "-y", str(size[1]), "-c", cwd,
                   "--", "env", "-u", "COLUMNS", "-u", "LINES", *assignments, *argv)

    def _tmux(self, *args: str) -> str:
        return subprocess.run([TMUX or "tmux", "-L", self.socket, *args], check=True, capture_output=True,
                              text=True, timeout=10).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "0")

    def keys(self, *keys: str, literal: bool = False) -> None:
        self._tmux("send-keys", "-t", "0", *(["-l"] if literal else []), *keys)

    def wait_for(self, predicate, what: str, timeout: float = BOUND, gone: str | None = None) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            if gone is not None and gone in screen:
                raise AssertionError(f"the app exited while waiting for: {what}\n{screen}")
            if time.monotonic() > deadline:
                raise AssertionError(f"not on screen within {timeout}s: {what}\n{screen}")
            time.sleep(0.05)  # polling the screen, bounded by the deadline: the condition is what we wait for

    def alive(self) -> bool:
        return subprocess.run([TMUX or "tmux", "-L", self.socket, "has-session"], capture_output=True).returncode == 0

    def close(self) -> None:
        subprocess.run([TMUX or "tmux", "-L", self.socket, "kill-server"], capture_output=True)


def test_submit_through_the_form_and_watch_it_finish(workspace, tmp_path):
    bin_dir = install_standins(tmp_path / "bin")
    write_settings(workspace.config.parent / "lanes-tui.yaml")
    env = {
        "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]),
        "STANDIN_MODE": "slow", "STANDIN_DELAY": "0.3",  # slow enough to be seen running
        "TERM": "xterm-256color", "HOME": os.environ.get("HOME", str(tmp_path)),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    marker = f"exit-code-{uuid.uuid4().hex[:6]}"
    # The shell only reports the exit code after the app is gone: it is not part of what is tested.
    script = f'"$0" -m lanes_tui --config "$1"; echo "{marker}=$?"; sleep 60'
    term = Terminal(["sh", "-c", script, sys.executable, str(workspace.config)], env, str(workspace.root))
    try:
        term.wait_for(lambda s: "queued 0" in s and "Submit" in s, "the empty dashboard", gone=marker)
        term.keys("n")
        term.wait_for(lambda s: "Prompt" in s or "prompt" in s, "the submit form", gone=marker)
        term.keys("Summarise the queue design in one line.", literal=True)
        term.keys("C-s")
        screen = term.wait_for(lambda s: "claimed" in s and "workers 1/" in s, "the task running", gone=marker)
        assert "default" in screen
        screen = term.wait_for(lambda s: "completed 1" in s and "queued 0  claimed 0" in s, "the task finished",
                               gone=marker)
        store = workspace.store()
        (task_id,) = store.task_ids()
        task = store.read_task(task_id)
        assert task["state"] == "completed" and task["prompt"] == "Summarise the queue design in one line."
        term.keys("q")
        screen = term.wait_for(lambda s: marker in s, "the app exited")
        assert f"{marker}=0" in screen
    finally:
        term.close()


def _hanging_dashboard(workspace, tmp_path):
    bin_dir = install_standins(tmp_path / "bin")
    write_settings(workspace.config.parent / "lanes-tui.yaml")
    task_id = workspace.submit()["id"]
    env = {"PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]), "STANDIN_MODE": "hang",
           "TERM": "xterm-256color", "HOME": os.environ.get("HOME", str(tmp_path)),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    marker = f"exit-code-{uuid.uuid4().hex[:6]}"
    script = f'"$0" -m lanes_tui --config "$1"; echo "{marker}=$?"; sleep 60'
    term = Terminal(["sh", "-c", script, sys.executable, str(workspace.config)], env, str(workspace.root))
    store = workspace.store()
    deadline = time.monotonic() + BOUND
    while "headless_started" not in [e["type"] for e in store.read_events(task_id).events]:
        assert time.monotonic() < deadline, term.screen()
        time.sleep(0.05)
    started = [e for e in store.read_events(task_id).events if e["type"] == "headless_started"][-1]
    return term, store, task_id, started["data"]["pid"], marker


def _released_with(store, task_id: str, words: str) -> bool:
    released = [e for e in store.read_events(task_id).events if e["type"] == "released"]
    return store.read_task(task_id)["state"] == "queued" and bool(released) and words in released[-1]["data"]["reason"]


def test_closing_the_terminal_stops_the_worker_releases_its_claim_and_exits(workspace, tmp_path):
    import json

    term, store, task_id, worker_pid, _ = _hanging_dashboard(workspace, tmp_path)
    dashboard_pid = json.loads((workspace.store_root / ".lanes-tui" / "supervisor.json").read_text())["pid"]
    term.close()  # the terminal goes away: SIGHUP
    deadline = time.monotonic() + BOUND
    while not _released_with(store, task_id, "SIGHUP"):
        assert time.monotonic() < deadline, [e["type"] for e in store.read_events(task_id).events]
        time.sleep(0.05)
    from lanes_tui.core import procinfo

    deadline = time.monotonic() + BOUND
    while procinfo.start_time(worker_pid) is not None:
        assert time.monotonic() < deadline, "the worker outlived the dashboard"
        time.sleep(0.05)
    # The dashboard itself is gone too, not left running without a terminal. (It may stay a
    # zombie: its shell died with the terminal, and an earlier in-process supervisor test made
    # this test process a subreaper that does not reap it.)
    deadline = time.monotonic() + BOUND
    while _running(dashboard_pid):
        assert time.monotonic() < deadline, "the dashboard outlived its terminal"
        time.sleep(0.05)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def test_sigterm_stops_the_worker_releases_the_claim_and_exits_143(workspace, tmp_path):
    import json
    import signal

    term, store, task_id, _, marker = _hanging_dashboard(workspace, tmp_path)
    try:
        record = json.loads((workspace.store_root / ".lanes-tui" / "supervisor.json").read_text())
        os.kill(record["pid"], signal.SIGTERM)
        screen = term.wait_for(lambda s: marker in s, "the app exited")
        assert f"{marker}=143" in screen
        assert _released_with(store, task_id, "SIGTERM")
    finally:
        term.close()


def test_a_question_is_answered_from_the_requests_list(workspace, tmp_path):
    """Issue 13 in a real terminal: the header counts the question, `i` lists it (its hostile text
    escaped on the screen), `2` answers it with the second option."""
    from lanes_tui.core.requests import QUESTION

    term, store, task_id, _, marker = _hanging_dashboard(workspace, tmp_path)
    try:
        question = store.requests().open(kind=QUESTION, agent=f"w/{task_id}", text="Which db \x1b]0;pwned\x07?",
                                         options=["postgres", "sqlite"], task_id=task_id, lane="default",
                                         timeout_seconds=600, pid=os.getpid())
        term.wait_for(lambda s: "1 need input (i)" in s, "the header counts it", gone=marker)
        term.keys("i")
        screen = term.wait_for(lambda s: "Waiting for you: 1 request(s)" in s and "2) sqlite" in s, "the list",
                               gone=marker)
        assert "Which db \\x1b]0;pwned\\x07?" in screen  # escaped, not a title change
        term.keys("2")
        term.wait_for(lambda s: "Waiting for you: nothing" in s, "answered", gone=marker)
        answered = store.requests().get(question.id)
        assert (answered.state, answered.reply) == ("answered", "sqlite")
        term.keys("Escape")
        term.wait_for(lambda s: "need input" not in s and "queued 0" in s, "back on the dashboard", gone=marker)
    finally:
        term.close()


def test_every_permission_key_from_the_list(workspace, tmp_path):
    """Issue 13 in a real terminal, every permission key: `a` allows once, `A` for the rest of the
    task; an edit shows as its diff; `d` and typed words deny it (the agent goes on), `D` stops
    the attempt and fails the task."""
    from lanes_tui.core.requests import ALLOW, ALLOW_TOOL, DENY, PERMISSION

    term, store, task_id, _, marker = _hanging_dashboard(workspace, tmp_path)

    def ask(tool_input: dict) -> str:
        return store.requests().open(kind=PERMISSION, agent=f"w/{task_id}", text="Edit app.py", tool="Edit",
                                     tool_input=tool_input, task_id=task_id, lane="default", timeout_seconds=600,
                                     pid=os.getpid()).id

    try:
        once = ask({"file_path": "app.py", "old_string": "v = 1\n", "new_string": "v = 2\n"})
        term.wait_for(lambda s: "1 need input (i)" in s, "the header counts it", gone=marker)
        term.keys("i")
        term.wait_for(lambda s: "+v = 2" in s, "the first request", gone=marker)
        term.keys("a")
        term.wait_for(lambda s: "Waiting for you: nothing" in s, "allowed once", gone=marker)
        tool = ask({"file_path": "app.py", "old_string": "w = 1\n", "new_string": "w = 2\n"})
        term.wait_for(lambda s: "+w = 2" in s, "the second request", gone=marker)
        term.keys("A")
        term.wait_for(lambda s: "Waiting for you: nothing" in s, "allowed for the task", gone=marker)
        assert [store.requests().get(r).decision for r in (once, tool)] == [ALLOW, ALLOW_TOOL]

        first = ask({"file_path": "app.py", "old_string": "x = 1\n", "new_string": "x = 2\n"})
        term.wait_for(lambda s: "-x = 1" in s and "+x = 2" in s, "the edit as a diff", gone=marker)
        term.keys("d")
        term.wait_for(lambda s: "why not (the agent reads it" in s, "the box for the reason", gone=marker)
        term.keys("not on main", literal=True)
        term.wait_for(lambda s: "not on main" in s, "the reason typed", gone=marker)
        term.keys("Enter")
        term.wait_for(lambda s: "Waiting for you: nothing" in s, "denied", gone=marker)
        denied = store.requests().get(first)
        assert (denied.decision, denied.reply) == (DENY, "not on main")
        assert store.read_task(task_id)["state"] == "claimed"  # the agent was told no, and goes on

        ask({"file_path": "app.py", "old_string": "y = 1\n", "new_string": "y = 2\n"})
        term.wait_for(lambda s: "+y = 2" in s, "the next request", gone=marker)
        term.keys("D")
        term.wait_for(lambda s: "Waiting for you: nothing" in s, "denied and stopped", gone=marker)
        term.keys("Escape")
        term.wait_for(lambda s: "failed 1" in s, "the task failed on the dashboard", gone=marker)
        task = store.read_task(task_id)
        assert task["state"] == "failed" and "stopped by the operator, who denied Edit" in task["failure_reason"]
    finally:
        term.close()
