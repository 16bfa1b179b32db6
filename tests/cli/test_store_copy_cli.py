"""`lanes-tui store copy FROM TO` through the real CLI: a file queue into PostgreSQL and back,
read by agent-lanes' own CLI on the far side; refusals are one line with their exit codes and
leave the destination as it was.
"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import AGENT_LANES

from lanes_tui.core.errors import ConflictError, NotFound, StoreError, UsageError

LANES_TUI = [sys.executable, "-m", "lanes_tui"]


def run(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([*LANES_TUI, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def agent_lanes(*args: str, cwd) -> subprocess.CompletedProcess:
    """The real agent-lanes 0.1.1 CLI."""
    return subprocess.run([AGENT_LANES, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def listed(done: subprocess.CompletedProcess) -> list[dict]:
    """`list --json`'s tasks without the one field that moves with the clock between two runs."""
    assert done.returncode == 0, done.stderr
    tasks = json.loads(done.stdout)["tasks"]
    for task in tasks:
        task.pop("last_event_age_seconds")
    return tasks


def one_line(done: subprocess.CompletedProcess) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_a_file_queue_goes_to_postgres_and_back_and_agent_lanes_reads_the_same(workspace, postgres_url, tmp_path):
    store = workspace.store()
    answered = workspace.submit(prompt="answer me")
    token = store.claim(answered["id"], owner="bob", lease_seconds=60)["claim_token"]
    store.respond(answered["id"], body="done, see the diff", reviewer="bob", claim_token=token)
    waiting = workspace.submit(prompt="still waiting", name="other")
    before = listed(workspace.run_agent_lanes("list", "--json"))

    there = run("--json", "store", "copy", str(workspace.store_root), postgres_url, cwd=workspace.root)
    assert there.returncode == 0, there.stderr
    report = json.loads(there.stdout)
    assert (report["tasks"], report["copied"], report["answered"]) == (2, 2, 1)
    assert "password" not in there.stdout
    assert listed(run("--store", postgres_url, "--json", "list", cwd=workspace.root)) == before

    back_to = tmp_path / "back" / "state"
    back = run("store", "copy", postgres_url, str(back_to), cwd=workspace.root)
    assert back.returncode == 0, back.stderr
    assert back.stdout.splitlines()[0].startswith("copied 2 task(s) from postgresql://")
    assert f"checked: all 2 read back the same from both (sha256 {report['sha256']})" in back.stdout
    assert listed(agent_lanes("--store", str(back_to), "list", "--json", cwd=workspace.root)) == before
    status = agent_lanes("--store", str(back_to), "status", waiting["id"], "--json", cwd=workspace.root)
    assert status.returncode == 0 and json.loads(status.stdout)["task"]["state"] == "queued", status.stderr


def test_a_running_claim_is_refused_in_one_line_and_nothing_is_written(workspace, tmp_path):
    store = workspace.store()
    task = workspace.submit()
    store.claim(task["id"], owner="lanes-tui@here:1", lease_seconds=600)
    target = tmp_path / "target"
    done = run("store", "copy", str(workspace.store_root), str(target), cwd=workspace.root)
    assert done.returncode == ConflictError.exit_code
    assert "lease running" in one_line(done) and "nothing was copied" in one_line(done)
    assert not any((target / "tasks").iterdir())


def test_bad_places_are_one_line_each_with_their_exit_code(workspace, tmp_path):
    workspace.submit()
    missing = run("store", "copy", str(tmp_path / "nowhere"), str(tmp_path / "to"), cwd=workspace.root)
    assert missing.returncode == NotFound.exit_code and "store does not exist" in one_line(missing)
    assert not (tmp_path / "to").exists()
    unreachable = run("store", "copy", str(workspace.store_root), "postgresql://u:secret@127.0.0.1:1/none",
                      cwd=workspace.root)
    assert unreachable.returncode == StoreError.exit_code and "secret" not in one_line(unreachable)
    same = run("store", "copy", str(workspace.store_root), str(workspace.store_root), cwd=workspace.root)
    assert same.returncode == UsageError.exit_code and "same queue" in one_line(same)
    bare = run("store", cwd=workspace.root)
    assert bare.returncode == UsageError.exit_code
