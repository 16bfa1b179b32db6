"""Messages: per-recipient delivery and read state, addressing, size limits, torn lines, concurrent
senders; and the journal (intents and history) that lives beside them."""

from __future__ import annotations

import json
import multiprocessing
import time
from datetime import timedelta

import pytest
from helpers.clock import ManualClock

from lanes_tui.core.errors import InvalidInput, NotFound
from lanes_tui.core.journal import MAX_TEXT_BYTES
from lanes_tui.core.messages import MAX_BODY_BYTES
from lanes_tui.storage.files.coordination import file_journal, file_messages, file_presence
from lanes_tui.storage.files.messages import COUNTER, LOG, MAX_LINE_BYTES

INTENTS, HISTORY = "intents.jsonl", "history.jsonl"

HOSTILE = "\x1b[2J\x1b]52;c;cHduZWQ=\x07 [bold red]markup[/] \u202eevil\u202c \r\x00 \u2028end"


def Clock() -> ManualClock:  # noqa: N802 - every reading a millisecond later: messages sort in order
    return ManualClock(tick=timedelta(milliseconds=1))


@pytest.fixture
def store(tmp_path):
    (tmp_path / "store").mkdir()
    return tmp_path / "store"


@pytest.fixture
def box(store):
    return file_messages(store, clock=Clock())


def bodies(messages) -> list[str]:
    return [m.body for m in messages]


def test_each_reader_has_its_own_read_state(box):
    sent = box.send("carol", "all", "standup in 5")
    assert (sent.id, sent.sender, sent.to) == (1, "carol", "all")
    assert bodies(box.inbox("alice")) == ["standup in 5"]
    assert box.inbox("alice") == []  # read now, for alice only
    assert bodies(box.inbox("bob", mark_read=False)) == ["standup in 5"]
    assert bodies(box.inbox("bob", mark_read=False)) == ["standup in 5"]  # peeking marks nothing
    assert bodies(box.inbox("bob")) == ["standup in 5"]
    assert box.inbox("bob") == []
    assert box.inbox("carol") == []  # never your own messages
    box.send("carol", "all", "second")
    assert bodies(box.inbox("alice")) == bodies(box.inbox("bob")) == ["second"]


def test_addressing_by_id_name_role_and_all(store):
    presence = file_presence(store)
    presence.register("w1", name="builder", role="dev")
    presence.register("w2", role="dev")
    presence.register("w3", role="review")
    box = file_messages(store, presence=presence)
    box.send("op", "w1", "to w1")
    box.send("op", "name:builder", "to builder")
    box.send("op", "role:dev", "to devs")
    box.send("op", "role:review", "to reviewers")
    box.send("op", "all", "to everyone")
    box.send("w1", "role:dev", "from w1 to devs")
    assert bodies(box.inbox("w1")) == ["to w1", "to builder", "to devs", "to everyone"]
    assert bodies(box.inbox("w2")) == ["to devs", "to everyone", "from w1 to devs"]
    assert bodies(box.inbox("w3")) == ["to reviewers", "to everyone"]
    assert bodies(box.inbox("unregistered")) == ["to everyone"]
    assert [(m.id, m.to) for m in box.recent(2)] == [(5, "all"), (6, "role:dev")]


@pytest.mark.parametrize("to", ["", "role:Dev", "role:", "name:", "name:a\x1b", "a\nb", "\u202ex", "x" * 201])
def test_bad_addresses_are_refused(box, to):
    with pytest.raises(InvalidInput):
        box.send("alice", to, "hi")


@pytest.mark.parametrize("sender", ["", "all", "role:x", "a\x1b[2J", "x" * 201])
def test_bad_senders_are_refused(box, sender):
    with pytest.raises(InvalidInput):
        box.send(sender, "all", "hi")


def test_a_ten_megabyte_body_is_refused_fast_and_nothing_is_written(box):
    huge = "x" * (10 << 20)
    started = time.monotonic()
    with pytest.raises(InvalidInput) as refused:
        box.send("alice", "all", huge)
    assert time.monotonic() - started < 0.5
    assert "\n" not in str(refused.value) and str(MAX_BODY_BYTES) in str(refused.value)
    # Multi-byte characters: few enough code points, too many bytes.
    with pytest.raises(InvalidInput):
        box.send("alice", "all", "\u20ac" * (MAX_BODY_BYTES // 3 + 1))
    for bad in ("", "  \n ", "\ud800 lone surrogate"):
        with pytest.raises(InvalidInput):
            box.send("alice", "all", bad)
    assert not (box.log.path / LOG).exists() and not (box.log.path / COUNTER).exists()
    assert box.send("alice", "all", "y" * MAX_BODY_BYTES).id == 1  # exactly the limit is fine


def test_hostile_text_is_stored_raw(box):
    box.send("mallory", "all", HOSTILE)
    assert bodies(box.inbox("alice")) == [HOSTILE]
    (line,) = (box.log.path / LOG).read_text().splitlines()
    assert json.loads(line)["body"] == HOSTILE and "\x1b" not in line  # JSON-escaped on disk


def test_a_torn_last_line_is_skipped_and_the_next_message_still_arrives(box):
    box.send("a", "all", "one")
    with open(box.log.path / LOG, "ab") as log:
        log.write(b'{"body": "torn", "id": 2, "sen')  # a crash mid-append
    assert bodies(box.inbox("b", mark_read=False)) == ["one"]
    assert box.send("a", "all", "two").id == 2  # the torn line never got its id from the counter
    assert bodies(box.inbox("b")) == ["one", "two"]
    assert (box.log.path / LOG).read_bytes().count(b"\n") == 3  # the fragment was closed off on its own line


def test_an_append_in_progress_is_not_half_read(box):
    box.send("a", "all", "one")
    line = json.dumps({"id": 2, "sender": "a", "to": "all", "body": "two", "sent_at": "x"}, sort_keys=True)
    with open(box.log.path / LOG, "ab") as log:
        log.write(line.encode())  # complete JSON, but its newline has not been written yet
    assert bodies(box.inbox("b")) == ["one"]
    with open(box.log.path / LOG, "ab") as log:
        log.write(b"\n")
    assert bodies(box.inbox("b")) == ["two"]  # the cursor stopped before it


def test_a_damaged_counter_never_hands_out_an_id_again(box):
    for n in range(3):
        box.send("a", "all", f"m{n}")
    (box.log.path / COUNTER).write_text("garbage")
    assert box.send("a", "all", "m3").id == 4
    (box.log.path / COUNTER).unlink()
    assert box.send("a", "all", "m4").id == 5
    assert [m.id for m in box.recent(10)] == [1, 2, 3, 4, 5]


def test_damaged_cursors_and_planted_lines(box):
    box.send("a", "all", "one")
    assert bodies(box.inbox("b")) == ["one"]
    (cursor,) = (box.log.path / "read").iterdir()
    data = json.loads(cursor.read_text())
    assert data == {"agent": "b", "high_water": 1, "offset": (box.log.path / LOG).stat().st_size}
    cursor.write_text(json.dumps({**data, "offset": 3}))  # not a line start: the log is scanned again
    box.send("a", "all", "two")
    assert bodies(box.inbox("b")) == ["two"]
    cursor.write_text("{nope")  # unreadable: everything again rather than losing a message
    assert bodies(box.inbox("b")) == ["one", "two"]
    with open(box.log.path / LOG, "ab") as log:
        log.write(b"[1, 2]\n" + b"x" * (MAX_LINE_BYTES + 10) + b"\n" + b'{"id": "3"}\n')
    box.send("a", "all", "three")
    assert bodies(box.inbox("b")) == ["three"]


def test_no_store_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        file_messages(tmp_path / "missing").send("a", "all", "hi")


def _send_many(store: str, sender: str, count: int, barrier) -> None:
    box = file_messages(store)
    barrier.wait()
    for n in range(count):
        box.send(sender, "reader", f"{sender}-{n}")


def _read_until(store: str, expected: int, total, results) -> None:
    box, got = file_messages(store), []
    deadline = time.monotonic() + 60
    while total.value < expected and time.monotonic() < deadline:
        batch = [m.id for m in box.inbox("reader")]
        with total.get_lock():
            total.value += len(batch)
        got += batch
    results.put(got)


def test_concurrent_senders_unique_ids_each_message_delivered_once(store):
    ctx = multiprocessing.get_context("fork")
    senders, each = 8, 20
    barrier, results, total = ctx.Barrier(senders), ctx.Queue(), ctx.Value("i", 0)
    # Two processes of the same reader poll while the senders write: no message may be
    # missed, and none handed to both.
    readers = [ctx.Process(target=_read_until, args=(str(store), senders * each, total, results)) for _ in range(2)]
    procs = [ctx.Process(target=_send_many, args=(str(store), f"s{i}", each, barrier)) for i in range(senders)]
    for proc in readers + procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    got = [message_id for _ in readers for message_id in results.get(timeout=60)]
    for proc in readers:
        proc.join(30)
    box = file_messages(store)
    got += [m.id for m in box.inbox("reader")]
    assert sorted(got) == list(range(1, senders * each + 1))  # unique, none lost, none twice
    logged = box.recent(1000)
    assert [m.id for m in logged] == list(range(1, senders * each + 1))  # the log is in id order
    assert sorted(m.body for m in logged) == sorted(f"s{i}-{n}" for i in range(senders) for n in range(each))
    assert box.inbox("other-reader") == []  # addressed to "reader" only
    assert box.inbox("reader") == []


# -- journal: intents and history ----------------------------------------------------------------


@pytest.fixture
def journal(store):
    return file_journal(store, clock=Clock())


def test_intents_and_history_newest_last_with_limits(journal):
    for n in range(5):
        journal.intent("alice", f"intent {n}", paths=[f"src/{n}.py"])
    journal.record("bob", "done", "shipped")
    journal.record("bob", "decision", "use flock")
    assert [e.text for e in journal.read_intents(3)] == ["intent 2", "intent 3", "intent 4"]
    assert journal.read_intents(1)[0].paths == ("src/4.py",)
    assert [(e.kind, e.text) for e in journal.read_history(10)] == [("done", "shipped"), ("decision", "use flock")]
    assert journal.read_intents(1)[0].to_json()["kind"] == "intent"


def test_journal_refuses_bad_input(journal):
    with pytest.raises(InvalidInput):
        journal.record("bob", "note", "x")
    with pytest.raises(InvalidInput):
        journal.intent("bob", "t" * (MAX_TEXT_BYTES + 1))
    with pytest.raises(InvalidInput):
        journal.intent("bob", "\u20ac" * (MAX_TEXT_BYTES // 3 + 1))
    with pytest.raises(InvalidInput):
        journal.intent("bob", "   ")
    with pytest.raises(InvalidInput):
        journal.intent("bob", "x", paths=["a\x00b"])
    with pytest.raises(InvalidInput):
        journal.intent("bob", "x", paths=[f"p{n}" for n in range(21)])
    with pytest.raises(InvalidInput):
        journal.intent("role:x", "x")
    for limit in (0, -1, 1001, True):
        with pytest.raises(InvalidInput):
            journal.read_history(limit)
    assert journal.read_history() == [] and journal.read_intents() == []


def test_journal_stores_hostile_text_raw_and_skips_torn_and_corrupt_lines(journal):
    journal.intent("mallory", HOSTILE, paths=["\x1b[2J.py"])
    with open(journal.logs.path / INTENTS, "ab") as log:
        log.write(b'{"kind": "intent", "agent": "x", "te')  # torn
    assert [(e.text, e.paths) for e in journal.read_intents()] == [(HOSTILE, ("\x1b[2J.py",))]
    journal.intent("alice", "after the tear")
    with open(journal.logs.path / INTENTS, "ab") as log:
        log.write(b'"not an object"\n{"kind": "intent"}\n')
    assert [e.text for e in journal.read_intents()] == [HOSTILE, "after the tear"]
    journal.record("bob", "done", "x")
    (journal.logs.path / HISTORY).write_bytes((journal.logs.path / HISTORY).read_bytes()[:-5])
    assert journal.read_history() == []


def test_journal_tail_spans_many_chunks(journal):
    for n in range(300):
        journal.record("bob", "done", f"{n:03d} " + "z" * 1000)  # ~300 KiB: several read chunks
    assert [e.text[:3] for e in journal.read_history(5)] == ["295", "296", "297", "298", "299"]
    assert len(journal.read_history(1000)) == 300
