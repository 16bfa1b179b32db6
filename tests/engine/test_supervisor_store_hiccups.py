"""The supervisor through a store that fails or stalls for a moment (found by the multi-host chaos
run, tests/chaos/test_postgres_hosts.py): none of it may end the supervision, leave a task
claimed for ever, or leave a worker unfenced.

- a read of the store that fails (a connection the server dropped) ends neither the scheduler
  nor the change feed's follower;
- an attempt's helpers end with it even when a cancellation is swallowed (Python 3.11's wait_for
  returns the result of a call that finishes as the cancellation lands: the lease's renewal);
- the lease fence holds from the worker's start, before the store is told of it: a store call that
  holds the event loop there does not leave the worker running past its lease.
"""

from __future__ import annotations

import asyncio
import sys
import time

import pytest
from helpers.supervisor import make_settings, supervising, until

from lanes_tui.core import procinfo
from lanes_tui.core.errors import StoreError
from lanes_tui.engine import events as ev
from lanes_tui.engine import feed as feed_module
from lanes_tui.engine.attempt import _cancel_for_good
from lanes_tui.engine.index import IndexChange

DROPPED = "the queue at postgresql:///q failed: terminating connection due to administrator command"


def failing_for(seconds: float, function):
    """`function`, raising a StoreError for the next `seconds` (connections the server ended)."""
    until_then = time.monotonic() + seconds
    calls = []

    def flaky(*args, **kwargs):
        calls.append(time.monotonic() < until_then)
        if calls[-1]:
            raise StoreError(DROPPED)
        return function(*args, **kwargs)

    flaky.calls = calls
    return flaky


async def test_failed_refreshes_after_a_claim_do_not_end_the_scheduler(workspace, standins):
    task = workspace.submit()
    later = workspace.submit(name="later")
    async with supervising(workspace.store(), make_settings(workspace), start=False) as h:
        await h.supervisor.start()
        # Every refresh fails for a moment: the first claim's (in the scheduler) and the feed's.
        h.supervisor.index.refresh = failing_for(1.0, h.supervisor.index.refresh)
        h.job = asyncio.create_task(h.supervisor.run())
        await h.events.wait_for(ev.TaskCompleted, task["id"])
        await h.events.wait_for(ev.TaskCompleted, later["id"])
        assert not h.job.done()
        assert any(h.supervisor.index.refresh.calls)  # some did fail


class _Index:
    """A TaskIndex stand-in whose first refresh fails."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def refresh(self, ids):
        self.calls.append(f"refresh {','.join(sorted(ids))}")
        if len(self.calls) == 2:  # the first refresh (the start's rescan is the first call)
            raise StoreError(DROPPED)
        return IndexChange(frozenset(ids), frozenset(), frozenset())

    def rescan(self):
        self.calls.append("rescan")
        return IndexChange(frozenset(), frozenset(), frozenset())

    def save_cache(self) -> None:
        pass


class _Feed:
    """Change batches, then quiet (an empty batch at each timeout), closed once `done` is set."""

    def __init__(self, batches) -> None:
        self.batches = list(batches)
        self.done = asyncio.Event()

    async def changes(self, timeout):
        if self.batches:
            return self.batches.pop(0)
        try:
            await asyncio.wait_for(self.done.wait(), timeout)
        except asyncio.TimeoutError:
            return set()
        return None


async def test_the_change_feed_follower_outlives_a_failed_read_and_rescans_what_it_missed(monkeypatch):
    monkeypatch.setattr(feed_module, "RETRY_SECONDS", 0.5)
    index, feed, seen = _Index(), _Feed([{"a"}, {"b"}]), []
    follower = asyncio.create_task(feed_module.follow(index, feed, seen.append, rescan_seconds=30))
    await until(lambda: index.calls.count("rescan") == 2, 10, what="the rescan after the failed read")
    feed.done.set()
    await asyncio.wait_for(follower, 10)
    # "a" could not be read: the rescan, due soon after, covers it; "b" was read meanwhile.
    assert index.calls == ["rescan", "refresh a", "refresh b", "rescan"]
    assert [sorted(change.changed) for change in seen] == [["b"]]


async def test_a_helper_that_swallows_its_cancellation_is_cancelled_again_until_it_ends():
    ended = asyncio.Event()

    async def renewing() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            pass  # what wait_for does on Python 3.11 when its call finishes as the cancellation lands
        try:
            await asyncio.sleep(30)  # the next renewal's wait
        finally:
            ended.set()

    helper = asyncio.create_task(renewing())
    await asyncio.sleep(0)
    await asyncio.wait_for(_cancel_for_good(helper), 5)
    assert helper.done() and ended.is_set()


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="wait_for no longer swallows the cancellation")
async def test_python_311_wait_for_swallows_a_cancellation_that_lands_as_its_call_finishes():
    """Why _cancel_for_good exists: the renewal's result wins over the attempt's cancellation."""
    loop = asyncio.get_running_loop()
    renewal = loop.create_future()

    async def keep_lease():
        return await asyncio.wait_for(renewal, 10)

    job = asyncio.create_task(keep_lease())
    await asyncio.sleep(0)  # it waits for the renewal
    renewal.set_result("renewed")
    job.cancel()
    assert await job == "renewed" and job.cancelling() == 1  # cancelled, yet it goes on


async def test_the_fence_holds_while_recording_the_worker_holds_the_event_loop(workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "hang")  # an agent that works until it is stopped
    lease = 2.0
    settings = make_settings(workspace, lane={"lease_seconds": lease, "renew_seconds": 0.5, "timeout_seconds": 60},
                             kill_grace_seconds=0.2)
    task = workspace.submit()
    async with supervising(workspace.store(), settings, start=False) as h:
        registry = h.supervisor.registry
        record_worker = registry.record_worker
        stalled_until: list[float] = []

        def record_on_a_store_that_does_not_answer(worker) -> None:
            time.sleep(lease + 1.5)  # on the event loop, like a call to a database cut off
            stalled_until.append(time.monotonic())
            record_worker(worker)

        registry.record_worker = record_on_a_store_that_does_not_answer
        await h.supervisor.start()
        h.job = asyncio.create_task(h.supervisor.run())
        started = await h.events.wait_for(ev.WorkerStarted, task["id"], timeout=30)
        # Announced only once the loop came back, past the lease: by then the fence had stopped it.
        assert stalled_until and not procinfo.group_alive(started.pid)
        abandoned = await h.events.wait_for(ev.WorkerAbandoned, task["id"], timeout=30)
        assert abandoned.reason.startswith("claim lost")


async def test_no_worker_starts_on_a_claim_whose_answer_came_after_its_lease(workspace, standins):
    """A claim answered late (a partition that healed: the task was rescued by another host while
    the answer waited) brings a lease already run out: the worker is not started on it."""
    lease = 1.5
    settings = make_settings(workspace, lane={"lease_seconds": lease, "renew_seconds": 0.5})
    task = workspace.submit()
    store = workspace.store()
    claim = store.claim
    answered_late = []

    def claim_answered_late(*args, **kwargs):
        claimed = claim(*args, **kwargs)
        if not answered_late:
            time.sleep(lease + 0.5)  # in the claim's thread: the answer is on its way that long
            answered_late.append(claimed["claim_token"])
        return claimed

    store.claim = claim_answered_late
    async with supervising(store, settings) as h:
        abandoned = await h.events.wait_for(ev.WorkerAbandoned, task["id"])
        assert "lease had run out" in abandoned.reason and h.events.of(ev.WorkerStarted, task["id"]) == []
        done = await h.events.wait_for(ev.TaskCompleted, task["id"])  # the next claim, answered in time
        assert done.attempts == 2


async def test_a_scheduling_pass_the_store_fails_is_tried_again_instead_of_ending_the_supervisor(
        workspace, standins):
    """Whatever store call of a pass nothing closer handles (here the plan's), the supervisor
    goes on: a CI chaos run saw one end (exit 7) on a look at a session the server had ended."""
    task = workspace.submit()
    async with supervising(workspace.store(), make_settings(workspace), start=False) as h:
        await h.supervisor.start()
        plan = h.supervisor._plan
        failures = []

        async def failing_once(task_dict):
            if not failures:
                failures.append(task_dict["id"])
                raise StoreError(DROPPED)
            return await plan(task_dict)

        h.supervisor._plan = failing_once
        h.job = asyncio.create_task(h.supervisor.run())
        await h.events.wait_for(ev.TaskCompleted, task["id"])
        assert failures == [task["id"]] and not h.job.done()


async def test_a_claim_refused_because_its_holder_lives_is_asked_again_only_after_a_while(
        workspace, standins, postgres_url):
    """An expired lease whose holder (another host's supervisor) still heartbeats is refused
    (G22). Asked again at every pass, it cost a refused transaction per change the feed brought:
    with 4 such tasks the termination storm (tests/chaos/test_postgres_terminations.py) took 47 s
    instead of 17-20 s. It waits, with the refusal as its reason, HOLDER_RECHECK_SECONDS between asks."""
    import psycopg

    from lanes_tui.engine.supervisor import HOLDER_RECHECK_SECONDS
    from lanes_tui.storage.postgres import PostgresBackend

    store = PostgresBackend(postgres_url)
    far_owner = "lanes-tui@far-host:1"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        held = store.create_task(workspace_id="ws", correlation_id="held", source_agent="test", lane="default",
                                 workspace_root=workspace.root, request_path=workspace.request,
                                 response_path=workspace.root / "held.md", prompt="held",
                                 metadata={"required_vendor": "claude"})
        store.claim(held["id"], owner=far_owner, lease_seconds=0.2)
        conn.execute("INSERT INTO lanes_tui.supervisors (host, owner, record) VALUES ('far-host', %s, '{}')",
                     (far_owner,))
        asked = []
        claim = store.claim

        def counting_claim(task_id, **kwargs):
            if task_id == held["id"]:
                asked.append(time.monotonic())
            return claim(task_id, **kwargs)

        store.claim = counting_claim
        try:
            async with supervising(store, make_settings(workspace)) as h:
                reason = await until(lambda: h.supervisor.held.get(held["id"]), what="the held task's reason")
                assert "is alive" in reason and "far-host" in reason
                began = time.monotonic()
                others = [store.create_task(workspace_id="ws", correlation_id=f"other-{n}", source_agent="test",
                                            lane="default", workspace_root=workspace.root,
                                            request_path=workspace.request,
                                            response_path=workspace.root / f"other-{n}.md", prompt="other",
                                            metadata={"required_vendor": "claude"}) for n in range(8)]
                for other in others:  # each brings the feed's changes, and a pass with each
                    await h.events.wait_for(ev.TaskCompleted, other["id"])
                during = [t for t in asked if t >= began]
                assert len(during) <= 1 + (time.monotonic() - began) / HOLDER_RECHECK_SECONDS, len(during)
                assert store.read_task(held["id"])["claim_owner"] == far_owner  # still the live holder's
        finally:
            store.close()
