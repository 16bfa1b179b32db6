"""What only the file store has: the agent-lanes layout on disk, roll-forward after a crash between
its two writes (G8), archive as a rename. The verbs every backend shares: test_contract.py."""

from __future__ import annotations

import json
import os
import stat

import pytest
from helpers.clock import ManualClock

from lanes_tui.core.errors import ConflictError, InvalidInput
from lanes_tui.core.wire import TASK_KEYS
from lanes_tui.storage.files.backend import FileBackend

from .test_contract import events, submit


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def store(workspace, clock):
    return FileBackend(workspace.store_root, clock=clock)


def test_submit_writes_the_agent_lanes_layout(store, workspace, clock):
    task = submit(store, workspace)
    folder = store.tasks_dir / task["id"]
    on_disk = (folder / "task.json").read_text()
    assert on_disk == json.dumps(task, indent=2, sort_keys=True) + "\n"
    assert sorted(task) == sorted(TASK_KEYS) and len(TASK_KEYS) == 24
    assert task["created_at"] == "2026-11-23T12:00:00.000000Z"  # six digits even when zero
    assert task["id"].startswith("20261123T120000000000Z-c-")
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    for name in ("task.json", "events.jsonl"):
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.root).st_mode) == 0o700
    assert events(store, task["id"]) == ["created"]


def test_roll_forward_when_response_exists_but_task_json_lags(store, workspace):
    task = submit(store, workspace)
    claim = store.claim(task["id"], owner="w", lease_seconds=60)
    store.respond(task["id"], body="answer", reviewer="w", claim_token=claim["claim_token"])
    # Simulate a crash between the two writes: task.json still says claimed.
    path = store.tasks_dir / task["id"] / "task.json"
    stale = json.loads(path.read_text())
    stale.update(state="claimed", completed_at=None)
    path.write_text(json.dumps(stale, indent=2, sort_keys=True) + "\n")
    assert store.effective_task(task["id"])["state"] == "completed"
    with pytest.raises(ConflictError, match="already completed"):
        store.respond(task["id"], body="again", reviewer="w", claim_token=claim["claim_token"])
    assert json.loads(path.read_text())["state"] == "completed"
    assert "recovered" in events(store, task["id"])


def test_archive_moves_only_old_terminal_tasks(store, workspace, clock):
    old = submit(store, workspace, correlation_id="old")
    token = store.claim(old["id"], owner="w", lease_seconds=60)["claim_token"]
    store.respond(old["id"], body="x", reviewer="w", claim_token=token)
    live = submit(store, workspace, correlation_id="live")
    clock.advance(3 * 86400)
    recent = submit(store, workspace, correlation_id="recent")
    store.cancel(recent["id"], by="op")
    assert store.archive(older_than_days=2, dry_run=True) == [old["id"]]
    assert (store.tasks_dir / old["id"]).exists()
    assert store.archive(older_than_days=2) == [old["id"]]
    assert not (store.tasks_dir / old["id"]).exists()
    assert (store.archive_dir / old["id"] / "response.json").exists()
    assert sorted(store.task_ids()) == sorted([live["id"], recent["id"]])
    with pytest.raises(InvalidInput):
        store.archive(older_than_days=float("nan"))