"""The public Python API (`lanes_tui.client`): the queue's verbs from a program, on the real store,
with agent-lanes 0.1.1 on the same queue."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from lanes_tui.client import AsyncClient, Client
from lanes_tui.core.errors import ConfigError, ConflictError, InvalidInput, NotFound
from lanes_tui.core.model import Task, TaskState


@pytest.fixture
def queue(workspace):
    with Client.open(workspace.config, identity="api-test") as client:
        yield client


def test_submit_claim_complete_and_wait(workspace, queue):
    task = queue.submit(lane="review", prompt="Review the parser", request=workspace.request,
                        metadata={"required_vendor": "codex", "effort": "high", "ticket": 42})
    assert isinstance(task, Task) and task.state is TaskState.QUEUED and task.lane == "review"
    assert task.metadata == {"required_vendor": "codex", "effort": "high", "ticket": 42}
    assert task.source_agent == "api-test"
    assert [t.id for t in queue.pending("review")] == [task.id] and queue.pending("other") == []
    claim = queue.claim_next("review", owner="worker-1", lease_seconds=60)
    assert claim is not None and claim.task.id == task.id and claim.task.state is TaskState.CLAIMED
    assert queue.claim_next("review", owner="worker-2") is None  # nothing else to claim, no waiting
    assert queue.renew(task.id, claim.token, lease_seconds=120).lease_expires_at
    answer = queue.complete(task.id, claim.token, result="looks right", metadata={"tokens_out": 5})
    assert answer.success and answer.result == "looks right" and answer.error is None
    assert queue.wait(task.id, timeout=5).body == "looks right"
    assert queue.task(task.id).state is TaskState.COMPLETED
    # agent-lanes sees the same answer.
    seen = json.loads(workspace.run_agent_lanes("status", task.id).stdout)
    assert seen["task"]["state"] == "completed"


def test_a_worker_reports_a_failure_with_its_reason(workspace, queue):
    task = queue.submit(lane="l", prompt="p", request=workspace.request)
    claim = queue.claim(task.id, owner="ext")
    with pytest.raises(InvalidInput, match="needs an error"):
        queue.complete(task.id, claim.token, success=False)
    answer = queue.complete(task.id, claim.token, success=False, error="tests failed: 3 of 120")
    assert not answer.success and answer.error == "tests failed: 3 of 120"
    failed = queue.task(task.id)
    assert failed.state is TaskState.FAILED and failed.failure_reason == "tests failed: 3 of 120"
    with pytest.raises(ConflictError):
        queue.complete(task.id, claim.token, result="twice")  # at most one answer (G4)


def test_fencing_release_and_cancel(workspace, queue):
    task = queue.submit(lane="l", prompt="p", request=workspace.request)
    first = queue.claim(task.id, owner="a", lease_seconds=60)
    with pytest.raises(ConflictError):
        queue.claim(task.id, owner="b")
    released = queue.release(task.id, first.token, reason="handing over")
    assert released.state is TaskState.QUEUED and released.claim_token is None
    with pytest.raises(ConflictError):
        queue.renew(task.id, first.token)  # a stale holder is fenced (G7)
    cancelled = queue.cancel(task.id, reason="not needed")
    assert cancelled.state is TaskState.FAILED and cancelled.failure_reason.startswith("cancelled")


def test_bad_input_is_refused_before_anything_is_written(workspace, queue):
    with pytest.raises(InvalidInput, match="metadata.effort: .*unknown effort 'extreme'"):
        queue.submit(lane="l", prompt="p", metadata={"effort": "extreme"})
    with pytest.raises(InvalidInput, match="must be a finite number"):
        queue.submit(lane="l", prompt="p", metadata={"budget": float("nan")})
    with pytest.raises(InvalidInput, match="lease_seconds must be a finite number > 0"):
        queue.claim("whatever", owner="x", lease_seconds=float("inf"))
    with pytest.raises(NotFound):
        queue.wait("20261202T000000000000Z-nope-000000000000", timeout=0)
    assert workspace.store().task_ids() == []
    with pytest.raises(ConfigError, match="needs the queue's handoff.yaml"):
        Client.open(store=workspace.store_root).submit(lane="l", prompt="p")


def test_wait_without_an_answer_times_out_with_none(workspace, queue):
    task = queue.submit(lane="l", prompt="p", request=workspace.request)
    assert queue.wait(task.id, timeout=0.05) is None


def test_wire_round_trip_keeps_every_key(workspace, queue):
    task = queue.submit(lane="l", prompt="p", request=workspace.request)
    on_disk = json.loads((workspace.store_root / "tasks" / task.id / "task.json").read_text())
    assert queue.task(task.id).to_wire() == on_disk
    on_disk["added_by_another_tool"] = {"x": 1}
    assert Task.from_wire(on_disk).to_wire() == on_disk


def test_subscribe_reports_changes_made_by_anyone(workspace, queue):
    seen: list[tuple[str, str]] = []
    queued_seen = threading.Event()
    changes = queue.subscribe(lane="watched")

    def other_clients():
        task = workspace.submit(lane="watched", name="w")  # through the store, as another process would
        workspace.submit(lane="elsewhere", name="e")
        assert queued_seen.wait(30)  # changes that land together are reported together: one at a time here
        workspace.run_agent_lanes("claim", task["id"], "--owner", "agent-lanes-worker", "--lease-seconds", "60")

    helper = threading.Thread(target=other_clients)
    helper.start()
    for task in changes:
        seen.append((task.lane, str(task.state)))
        if task.state is TaskState.QUEUED:
            queued_seen.set()
        if task.state is TaskState.CLAIMED:
            break
    changes.close()
    helper.join(30)
    assert seen[0] == ("watched", "queued") and seen[-1] == ("watched", "claimed")
    assert all(lane == "watched" for lane, _ in seen)


async def test_the_async_client_offers_the_same_verbs(workspace):
    async with AsyncClient.open(workspace.config, identity="async-test") as queue:
        task = await queue.submit(lane="l", prompt="p", request=workspace.request)
        stream = queue.subscribe(lane="l")
        first = await asyncio.wait_for(stream.__anext__(), 30)  # the lane as it is: our queued task
        assert first.id == task.id and first.state is TaskState.QUEUED
        waiter = asyncio.create_task(queue.wait(task.id, timeout=30))
        claim = await queue.claim(task.id, owner="async-worker")
        claimed = await asyncio.wait_for(stream.__anext__(), 30)
        assert claimed.id == task.id and claimed.state is TaskState.CLAIMED
        await queue.complete(task.id, claim.token, result="done")
        answer = await asyncio.wait_for(waiter, 30)
        assert answer.result == "done"
        await stream.aclose()
