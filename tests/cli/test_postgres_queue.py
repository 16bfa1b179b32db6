"""A queue in PostgreSQL, used through the real CLI (issue 14): `queue_url` in lanes-tui.yaml or
`--store postgresql://...` selects it, the one-shot verbs and `lanes-tui --no-ui --drain` (with
stand-in agents and their MCP server) work on it as on the file store, and a bad URL is one
line with its exit code. The server is a real one the tests start (tests/helpers/postgres.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers.standins import install_standins
from helpers.supervisor import write_settings

LANES_TUI = [sys.executable, "-m", "lanes_tui"]


def run(workspace, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*LANES_TUI, "--config", str(workspace.config), *args], capture_output=True, text=True,
                          cwd=workspace.root, timeout=120, env=env)


def ok(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def submit(workspace, *options: str, lane: str = "default", metadata: str | None = None,
           env: dict | None = None) -> str:
    """`lanes-tui [options] submit ...`; the new task's id."""
    done = run(workspace, *options, "--json", "submit", "--lane", lane, "--request-from", str(workspace.request),
               "--response-to", "out.md", "--prompt", "check it",
               *(["--metadata", metadata] if metadata else []), env=env)
    return ok(done)["task"]["id"]


def postgres(url):
    from lanes_tui.storage.postgres import PostgresBackend

    return PostgresBackend(url)


def test_queue_url_in_the_settings_puts_the_queue_in_postgres(workspace, postgres_url, tmp_path):
    write_settings(workspace.config.parent / "lanes-tui.yaml", queue_url=postgres_url)
    task_id = submit(workspace, lane="review")
    store = postgres(postgres_url)
    try:
        assert store.read_task(task_id)["prompt"] == "check it"
        assert not (workspace.store_root / "tasks").exists() or not any((workspace.store_root / "tasks").iterdir())
        listed = ok(run(workspace, "--json", "list"))
        assert [t["id"] for t in listed["tasks"]] == [task_id]
        claimed = ok(run(workspace, "--json", "next", "--lane", "review", "--claim", "--owner", "bob"))
        token = claimed["task"]["claim_token"]
        ok(run(workspace, "--json", "respond", task_id, "--claim-token", token, "--body", "fine", "--reviewer", "bob"))
        assert store.read_response(task_id)["body"] == "fine"
        status = ok(run(workspace, "--json", "status", "--all"))
        assert status["summary"]["completed"] == 1
    finally:
        store.close()


def test_store_url_and_the_supervisor_drain_a_postgres_queue(workspace, postgres_url, tmp_path):
    """`--no-ui --drain` on `--store postgresql://`: the stand-in agent runs, its MCP server (started
    with the queue's URL) answers, the answer lands in the database."""
    write_settings(workspace.config.parent / "lanes-tui.yaml")
    bin_dir = install_standins(tmp_path / "bin")
    env = {**os.environ, "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])}
    task_id = submit(workspace, "--store", postgres_url, metadata="required_vendor=claude", env=env)
    done = run(workspace, "--store", postgres_url, "--no-ui", "--drain", "--json", env=env)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    store = postgres(postgres_url)
    try:
        task = store.read_task(task_id)
        assert task["state"] == "completed", task
        assert store.read_response(task_id)["status"] == "completed"
        assert store.attempts(task_id) == 1
        assert "task_completed" in [json.loads(line).get("event") for line in done.stdout.splitlines()
                                    if line.startswith("{")]
    finally:
        store.close()


def test_the_supervisor_gives_the_agent_the_request_submitted_though_the_file_is_gone(
        workspace, postgres_url, tmp_path):
    """Paths do not cross hosts: the request travels in the database, so a supervisor on a host
    without the submitter's file (here: the file deleted after the submit) runs the task on it."""
    write_settings(workspace.config.parent / "lanes-tui.yaml")
    bin_dir = install_standins(tmp_path / "bin")
    dump = tmp_path / "dump.json"
    env = {**os.environ, "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]),
           "STANDIN_MODE": "dump", "STANDIN_DUMP_FILE": str(dump)}
    workspace.request.write_text("# review the parser\nit drops the last line\n")
    task_id = submit(workspace, "--store", postgres_url, metadata="required_vendor=claude", env=env)
    workspace.request.unlink()
    done = run(workspace, "--store", postgres_url, "--no-ui", "--drain", "--json", env=env)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    store = postgres(postgres_url)
    try:
        assert store.read_task(task_id)["state"] == "completed"
    finally:
        store.close()
    stdin = json.loads(dump.read_text())["stdin"]
    assert "# review the parser\nit drops the last line\n" in stdin and "could not be read" not in stdin


@pytest.mark.parametrize("value", ['"mysql://x/y"', "42", "[1]"])
def test_a_queue_url_that_is_not_one_is_one_line_and_exit_6(workspace, value):
    (workspace.config.parent / "lanes-tui.yaml").write_text(f"queue_url: {value}\n")
    done = run(workspace, "list")
    assert done.returncode == 6, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "queue_url must be a postgresql:// URL" in line and "Traceback" not in done.stderr


def test_a_server_that_does_not_answer_is_one_line_and_exit_7_without_the_password(workspace, tmp_path):
    url = f"postgresql://lanes:s3cret@/queue?host={tmp_path}&connect_timeout=5"
    done = run(workspace, "--store", url, "list")
    assert done.returncode == 7, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "cannot open the queue at" in line and "s3cret" not in line and "Traceback" not in done.stderr


def test_hooks_installed_for_a_queue_url_in_the_settings_watch_that_queue(workspace, postgres_url):
    """`queue_url` in lanes-tui.yaml: the hooks carry the URL (not the empty handoff/state folder),
    so a lock taken on the database blocks the edit (tests/cli/test_hooks_postgres.py: the rest)."""
    from .claude_code import as_claude_code, install
    from .test_hooks import edit_event

    write_settings(workspace.config.parent / "lanes-tui.yaml", queue_url=postgres_url)
    settings = install(workspace.config)
    assert all(postgres_url in h["command"] for entries in settings["hooks"].values()
               for entry in entries for h in entry["hooks"])
    (workspace.root / "src").mkdir()
    (workspace.root / "src" / "app.py").write_text("a\n")
    assert run(workspace, "lock", "src/app.py", "--as", "alice").returncode == 0
    blocked = as_claude_code(settings, "PreToolUse", workspace.root, edit_event("src/app.py", workspace.root))
    assert blocked.returncode == 2 and "locked by alice" in blocked.stderr, blocked.stderr