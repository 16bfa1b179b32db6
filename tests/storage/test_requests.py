"""Requests where an agent needs a person (core/requests.py) on both backends: one answer wins,
expiry and a dead waiter close a request, every change is an event on its task, damaged
records are skipped, and finished ones are pruned."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from lanes_tui.core.errors import InvalidInput, NotFound
from lanes_tui.core.requests import (
    ANSWERED,
    CLOSED,
    EXPIRED,
    OPEN,
    PERMISSION,
    QUESTION,
    RequestClosed,
    validate_request_id,
)
from lanes_tui.storage.files.backend import FileBackend
from lanes_tui.storage.files.coordination import REQUESTS_DIR
from lanes_tui.storage.files.records import EVENTS

from .test_contract import submit


def task_events(store, task_id):
    return [e for e in store.read_events(task_id).events if e["type"].startswith("input_")]


def test_a_question_is_opened_answered_once_and_told_to_its_task(store, workspace):
    task = submit(store, workspace)
    book = store.requests()
    asked = book.open(kind=QUESTION, agent="w/1", text="Which database?", options=["pg", "sqlite"],
                      task_id=task["id"], lane="default", timeout_seconds=60)
    assert asked.id == "r1" and asked.state == OPEN and asked.options == ("pg", "sqlite")
    assert [r.id for r in book.pending()] == ["r1"] and book.pending(task_id="other") == []
    answered = book.answer("r1", decision="reply", reply="pg", by="operator:ann")
    assert answered.state == ANSWERED and answered.reply == "pg" and answered.answered_by == "operator:ann"
    with pytest.raises(RequestClosed, match="r1 is answered"):
        book.answer("1", decision="reply", reply="sqlite", by="operator:bob")
    assert store.requests().get("#1").reply == "pg"  # any reader, any spelling of the id
    kinds = [(e["type"], e["data"]["request_id"]) for e in task_events(store, task["id"])]
    assert kinds == [("input_requested", "r1"), ("input_answered", "r1")]
    assert book.pending() == []


def test_two_operators_racing_one_request_one_wins(store, workspace):
    book = store.requests()
    asked = book.open(kind=QUESTION, agent="w", text="go?", timeout_seconds=60)
    barrier = threading.Barrier(8)
    outcomes = []

    def answer(n):
        barrier.wait()
        try:
            outcomes.append(book.answer(asked.id, decision="reply", reply=f"answer {n}", by=f"operator:{n}").reply)
        except RequestClosed:
            outcomes.append(None)

    threads = [threading.Thread(target=answer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if o is not None]
    assert len(winners) == 1 and book.get(asked.id).reply == winners[0]


def test_past_its_time_a_request_reads_expired_and_cannot_be_answered(store, workspace, clock):
    task = submit(store, workspace)
    book = store.requests()
    asked = book.open(kind=QUESTION, agent="w", text="still there?", task_id=task["id"], timeout_seconds=30)
    clock.advance(31)
    assert book.get(asked.id).state == EXPIRED and book.pending() == []
    with pytest.raises(RequestClosed, match="expired"):
        book.answer(asked.id, decision="reply", reply="yes", by="operator:ann")
    settled = book.settle()  # written down, with the reason, as an event on the task
    assert [r.id for r in settled] == [asked.id] and "no answer by" in settled[0].reply
    assert task_events(store, task["id"])[-1]["data"] == {"request_id": asked.id, "state": EXPIRED}
    assert book.settle() == []


def test_a_request_whose_waiter_died_reads_closed(store, workspace):
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    book = store.requests()
    asked = book.open(kind=QUESTION, agent="w", text="q", timeout_seconds=60, pid=child.pid)
    assert book.get(asked.id).state == OPEN
    child.communicate(b"")  # exits and is reaped
    shown = book.get(asked.id)
    assert shown.state == CLOSED and "no longer waiting" in shown.reply


def test_closing_a_tasks_requests_leaves_the_others(store, workspace):
    one, two = submit(store, workspace), submit(store, workspace, correlation_id="d")
    book = store.requests()
    a = book.open(kind=QUESTION, agent="w", text="a", task_id=one["id"], timeout_seconds=60)
    b = book.open(kind=QUESTION, agent="w", text="b", task_id=two["id"], timeout_seconds=60)
    closed = book.close_for_task(one["id"], "the attempt ended")
    assert [r.id for r in closed] == [a.id] and book.get(a.id).reply == "the attempt ended"
    assert [r.id for r in book.pending()] == [b.id]


def test_permission_decisions_and_bad_answers_are_refused_with_one_line(store, workspace):
    book = store.requests()
    asked = book.open(kind=PERMISSION, agent="w", text="Bash: rm -rf build", tool="Bash",
                      tool_input={"command": "rm -rf build"}, timeout_seconds=60)
    with pytest.raises(InvalidInput, match="answered with: allow, allow_tool, deny, deny_stop"):
        book.answer(asked.id, decision="reply", reply="sure", by="operator:ann")
    question = book.open(kind=QUESTION, agent="w", text="q", timeout_seconds=60)
    with pytest.raises(InvalidInput, match="needs text"):
        book.answer(question.id, decision="reply", reply="  ", by="operator:ann")
    denied = book.answer(asked.id, decision="deny", reply="not in CI", by="operator:ann")
    assert denied.decision == "deny" and denied.tool_input == {"command": "rm -rf build"}
    with pytest.raises(NotFound):
        book.get("r999")
    for bad in ("", "x1", "r-1", "r1/../2", "r" + "9" * 30):
        with pytest.raises(InvalidInput):
            validate_request_id(bad)


@pytest.mark.parametrize("kwargs, message", [
    ({"text": ""}, "empty"),
    ({"text": "x" * 4001}, "at most 4000"),
    ({"text": "a\x00b"}, "NUL"),
    ({"options": ["a", "a"]}, "differ"),
    ({"options": [str(n) for n in range(21)]}, "at most 20 options"),
    ({"timeout_seconds": float("nan")}, "timeout"),
    ({"timeout_seconds": 0}, "timeout"),
    ({"kind": "wish"}, "one of"),
])
def test_bad_requests_are_refused_and_nothing_is_kept(store, workspace, kwargs, message):
    book = store.requests()
    args = {"kind": QUESTION, "agent": "w", "text": "q", "timeout_seconds": 60, **kwargs}
    with pytest.raises(InvalidInput, match=message):
        book.open(**args)
    assert book.all() == []


def test_a_huge_tool_input_is_kept_cut(store, workspace):
    book = store.requests()
    asked = book.open(kind=PERMISSION, agent="w", text="Write big", tool="Write",
                      tool_input={"content": "x" * 100_000}, timeout_seconds=60)
    kept = book.get(asked.id).tool_input
    assert set(kept) == {"truncated"} and len(kept["truncated"]) == 32 << 10


def test_finished_requests_are_pruned_after_a_day(store, workspace, clock):
    book = store.requests()
    old = book.open(kind=QUESTION, agent="w", text="old", timeout_seconds=60)
    book.answer(old.id, decision="reply", reply="done", by="operator:ann")
    waiting = book.open(kind=QUESTION, agent="w", text="waiting", timeout_seconds=7 * 86400)
    clock.advance(86400 + 1)
    new = book.open(kind=QUESTION, agent="w", text="new", timeout_seconds=60)
    assert [r.id for r in book.all()] == [waiting.id, new.id]  # ids are never reused
    assert new.number > old.number


def test_files_damaged_or_foreign_request_records_are_skipped(workspace, clock):
    files = FileBackend(workspace.store_root, clock=clock)
    book = files.requests()
    good = book.open(kind=QUESTION, agent="w", text="q", timeout_seconds=60)
    folder = workspace.store_root / REQUESTS_DIR
    copied = json.loads(next(folder.glob("*.json")).read_text())
    (folder / ("0" * 40 + ".json")).write_text('{"id": "r7", "kind": "question"')  # torn
    copied["id"] = "r8"  # copied in under another record's name: not trusted
    (folder / ("1" * 40 + ".json")).write_text(json.dumps(copied))
    assert [r.id for r in book.all()] == [good.id]
    logged = [json.loads(line)["type"] for line in (folder / EVENTS).read_text().splitlines()]
    assert logged == ["opened"]
