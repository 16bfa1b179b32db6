"""The storage contract: every backend behind the seam behaves the same (`storage/base.py`).

Each test runs against the file store (the agent-lanes folder) and the in-memory backend:
the state machine and fencing (G4, G7), operator verbs, finding tasks, versions for an
in-memory index, the change feed and the CLI's watch. What only one backend has lives in
its own tests (test_store.py: the layout on disk and roll-forward after a crash).
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from lanes_tui.core.errors import ConflictError, InvalidInput, NotFound
from lanes_tui.core.wire import MAX_RESPONSE_BYTES


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


def test_request_change_blocks_claim_and_is_reported_as_stale(store, workspace):
    changed = submit(store, workspace, correlation_id="a")
    if "postgresql" in store.location:
        # A shared queue carries the request submitted, and then no edit makes a task stale
        # (tests/storage/test_postgres_requests.py); a task imported without it is judged by its file.
        with store._pool.connection() as conn:
            conn.execute("DELETE FROM lanes_tui.requests")
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


def test_a_new_task_is_queued_with_its_created_event(store, workspace, clock):
    task = submit(store, workspace, metadata={"effort": "low"})
    assert task["id"].startswith("20261123T120000000000Z-c-")
    assert (task["state"], task["created_at"], task["metadata"]) == ("queued", "2026-11-23T12:00:00.000000Z",
                                                                      {"effort": "low"})
    assert store.read_task(task["id"]) == task == store.effective_task(task["id"])
    assert events(store, task["id"]) == ["created"]
    assert store.read_response(task["id"]) is None and not store.response_exists(task["id"])
    assert store.task_ids() == [task["id"]]


def test_what_a_caller_is_given_is_a_copy(store, workspace):
    task = submit(store, workspace)
    task["state"] = "completed"
    task["metadata"]["x"] = 1
    store.read_task(task["id"])["metadata"]["y"] = 2
    store.read_events(task["id"]).events[0]["type"] = "tampered"
    assert store.read_task(task["id"])["state"] == "queued"
    assert store.read_task(task["id"])["metadata"] == {}
    assert events(store, task["id"]) == ["created"]


def test_the_answer_and_the_task_agree(store, workspace):
    task = submit(store, workspace)
    token = store.claim(task["id"], owner="w", lease_seconds=60)["claim_token"]
    response = store.respond(task["id"], body="the answer", reviewer="w", claim_token=token,
                             metadata={"cost_usd": 0.5})
    assert store.read_response(task["id"]) == response and store.response_exists(task["id"])
    assert (response["body"], response["status"], response["metadata"]) == ("the answer", "completed",
                                                                            {"cost_usd": 0.5})
    done = store.read_task(task["id"])
    # agent-lanes keeps the claim fields on an answered task; so do we, on every backend
    assert (done["state"], done["claim_token"], done["completed_at"]) == ("completed", token, response["created_at"])
    assert events(store, task["id"]) == ["created", "claimed", "response"]
    assert store.recover(task["id"])["state"] == "completed"


def test_a_failure_is_recorded_with_its_reason(store, workspace):
    task = submit(store, workspace)
    token = store.claim(task["id"], owner="w", lease_seconds=60)["claim_token"]
    store.respond(task["id"], body="it broke", reviewer="w", claim_token=token, status="failed")
    failed = store.effective_task(task["id"])
    assert (failed["state"], failed["failure_reason"]) == ("failed", "it broke")
    with pytest.raises(InvalidInput):
        store.respond(task["id"], body="x", reviewer="w", status="bogus")


def test_an_oversized_answer_is_refused_and_nothing_changes(store, workspace):
    task = submit(store, workspace)
    token = store.claim(task["id"], owner="w", lease_seconds=60)["claim_token"]
    with pytest.raises(InvalidInput, match="too large"):
        store.respond(task["id"], body="x" * (MAX_RESPONSE_BYTES + 1), reviewer="w", claim_token=token)
    assert store.read_task(task["id"])["state"] == "claimed" and store.read_response(task["id"]) is None
    assert events(store, task["id"]) == ["created", "claimed"]


def test_events_are_fenced_by_the_claim_and_read_from_the_tail(store, workspace):
    task = submit(store, workspace)
    token = store.claim(task["id"], owner="w", lease_seconds=60)["claim_token"]
    for n in range(5):
        store.append_event(task["id"], "progress", f"step {n}", {"n": n}, claim_token=token)
    assert [e["data"]["n"] for e in store.read_events(task["id"], limit=2).events] == [3, 4]
    assert store.read_events(task["id"], limit=0).events == []
    assert store.last_event(task["id"])["message"] == "step 4"
    with pytest.raises(ConflictError):
        store.append_event(task["id"], "progress", "forged", claim_token="0" * 32)


def test_only_one_of_many_racing_claimers_wins(store, workspace):
    task = submit(store, workspace)
    start = threading.Barrier(8)
    won, lost = [], []

    def claimer(n):
        start.wait()
        try:
            won.append(store.claim(task["id"], owner=f"w{n}", lease_seconds=60)["claim_owner"])
        except ConflictError:
            lost.append(n)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(lost) == 7
    assert store.read_task(task["id"])["claim_owner"] == won[0]
    assert store.attempts(task["id"]) == 1


def test_listings_lanes_and_candidates(store, workspace, clock):
    first = submit(store, workspace, correlation_id="a", lane="review")
    clock.advance(1)
    second = submit(store, workspace, correlation_id="b", lane="review")
    clock.advance(1)
    other = submit(store, workspace, correlation_id="c", lane="build")
    token = store.claim(first["id"], owner="w", lease_seconds=60)["claim_token"]
    store.respond(first["id"], body="done", reviewer="w", claim_token=token)
    assert [t["id"] for t in store.all_tasks().tasks] == [first["id"], second["id"], other["id"]]
    assert [t["id"] for t in store.all_tasks(lane="review").tasks] == [first["id"], second["id"]]
    assert [t["id"] for t in store.live_tasks().tasks] == [second["id"], other["id"]]
    assert [t["id"] for t in store.live_tasks(lane="review").tasks] == [second["id"]]
    assert store.all_tasks(include_terminal=False).tasks == store.live_tasks().tasks
    assert store.lane_candidates("review") == [second["id"]]
    assert store.lane_candidates(None) == sorted([second["id"], other["id"]])
    assert store.lane_has_tasks("review") and store.lane_has_tasks("build") and not store.lane_has_tasks("nope")
    assert [t["id"] for t in store.read_new_tasks([other["id"], "20261123T120000000000Z-gone-000000000000"])] == [
        other["id"]]
    result = store.next_task("review", candidates=store.lane_candidates("review"), claim_owner="w2", lease_seconds=5)
    assert result.task["id"] == second["id"] and result.claim_token == result.task["claim_token"]


def test_archive_takes_old_finished_tasks_out_of_the_queue(store, workspace, clock):
    old = submit(store, workspace, correlation_id="old")
    store.cancel(old["id"], by="op")
    clock.advance(3 * 86400)
    live = submit(store, workspace, correlation_id="live")
    assert store.archive(older_than_days=2, dry_run=True) == [old["id"]] and not store.is_archived(old["id"])
    assert store.archive(older_than_days=2) == [old["id"]]
    assert store.is_archived(old["id"]) and not store.is_archived(live["id"])
    assert store.task_ids() == [live["id"]]
    with pytest.raises(NotFound):
        store.read_task(old["id"])
    assert store.lane_has_tasks("default")
    assert store.archive(older_than_days=0) == []


def test_load_reads_again_only_what_changed(store, workspace):
    a = submit(store, workspace, correlation_id="a")
    b = submit(store, workspace, correlation_id="b")
    first = {loaded.task_id: loaded for loaded in store.load([a["id"], b["id"]])}
    assert first[a["id"]].task == a and first[b["id"]].task == b and not first[a["id"]].unchanged
    known = {tid: loaded.version for tid, loaded in first.items()}
    store.claim(b["id"], owner="w", lease_seconds=60)
    gone = "20261123T120000000000Z-gone-000000000000"
    again = {loaded.task_id: loaded for loaded in store.load([a["id"], b["id"], gone], known)}
    assert again[a["id"]].unchanged and again[a["id"]].task is None
    assert again[b["id"]].task["state"] == "claimed" and again[b["id"]].version != known[b["id"]]
    assert again[gone].version is None and again[gone].task is None


def test_the_change_feed_names_new_and_changed_tasks(store, workspace):
    async def scenario():
        feed = await asyncio.to_thread(store.task_feed)
        try:
            task = await asyncio.to_thread(submit, store, workspace)
            seen = await _until(feed, {task["id"]})
            await asyncio.to_thread(store.claim, task["id"], owner="w", lease_seconds=60)
            seen = await _until(feed, {task["id"]})
            assert seen >= {task["id"]}
        finally:
            feed.close()
        assert await feed.changes(5) is None  # closed: says so at once

    asyncio.run(scenario())


async def _until(feed, wanted, rounds=200):
    """Changes until `wanted` were all named (a quiet round is a 1 s timeout; 200 of them fail)."""
    seen: set[str] = set()
    for _ in range(rounds):
        ids = await feed.changes(1.0)
        assert ids is not None
        seen |= ids
        if wanted <= seen:
            return seen
    raise AssertionError(f"the feed never named {wanted - seen}")


def test_the_cli_watch_sees_a_new_task_and_a_change_to_a_watched_one(store, workspace):
    with store.watch() as watch:
        task = submit(store, workspace)
        assert _wait_for(watch, task["id"])
    with store.watch([task["id"]]) as watch:
        store.claim(task["id"], owner="w", lease_seconds=60)
        assert _wait_for(watch, task["id"])
    with store.watch() as watch:
        assert watch.wait(0.05) == set()  # quiet: an empty set after the timeout


def _wait_for(watch, task_id, rounds=200):
    for _ in range(rounds):
        if task_id in watch.wait(1.0):
            return True
    return False


def test_sweeping_a_fresh_queue_removes_nothing(store):
    assert store.sweep_temp_files() == 0


def test_every_backend_has_the_whole_seam(store):
    from lanes_tui.storage import base

    wanted = {name for name in vars(base.Backend) if not name.startswith("_")}
    assert wanted - set(dir(store)) == set()
    assert store.location and store.archive_location


# -- coordination: the same rules over each backend's records ---------------------------------


def test_locks_one_holder_fencing_tokens_takeover_and_break(store, clock):
    from lanes_tui.core.locks import LockHeld, LockLost, lock_key_for_name

    locks = store.locks()
    key = lock_key_for_name("deploy")
    first = locks.acquire(key, owner="alice", ttl_seconds=60, reason="release")
    assert locks.acquire(key, owner="alice", ttl_seconds=120).token == first.token  # extended, same grant
    with pytest.raises(LockHeld) as held:
        locks.acquire(key, owner="bob", ttl_seconds=60)
    assert held.value.holder.owner == "alice"
    clock.advance(121)
    taken = locks.acquire(key, owner="bob", ttl_seconds=60)
    assert taken.token > first.token and locks.get(key).owner == "bob"
    with pytest.raises(LockLost):
        locks.renew(key, owner="alice", token=first.token, ttl_seconds=60)
    assert locks.renew(key, owner="bob", token=taken.token, ttl_seconds=60).token == taken.token
    broken = locks.break_lock(key, by="op", reason="stuck")
    assert broken.owner == "bob" and locks.get(key) is None and locks.states() == []
    with pytest.raises(NotFound):
        locks.break_lock(key, by="op", reason="again")
    other = locks.acquire(lock_key_for_name("other"), owner="carol", ttl_seconds=60)
    assert other.token > taken.token
    assert [s.record.owner for s in locks.states()] == ["carol"]
    assert locks.release(other.key, owner="carol", token=other.token).owner == "carol"


def test_presence_decays_and_a_heartbeat_revives(store, clock):
    presence = store.presence()
    presence.register("w1", name="builder", role="dev")
    assert presence.status_of("w1") == "active" and presence.status_of("nobody") is None
    clock.advance(presence.active_seconds + 1)
    assert presence.status_of("w1") == "idle"
    clock.advance(presence.offline_seconds)
    assert presence.status_of("w1") == "offline" and presence.status_of("w1") not in ("active", "idle")
    seen = presence.heartbeat("w1", task_id="t-1", note="working")
    assert (seen.task_id, seen.note, presence.status_of("w1")) == ("t-1", "working", "active")
    presence.heartbeat("w2")  # a first heartbeat registers
    assert [s.record.id for s in presence.agents()] == ["w1", "w2"]
    assert [r.id for r in presence.matching("role:dev")] == ["w1"]


def test_messages_reach_their_addresses_once_and_peeking_reads_nothing(store):
    store.presence().register("bob", name="Bob", role="dev")
    box = store.messages()
    assert box.inbox("bob", mark_read=False) == []
    first = box.send("alice", "bob", "one")
    box.send("alice", "role:dev", "two")
    box.send("alice", "all", "three")
    box.send("bob", "all", "mine")  # never handed to its sender
    box.send("alice", "carol", "not for bob")
    assert first.id == 1
    assert [m.body for m in box.inbox("bob", mark_read=False)] == ["one", "two", "three"]
    assert [m.body for m in box.inbox("bob", max_chars=4)] == ["one"]  # the rest stay unread
    assert [m.body for m in box.inbox("bob")] == ["two", "three"]
    assert box.inbox("bob") == []
    assert [m.body for m in box.recent(2)] == ["mine", "not for bob"]
    with pytest.raises(InvalidInput):
        box.send("alice", "bob", "")


def test_the_journal_keeps_intents_and_history_newest_last(store):
    journal = store.journal()
    for n in range(3):
        journal.intent("alice", f"intent {n}", paths=[f"src/{n}.py"])
    journal.record("alice", "decision", "use postgres")
    journal.record("bob", "done", "shipped")
    assert [e.text for e in journal.read_intents(2)] == ["intent 1", "intent 2"]
    assert journal.read_intents(1)[0].paths == ("src/2.py",)
    assert [(e.kind, e.agent) for e in journal.read_history()] == [("decision", "alice"), ("done", "bob")]
    with pytest.raises(InvalidInput):
        journal.record("alice", "gossip", "x")


def test_record_feeds_and_watches_hear_of_changes(store):
    from lanes_tui.core.locks import lock_key_for_name

    async def scenario():
        feed = await asyncio.to_thread(store.record_feed, "locks")
        try:
            await asyncio.to_thread(store.locks().acquire, lock_key_for_name("db"), owner="a", ttl_seconds=60)
            for _ in range(200):
                if await feed.changed(1.0):
                    break
            else:
                raise AssertionError("the feed never reported the new lock")
        finally:
            feed.close()
        assert await feed.changed(5) is None

    asyncio.run(scenario())
    watch = store.record_watch("locks")
    try:
        store.locks().acquire(lock_key_for_name("cache"), owner="b", ttl_seconds=60)
        assert any(watch.wait(1.0) for _ in range(200))
    finally:
        watch.close()


def test_one_supervisor_per_queue(store):
    first, second = store.supervisor_registry(), store.supervisor_registry()
    assert first.claim() is None and first.holds_lock
    with pytest.raises(ConflictError, match="already running"):
        second.claim()
    first.release()
    assert not first.holds_lock
    second.claim()
    second.release()


def test_attempt_logs_have_a_place_per_task_and_attempt(store, workspace):
    task = submit(store, workspace)
    one, two = store.attempt_log_path(task["id"], 1), store.attempt_log_path(task["id"], 2)
    assert one != two and one.parent == two.parent
    with pytest.raises(InvalidInput):
        store.attempt_log_path("../escape", 1)


def test_listings_print_what_agent_lanes_prints(store, workspace, clock):
    import json

    from lanes_tui.core.batched_output import joined

    done = submit(store, workspace, correlation_id="a")
    token = store.claim(done["id"], owner="w", lease_seconds=60)["claim_token"]
    store.respond(done["id"], body="ok", reviewer="w", claim_token=token)
    clock.advance(5)
    queued = submit(store, workspace, correlation_id="b", lane="other")
    listed = json.loads(joined(store.listing_output(status=False).batches))
    assert (listed["status"], listed["count"]) == ("ok", 2)
    assert [t["id"] for t in listed["tasks"]] == [done["id"], queued["id"]]
    assert listed["tasks"][0]["missing_response"] is False  # its answer is recorded
    assert listed["tasks"][0]["last_event_age_seconds"] == 5
    status = json.loads(joined(store.listing_output(status=True, lane="other").batches))
    assert status["summary"]["queued"] == 1 and status["count"] == 1 and "next_action" in status
    live = json.loads(joined(store.listing_output(status=False, include_terminal=False).batches))
    assert [t["id"] for t in live["tasks"]] == [queued["id"]]
