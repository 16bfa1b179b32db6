"""G8 roll-forward: a crash between writing response.json and task.json.

respond writes response.json first, then task.json. A crash in between leaves
a task.json that still says `claimed` next to a complete answer. That answer
counts: readers report the task answered, nobody can answer or claim it again,
and recover() repairs task.json.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from lanes_tui.core import fsio
from lanes_tui.core.errors import ConflictError
from lanes_tui.storage.files.backend import FileBackend


def _crashed_respond(workspace, *, status: str = "completed", body: str = "the answer") -> tuple[dict, str, bytes]:
    """A claimed task whose respond died right after response.json was renamed into place."""
    store = workspace.store()
    task = workspace.submit(lane="a")
    token = store.claim(task["id"], owner="w1", lease_seconds=600)["claim_token"]
    response = {
        "task_id": task["id"],
        "reviewer": "w1",
        "status": status,
        "body": body,
        "reviewed_request_sha256": task["request_sha256"],
        "request_changed_before_response": False,
        "follow_up_required": False,
        "verdict": None,
        "blocking_count": None,
        "nonblocking_count": None,
        "metadata": {},
        "created_at": "2026-11-23T12:00:00.123456Z",
    }
    folder = store.tasks_dir / task["id"]
    with fsio.open_dir(folder) as fd:
        fsio.write_atomic("response.json", fsio.dumps_json(response), dir_fd=fd)
    assert json.loads((folder / "task.json").read_text())["state"] == "claimed"
    return task, token, (folder / "response.json").read_bytes()


def _on_disk(workspace, task_id: str) -> dict:
    return json.loads((workspace.store_root / "tasks" / task_id / "task.json").read_text())


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_status_list_and_wait_report_the_task_answered(workspace):
    task, _, _ = _crashed_respond(workspace)
    status = workspace.run("--json", "status", task["id"])
    assert status.returncode == 0, status.stderr
    view = json.loads(status.stdout)["task"]
    assert view["state"] == "completed"
    assert view["response_exists"] is True and view["missing_response"] is False
    assert view["completed_at"] == "2026-11-23T12:00:00.123456Z"

    everything = workspace.run("--json", "status", "--all")
    assert everything.returncode == 0, everything.stderr
    summary = json.loads(everything.stdout)["summary"]
    assert summary["completed"] == 1 and summary["claimed"] == 0 and summary["stale_claims"] == 0

    listed = workspace.run("--json", "list", "--active-only")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["tasks"] == []  # not live any more

    waited = workspace.run("--json", "wait", task["id"], "--timeout", "20", "--quiet")
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["response"]["body"] == "the answer"
    assert (workspace.root / "out.md").read_text() == "the answer"


def test_failed_answer_rolls_forward_to_failed(workspace):
    task, _, _ = _crashed_respond(workspace, status="failed", body="could not do it")
    waited = workspace.run("--json", "wait", task["id"], "--timeout", "20", "--quiet")
    assert waited.returncode == 3, waited.stderr  # documented: wait on a failed task
    assert "could not do it" in _one_line(waited.stderr)
    recovered = workspace.store().recover(task["id"])
    assert recovered["state"] == "failed" and recovered["failure_reason"] == "could not do it"
    assert _on_disk(workspace, task["id"])["state"] == "failed"


def test_second_respond_is_refused_even_by_the_holder(workspace):
    task, token, answer = _crashed_respond(workspace)
    store = workspace.store()
    with pytest.raises(ConflictError, match="already completed"):
        store.respond(task["id"], body="second answer", reviewer="w1", claim_token=token)
    cli = workspace.run("respond", task["id"], "--claim-token", token, "--body", "third answer")
    assert cli.returncode == 1, cli.stderr
    assert "already completed" in _one_line(cli.stderr)
    assert (store.tasks_dir / task["id"] / "response.json").read_bytes() == answer
    assert [e["type"] for e in store.read_events(task["id"]).events].count("response") == 0


@pytest.mark.parametrize("how", ["store", "cli"])
def test_claim_is_refused_even_after_the_lease_expired(workspace, how):
    task, _, answer = _crashed_respond(workspace)
    if how == "store":
        later = FileBackend(workspace.store_root, clock=lambda: datetime.now(UTC) + timedelta(days=1))
        with pytest.raises(ConflictError, match="completed"):
            later.claim(task["id"], owner="w2", lease_seconds=60)
        assert later.next_task("a", candidates=[task["id"]], claim_owner="w2", lease_seconds=60).task is None
    else:
        # Lease still running: refused because the task is answered, not because of the lease.
        cli = workspace.run("claim", task["id"], "--owner", "w2")
        assert cli.returncode == 1
        assert "completed" in _one_line(cli.stderr)
        nxt = workspace.run("--json", "next", "--lane", "a", "--timeout", "0", "--claim", "--quiet")
        assert nxt.returncode == 0, nxt.stderr
        assert json.loads(nxt.stdout)["status"] == "idle"
    assert (workspace.store_root / "tasks" / task["id"] / "response.json").read_bytes() == answer


def test_recover_writes_task_json_forward_once(workspace):
    task, _, answer = _crashed_respond(workspace)
    store = workspace.store()
    repaired = store.recover(task["id"])
    on_disk = _on_disk(workspace, task["id"])
    assert on_disk == repaired
    assert on_disk["state"] == "completed"
    assert on_disk["completed_at"] == "2026-11-23T12:00:00.123456Z"
    assert on_disk["failed_at"] is None and on_disk["failure_reason"] is None
    kinds = [e["type"] for e in store.read_events(task["id"]).events]
    assert kinds.count("recovered") == 1
    store.recover(task["id"])  # idempotent: nothing left to repair
    assert _on_disk(workspace, task["id"]) == on_disk
    assert [e["type"] for e in store.read_events(task["id"]).events].count("recovered") == 1
    assert (store.tasks_dir / task["id"] / "response.json").read_bytes() == answer


def test_another_tasks_response_is_never_rolled_forward(workspace):
    """Issue 10: a response.json whose task_id names another task (copied or moved in) used to be
    taken as this task's answer. It is refused: the task is reported corrupt, its task.json untouched."""
    store = workspace.store()
    answered, _, donor_bytes = _crashed_respond(workspace)
    victim = workspace.submit(lane="a", name="victim")
    store.claim(victim["id"], owner="w2", lease_seconds=600)
    folder = store.tasks_dir / victim["id"]
    (folder / "response.json").write_bytes(donor_bytes)
    before = (folder / "task.json").read_bytes()
    status = workspace.run("status", victim["id"], "--json")
    assert status.returncode == 8
    assert f"response.json belongs to task '{answered['id']}'" in _one_line(status.stderr)
    listing = json.loads(workspace.run("list", "--json").stdout)
    assert victim["id"] in {entry["task_id"] for entry in listing["corrupt"]}
    recover = workspace.run("respond", victim["id"], "--claim-token", "x", "--body", "b")
    assert recover.returncode == 8 and (folder / "task.json").read_bytes() == before
