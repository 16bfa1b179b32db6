"""Fault row 11 (G6): a torn last line in events.jsonl.

An append cut short by a full disk or a crash leaves a partial line with no
newline. Readers skip it; the next append starts on a fresh line, so the
fragment never glues itself to (and corrupts) the next event.
"""

from __future__ import annotations

import json

import pytest

TORN_TAILS = [
    b'{"created_at": "2026-11-23T12:00:01.000000Z", "data": {"owner": "w',  # cut mid-string
    b'{"created_at": "2026-11-23T12:00:01.000000Z", "data": {}, "message": "x", "type": "claimed"',  # no brace
    b"{",
    b"\xff\xfe\x00garbage",  # not even UTF-8
]


def _events_path(workspace, task_id):
    return workspace.store_root / "tasks" / task_id / "events.jsonl"


def _tear(workspace, task_id, tail: bytes) -> bytes:
    path = _events_path(workspace, task_id)
    before = path.read_bytes()
    assert before.endswith(b"\n")
    with open(path, "ab") as handle:
        handle.write(tail)
    return before


def _clean_stderr(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr


@pytest.mark.parametrize("tail", TORN_TAILS, ids=["mid-string", "no-brace", "brace", "binary"])
def test_readers_skip_a_torn_tail(workspace, tail):
    store = workspace.store()
    task = workspace.submit(lane="a")
    _tear(workspace, task["id"], tail)

    log = store.read_events(task["id"])
    assert [e["type"] for e in log.events] == ["created"]
    assert log.bad_lines == 1
    assert store.last_event(task["id"])["type"] == "created"
    assert [e["type"] for e in store.read_events(task["id"], limit=1).events] == ["created"]
    assert store.attempts(task["id"]) == 0  # a torn "claimed" line is not an attempt

    status = workspace.run("--json", "status", task["id"])
    assert status.returncode == 0, status.stderr
    _clean_stderr(status.stderr)
    assert json.loads(status.stdout)["task"]["last_event"]["type"] == "created"

    for args in (("--json", "status", "--all"), ("--json", "list")):
        done = workspace.run(*args)
        assert done.returncode == 0, done.stderr
        _clean_stderr(done.stderr)
        payload = json.loads(done.stdout)
        assert [t["id"] for t in payload["tasks"]] == [task["id"]]
        assert payload["tasks"][0]["last_event"]["type"] == "created"
        assert not payload.get("corrupt")


@pytest.mark.parametrize("tail", TORN_TAILS[:2], ids=["mid-string", "no-brace"])
def test_next_append_starts_on_a_new_line(workspace, tail):
    store = workspace.store()
    task = workspace.submit(lane="a")
    before = _tear(workspace, task["id"], tail)

    token = store.claim(task["id"], owner="w1", lease_seconds=60)["claim_token"]  # appends "claimed"
    store.append_event(task["id"], "note", "after the tear", {"k": "v"}, claim_token=token)
    cli = workspace.run("event", task["id"], "--type", "cli-note", "--message", "from the CLI")
    assert cli.returncode == 0, cli.stderr

    raw = _events_path(workspace, task["id"]).read_bytes()
    assert raw.startswith(before + tail + b"\n"), "the torn fragment must be closed by a newline"
    assert raw.endswith(b"\n")
    lines = raw[len(before) + len(tail) + 1 :].split(b"\n")[:-1]
    assert [json.loads(line)["type"] for line in lines] == ["claimed", "note", "cli-note"]

    log = store.read_events(task["id"])
    assert [e["type"] for e in log.events] == ["created", "claimed", "note", "cli-note"]
    assert log.bad_lines == 1
    assert store.attempts(task["id"]) == 1
    assert store.last_event(task["id"])["type"] == "cli-note"
    # Once the tail is healed, a second claim counts attempts from parsed lines only.
    store.respond(task["id"], body="ok", reviewer="w1", claim_token=token)
    assert [e["type"] for e in store.read_events(task["id"]).events][-1] == "response"


def test_torn_tail_on_one_task_does_not_disturb_others(workspace):
    store = workspace.store()
    torn = workspace.submit(lane="a")
    other = workspace.submit(lane="b")
    _tear(workspace, torn["id"], TORN_TAILS[0])
    nxt = workspace.run("--json", "next", "--lane", "a", "--timeout", "0", "--claim", "--quiet")
    assert nxt.returncode == 0, nxt.stderr
    _clean_stderr(nxt.stderr)
    assert json.loads(nxt.stdout)["task"]["id"] == torn["id"]
    nxt_b = workspace.run("--json", "next", "--lane", "b", "--timeout", "0", "--quiet")
    assert json.loads(nxt_b.stdout)["task"]["id"] == other["id"]
    assert [e["type"] for e in store.read_events(torn["id"]).events] == ["created", "claimed"]


def test_long_lines_and_long_torn_tails_do_not_hide_the_last_event(workspace):
    """Event lines may be up to 1 MiB; readers of the last event look at the tail
    of the file and must widen it rather than report no event."""
    store = workspace.store()
    task = workspace.submit(lane="a")
    store.append_event(task["id"], "big", "m" * 300_000)
    last = store.last_event(task["id"])
    assert last is not None and last["type"] == "big" and len(last["message"]) == 300_000
    # A torn tail longer than the reader's first window.
    _tear(workspace, task["id"], b'{"type": "torn", "message": "' + b"t" * 200_000)
    assert store.last_event(task["id"])["type"] == "big"
    status = workspace.run("--json", "status", task["id"])
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["task"]["last_event"]["type"] == "big"
    store.append_event(task["id"], "after", "x")
    assert [e["type"] for e in store.read_events(task["id"], limit=2).events] == ["big", "after"]
