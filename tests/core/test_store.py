"""The store's state machine, fencing (G4, G7), roll-forward (G8) and operator verbs."""

from __future__ import annotations

import json
import os
import stat

import pytest
from helpers.clock import ManualClock

from lanes_tui.core.errors import ConflictError, InvalidInput, NotFound
from lanes_tui.core.store import TaskStore
from lanes_tui.core.wire import TASK_KEYS


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def store(workspace, clock):
    return TaskStore(workspace.store_root, clock=clock)


def submit(store, workspace, **kw):
    return store.create_task(
        workspace_id="ws",
        correlation_id=kw.pop("correlation_id", "c"),
        source_agent="t",
        lane=kw.pop("lane", "default"),
        workspace_root=workspace.root,
        request_path=workspace.request,
        response_path=workspace.root / "out.md",
        prompt=kw.pop("prompt", "p"),
        metadata=kw.pop("metadata", {}),
    )


def events(store, task_id):
    return [e["type"] for e in store.read_events(task_id).events]


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


def test_claim_renew_release_cycle(store, workspace, clock):
    task = submit(store, workspace)
    claimed = store.claim(task["id"], owner="w1", lease_seconds=60)
    assert claimed["state"] == "claimed" and len(claimed["claim_token"]) == 32
    with pytest.raises(ConflictError, match="active lease held by w1"):
        store.claim(task["id"], owner="w2", lease_seconds=60)
    clock.advance(30)
    renewed = store.renew(task["id"], claim_token=claimed["claim_token"], lease_seconds=60)
    assert renewed["lease_expires_at"] == "2026-11-23T12:01:30.000000Z"
    released = store.release(task["id"], claim_token=claimed["claim_token"], reason="later")
    assert released["state"] == "queued" and released["claim_token"] is None
    assert events(store, task["id"]) == ["created", "claimed", "renewed", "released"]


def test_expired_lease_can_be_reclaimed_and_the_old_holder_is_fenced(store, workspace, clock):
    task = submit(store, workspace)
    first = store.claim(task["id"], owner="w1", lease_seconds=10)
    clock.advance(11)
    second = store.claim(task["id"], owner="w2", lease_seconds=10)
    for call in (
        lambda: store.renew(task["id"], claim_token=first["claim_token"], lease_seconds=10),
        lambda: store.release(task["id"], claim_token=first["claim_token"]),
        lambda: store.respond(task["id"], body="late", reviewer="w1", claim_token=first["claim_token"]),
        lambda: store.append_event(task["id"], "note", "x", claim_token=first["claim_token"]),
    ):
        with pytest.raises(ConflictError):
            call()
    store.respond(task["id"], body="ok", reviewer="w2", claim_token=second["claim_token"])
    assert store.read_response(task["id"])["body"] == "ok"
    assert store.attempts(task["id"]) == 2


def test_response_recorded_at_most_once(store, workspace):
    task = submit(store, workspace)
    claim = store.claim(task["id"], owner="w", lease_seconds=60)
    store.respond(task["id"], body="one", reviewer="w", claim_token=claim["claim_token"])
    with pytest.raises(ConflictError, match="already completed"):
        store.respond(task["id"], body="two", reviewer="w", claim_token=claim["claim_token"])
    assert store.read_response(task["id"])["body"] == "one"


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


def test_request_change_blocks_claim_and_is_reported_as_stale(store, workspace):
    changed = submit(store, workspace, correlation_id="a")
    workspace.request.write_text("edited after submit\n")
    other_request = workspace.root / "other.md"
    other_request.write_text("fine\n")
    good = store.create_task(
        workspace_id="ws", correlation_id="b", source_agent="t", lane="default", workspace_root=workspace.root,
        request_path=other_request, response_path=workspace.root / "o.md", prompt="p",
    )
    with pytest.raises(ConflictError, match="hash mismatch"):
        store.claim(changed["id"], owner="w", lease_seconds=60)
    result = store.next_task("default", candidates=[changed["id"], good["id"]], claim_owner="w", lease_seconds=60)
    assert result.task["id"] == good["id"] and result.claim_token
    assert [tid for tid, _ in result.stale] == [changed["id"]]


def test_vendor_filter_skips_instead_of_blocking(store, workspace):
    claude_only = submit(store, workspace, correlation_id="a", metadata={"required_vendor": "claude"})
    anyone = submit(store, workspace, correlation_id="b", metadata={"required_vendor": "any"})
    result = store.next_task("default", candidates=[claude_only["id"], anyone["id"]], vendor="codex")
    assert result.task["id"] == anyone["id"]
    assert result.skipped_vendor == (claude_only["id"],)


def test_cancel_queued_and_claimed(store, workspace):
    queued = submit(store, workspace, correlation_id="a")
    claimed = submit(store, workspace, correlation_id="b")
    token = store.claim(claimed["id"], owner="w", lease_seconds=60)["claim_token"]
    for task in (queued, claimed):
        done = store.cancel(task["id"], by="alice", reason="not needed")
        assert (done["state"], done["failure_reason"], done["claim_token"]) == ("failed", "cancelled", None)
        last = store.last_event(task["id"])
        assert last["type"] == "cancelled" and last["data"]["by"] == "alice"
    with pytest.raises(ConflictError):
        store.respond(claimed["id"], body="late", reviewer="w", claim_token=token)
    with pytest.raises(ConflictError):
        store.cancel(queued["id"], by="alice")


def test_break_requeues_and_kills_the_old_token(store, workspace):
    task = submit(store, workspace)
    token = store.claim(task["id"], owner="w1", lease_seconds=600)["claim_token"]
    broken = store.break_claim(task["id"], by="op", reason="stuck")
    assert broken["state"] == "queued"
    event = store.last_event(task["id"])
    assert event["type"] == "released"
    assert event["data"] == {
        "action": "break", "by": "op", "reason": "stuck", "previous_owner": "w1",
        "claimed_at": "2026-11-23T12:00:00.000000Z", "lease_expires_at": "2026-11-23T12:10:00.000000Z",
    }
    with pytest.raises(ConflictError):
        store.renew(task["id"], claim_token=token, lease_seconds=60)
    with pytest.raises(ConflictError, match="not claimed"):
        store.break_claim(task["id"], by="op", reason="again")


def test_requeue_failed_task_links_old_and_new(store, workspace, clock):
    task = submit(store, workspace, metadata={"effort": "low"})
    store.cancel(task["id"], by="op")
    clock.advance(1)
    new = store.requeue(task["id"], by="op", metadata_overrides={"effort": "high"})
    assert new["id"] != task["id"] and new["state"] == "queued"
    assert new["metadata"] == {"effort": "high", "requeued_from": task["id"]}
    assert (new["prompt"], new["lane"], new["request_path"]) == (task["prompt"], task["lane"], task["request_path"])
    assert store.last_event(task["id"])["data"]["new_task_id"] == new["id"]
    with pytest.raises(ConflictError, match="not failed"):
        store.requeue(new["id"], by="op")


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


def test_paths_outside_workspace_are_refused(store, workspace, tmp_path):
    outside = tmp_path / "outside.md"
    outside.write_text("x")
    with pytest.raises(InvalidInput, match="outside workspace_root"):
        store.create_task(
            workspace_id="ws", correlation_id="c", source_agent="t", lane="default", workspace_root=workspace.root,
            request_path=outside, response_path=workspace.root / "o.md", prompt="p",
        )


def test_bad_leases_are_refused(store, workspace):
    task = submit(store, workspace)
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(InvalidInput):
            store.claim(task["id"], owner="w", lease_seconds=bad)


def test_unknown_task(store):
    with pytest.raises(NotFound):
        store.read_task("20261123T120000000000Z-nope-000000000000")
