"""The coordination records behind the seam: the same rules on every backend (`store.locks()`,
`presence()`, `messages()`, `journal()`, `record_feed()`), each backend's records under them.

The file store's own layout (lock files, events.jsonl, message cursors on disk) has its own
tests (test_locks.py, test_messages.py, test_presence.py); these hold the other backends to
the same behaviour, concurrency included.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from lanes_tui.core.locks import LockHeld, LockLost


def test_one_lock_winner_fencing_tokens_grow_and_a_broken_holder_is_fenced(store, clock):
    table = store.locks()
    first = table.acquire("path:src/app.py", owner="alice", ttl_seconds=60, reason="refactor")
    with pytest.raises(LockHeld, match="alice"):
        table.acquire("path:src/app.py", owner="bob", ttl_seconds=60)
    broken = table.break_lock("path:src/app.py", by="operator:ann", reason="stuck")
    assert broken.owner == "alice"
    second = table.acquire("path:src/app.py", owner="bob", ttl_seconds=60)
    assert second.token > first.token
    with pytest.raises(LockLost):
        table.renew("path:src/app.py", owner="alice", token=first.token, ttl_seconds=60)
    clock.advance(61)  # bob's lock is stale now: taken over
    third = table.acquire("path:src/app.py", owner="carol", ttl_seconds=60)
    assert third.token > second.token and third.owner == "carol"
    assert [s.record.owner for s in table.states()] == ["carol"]
    table.release("path:src/app.py", owner="carol", token=third.token)
    assert table.states() == []


def test_a_lock_whose_owner_process_died_is_stale(store):
    table = store.locks()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    table.acquire("name:deploy", owner="alice", ttl_seconds=600, pid=pid)
    taken = table.acquire("name:deploy", owner="bob", ttl_seconds=600)
    assert taken.owner == "bob"


def test_concurrent_acquirers_get_one_winner_and_distinct_tokens(store):
    table = store.locks()
    results: list[object] = []
    barrier = threading.Barrier(8)

    def take(name: str) -> None:
        barrier.wait()
        try:
            results.append(table.acquire("name:release", owner=name, ttl_seconds=600))
        except LockHeld as exc:
            results.append(exc)

    threads = [threading.Thread(target=take, args=(f"agent{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    winners = [r for r in results if not isinstance(r, LockHeld)]
    assert len(results) == 8 and len(winners) == 1
    assert store.locks().get("name:release").owner == winners[0].owner


def test_presence_register_heartbeat_and_status(store, clock):
    presence = store.presence()
    presence.register("alice", role="reviewer")
    assert presence.status_of("alice") == "active" and presence.status_of("nobody") is None
    clock.advance(200)
    assert presence.status_of("alice") == "idle"
    presence.heartbeat("alice", task_id="t-1", note="reading")
    record = presence.get("alice")
    assert presence.status_of("alice") == "active" and (record.task_id, record.note) == ("t-1", "reading")
    assert [a.record.id for a in presence.agents()] == ["alice"]
    assert [r.id for r in presence.matching("role:reviewer")] == ["alice"]


def test_messages_have_growing_ids_and_each_reader_its_own_cursor(store):
    store.presence().register("bob", role="dev")
    box = store.messages()
    ids = [box.send("alice", to, f"m{i}").id for i, to in enumerate(["bob", "all", "role:dev", "carol"])]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert [m.body for m in box.inbox("bob", mark_read=False)] == ["m0", "m1", "m2"]  # peeked: still unread
    assert [m.body for m in box.inbox("bob")] == ["m0", "m1", "m2"]
    assert box.inbox("bob") == []
    assert [m.body for m in box.inbox("carol")] == ["m1", "m3"]  # bob's reading did not mark carol's
    box.send("alice", "bob", "later")
    assert [m.body for m in box.inbox("bob")] == ["later"]
    assert [m.body for m in box.recent(2)] == ["m3", "later"]


def test_concurrent_senders_and_readers_deliver_each_message_exactly_once(store):
    box = store.messages()
    senders, each = 4, 25
    got: list[int] = []
    lock = threading.Lock()

    def send(name: str) -> None:
        for i in range(each):
            store.messages().send(name, "reader", f"{name}-{i}")

    def read() -> None:
        deadline = time.monotonic() + 60  # a bound only: a lost message fails the count below
        while time.monotonic() < deadline:
            found = store.messages().inbox("reader")
            with lock:
                got.extend(m.id for m in found)
                if len(got) >= senders * each:
                    return

    threads = [threading.Thread(target=send, args=(f"s{i}",)) for i in range(senders)]
    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads + readers:
        thread.start()
    for thread in threads:
        thread.join(60)
    for thread in readers:
        thread.join(60)
    assert sorted(got) == sorted(set(got)) and len(got) == senders * each
    assert box.inbox("reader") == []


def test_journal_intents_and_history_newest_last(store):
    journal = store.journal()
    for i in range(3):
        journal.intent("alice", f"step {i}", [f"src/{i}.py"])
    journal.record("bob", "decision", "keep v1")
    assert [e.text for e in journal.read_intents(limit=2)] == ["step 1", "step 2"]
    assert [(e.kind, e.agent, e.text) for e in journal.read_history()] == [("decision", "bob", "keep v1")]


async def test_a_record_feed_hears_a_change_of_its_kind_only(store):
    feed = store.record_feed("locks")
    try:
        assert await feed.changed(0.05) is False
        store.presence().register("alice")  # another kind
        store.locks().acquire("name:x", owner="alice", ttl_seconds=60)
        assert await feed.changed(30) is True
    finally:
        feed.close()
    assert await feed.changed(1) is None
