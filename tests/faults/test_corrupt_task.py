"""Fault row 13: corrupt task.json files.

agent-lanes 0.1.1 breaks `list`, `status --all` and `wait --lane` for every
lane (sometimes with a traceback) when one task.json is bad. Here the bad task
is reported beside the others with a reason, the lane it sits in keeps
handing out its good tasks, and other lanes do not notice.
"""

from __future__ import annotations

import json
import os

import pytest

from lanes_tui.core.errors import CorruptTask
from lanes_tui.core.wire import MAX_TASK_BYTES
from lanes_tui.storage.files.scan import all_tasks, live_tasks


def _edit(**changes):
    def make(original: bytes) -> bytes:
        data = json.loads(original)
        data.update(changes)
        return json.dumps(data).encode()

    return make


# name -> (how to corrupt the original bytes, words the reason must contain)
VARIANTS = {
    "empty": (lambda b: b"", "empty"),
    "blank": (lambda b: b"  \n\t\n", "empty"),
    "truncated": (lambda b: b[: len(b) // 2], "not valid JSON"),
    "state-42": (_edit(state=42), "unknown state 42"),
    "state-unknown": (_edit(state="running"), "unknown state 'running'"),
    "lane-null": (_edit(lane=None), "lane is not a string"),
    "metadata-string": (_edit(metadata="oops"), "metadata is not an object"),
    "prompt-list": (_edit(prompt=["a"]), "prompt is not a string"),
    "created_at-garbage": (_edit(created_at="yesterday"), "created_at is not a timestamp"),
    "created_at-number": (_edit(created_at=12), "created_at is not a string"),
    "id-mismatch": (_edit(id="20260101T000000000000Z-x-000000000000"), "id does not match"),
    "array": (lambda b: b"[1, 2, 3]", "not a JSON object"),
    "null": (lambda b: b"null", "not a JSON object"),
    "string": (lambda b: b'"task"', "not a JSON object"),
    "invalid-utf8": (lambda b: b.replace(b'"prompt": "', b'"prompt": "\xff\xfe'), "not UTF-8"),
    "nul-bytes": (lambda b: b"\0" * 64, "not valid JSON"),
    "deeply-nested": (lambda b: b"[" * 200_000 + b"]" * 200_000, "task.json"),
    "huge": (None, "limit"),  # a sparse file past MAX_TASK_BYTES
    "fifo": (None, "not a regular file"),  # would block a plain open() forever
    "directory": (None, "not a regular file"),
}


def _corrupt(workspace, task_id: str, variant: str) -> None:
    path = workspace.store_root / "tasks" / task_id / "task.json"
    make, _ = VARIANTS[variant]
    if variant == "huge":
        with open(path, "r+b") as handle:
            handle.truncate(MAX_TASK_BYTES + 1)
        return
    if variant in ("fifo", "directory"):
        path.unlink()
        os.mkfifo(path, 0o600) if variant == "fifo" else path.mkdir(0o700)
        return
    path.write_bytes(make(path.read_bytes()))


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_store_flags_the_corrupt_task_and_serves_the_rest(workspace, variant):
    store = workspace.store()
    bad = workspace.submit(lane="a", name="bad")
    good = workspace.submit(lane="a", name="good")
    other = workspace.submit(lane="b", name="other")
    _corrupt(workspace, bad["id"], variant)
    _, words = VARIANTS[variant]

    with pytest.raises(CorruptTask) as raised:
        store.read_task(bad["id"])
    assert words in str(raised.value) and bad["id"] in str(raised.value)
    assert "\n" not in str(raised.value)

    for listing in (all_tasks(store), live_tasks(store)):
        assert [t["id"] for t in listing.tasks] == [good["id"], other["id"]]
        assert [tid for tid, _ in listing.corrupt] == [bad["id"]]

    # The bad task is passed over, reported, and never blocks its lane.
    result = store.next_task("a", candidates=[bad["id"], good["id"]], claim_owner="w", lease_seconds=60)
    assert result.task["id"] == good["id"]
    assert [tid for tid, _ in result.stale] == [bad["id"]]
    # Verbs on the corrupt task itself are refused, and leave it as it is.
    before = (store.tasks_dir / bad["id"] / "task.json").stat().st_size
    with pytest.raises(CorruptTask):
        store.claim(bad["id"], owner="w", lease_seconds=60)
    with pytest.raises(CorruptTask):
        store.respond(bad["id"], body="x", reviewer="w")
    assert (store.tasks_dir / bad["id"] / "task.json").stat().st_size == before


@pytest.fixture
def mixed_queue(workspace):
    """Lane a: every corrupt variant, plus one good task (submitted last); lane b: one good task."""
    bad = {}
    for variant in sorted(VARIANTS):
        task = workspace.submit(lane="a", name=f"bad-{variant}")
        bad[task["id"]] = variant
    good = workspace.submit(lane="a", name="good")
    other = workspace.submit(lane="b", name="other")
    for task_id, variant in bad.items():
        _corrupt(workspace, task_id, variant)
    return bad, good, other


@pytest.mark.parametrize("args", [("list",), ("status", "--all"), ("list", "--active-only"), ("status", "--all", "--lane", "a")])
def test_cli_listings_report_corrupt_tasks_beside_the_good_ones(workspace, mixed_queue, args):
    bad, good, other = mixed_queue
    done = workspace.run("--json", *args)
    assert done.returncode == 0, done.stderr
    _no_traceback(done.stderr)
    payload = json.loads(done.stdout)
    expected = [good["id"]] if "--lane" in args else [good["id"], other["id"]]
    assert [t["id"] for t in payload["tasks"]] == expected
    reported = {item["task_id"]: item["reason"] for item in payload["corrupt"]}
    assert set(reported) == set(bad)
    for task_id, variant in bad.items():
        assert VARIANTS[variant][1] in reported[task_id], (variant, reported[task_id])
    warnings = [line for line in done.stderr.splitlines() if line.startswith("lanes-tui: warning:")]
    assert len(warnings) == len(bad) == len(done.stderr.splitlines())
    for task_id in bad:
        assert any(task_id in line for line in warnings)


def test_cli_next_skips_corrupt_tasks_and_other_lanes_are_unaffected(workspace, mixed_queue):
    bad, good, other = mixed_queue
    nxt = workspace.run("--json", "next", "--lane", "a", "--timeout", "0", "--quiet")
    assert nxt.returncode == 0, nxt.stderr
    _no_traceback(nxt.stderr)
    assert json.loads(nxt.stdout)["task"]["id"] == good["id"]

    claimed = workspace.run("--json", "next", "--lane", "a", "--timeout", "0", "--claim", "--owner", "w", "--quiet")
    assert claimed.returncode == 0, claimed.stderr
    out = json.loads(claimed.stdout)
    assert out["status"] == "claimed" and out["task_id"] == good["id"]
    assert {item["task_id"] for item in out.get("stale_input", [])} == set(bad)

    # Lane a has nothing claimable left: idle, not an error, not a traceback.
    idle = workspace.run("--json", "wait", "--lane", "a", "--timeout", "0", "--quiet")
    assert idle.returncode == 0, idle.stderr
    _no_traceback(idle.stderr)
    assert json.loads(idle.stdout)["status"] == "idle"

    nxt_b = workspace.run("--json", "next", "--lane", "b", "--timeout", "0", "--claim", "--quiet")
    assert nxt_b.returncode == 0, nxt_b.stderr
    assert json.loads(nxt_b.stdout)["task_id"] == other["id"]
    # A corrupt task's lane cannot be known, so lane b may warn about them; nothing worse.
    _no_traceback(nxt_b.stderr)
    assert all(line.startswith("lanes-tui: warning:") for line in nxt_b.stderr.splitlines())


def test_cli_verbs_on_a_corrupt_task_exit_8_in_one_line(workspace, mixed_queue):
    bad, _, _ = mixed_queue
    task_id = next(tid for tid, variant in bad.items() if variant == "state-42")
    for args in (("status", task_id), ("claim", task_id), ("respond", task_id, "--body", "x"), ("wait", task_id, "--timeout", "0")):
        done = workspace.run(*args)
        assert done.returncode == 8, (args, done.returncode, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and task_id in lines[0], (args, done.stderr)
        _no_traceback(done.stderr)


@pytest.mark.parametrize("what", ["response.json", "events.jsonl"])
def test_hostile_nesting_in_response_or_events_does_not_break_listings(workspace, what):
    store = workspace.store()
    bad = workspace.submit(lane="a", name="bad")
    good = workspace.submit(lane="a", name="good")
    folder = workspace.store_root / "tasks" / bad["id"]
    bomb = b"[" * 200_000 + b"]" * 200_000
    if what == "response.json":
        token = store.claim(bad["id"], owner="w", lease_seconds=60)["claim_token"]
        (folder / "response.json").write_bytes(bomb)
    else:
        token = None
        with open(folder / "events.jsonl", "ab") as handle:
            handle.write(bomb + b"\n")
        assert store.read_events(bad["id"]).bad_lines == 1
    done = workspace.run("--json", "status", "--all")
    assert done.returncode == 0, done.stderr
    _no_traceback(done.stderr)
    payload = json.loads(done.stdout)
    if what == "response.json":
        assert [t["id"] for t in payload["tasks"]] == [good["id"]]
        assert [c["task_id"] for c in payload["corrupt"]] == [bad["id"]]
        with pytest.raises(CorruptTask):
            store.respond(bad["id"], body="x", reviewer="w", claim_token=token)
    else:
        assert [t["id"] for t in payload["tasks"]] == [bad["id"], good["id"]]
        assert payload["tasks"][0]["last_event"]["type"] == "created"
