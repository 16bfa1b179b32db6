"""`store copy`: a queue moved whole between backends, checked, refused before it could lose anything.

The source is a real file store with a task in every state (queued, a claim whose lease ran
out, answered, failed, archived, an answer recorded but not yet rolled forward, a torn event
line); the destinations are every backend, PostgreSQL on a real server.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from helpers.clock import ManualClock

from lanes_tui.core import fsio
from lanes_tui.core.errors import ConflictError, StoreError, UsageError
from lanes_tui.storage.copying import copy_queue
from lanes_tui.storage.files.backend import FileBackend
from lanes_tui.storage.task_records import digest


def _submit(store, workspace, n: int, **metadata) -> dict:
    return store.create_task(workspace_id="ws", correlation_id=f"c{n}", source_agent="test", lane="default",
                             workspace_root=workspace.root, request_path=workspace.request,
                             response_path=workspace.root / f"out{n}.md", prompt=f"task {n}", metadata=metadata)


def populated(workspace, clock: ManualClock, folder) -> tuple[FileBackend, dict[str, str]]:
    """A file store with one task of each kind; returns it and the ids by kind."""
    clock.tick = timedelta(milliseconds=1)  # tasks made apart in time list in one order everywhere
    store = FileBackend(folder, clock=clock)
    ids: dict[str, str] = {}
    ids["archived"] = _submit(store, workspace, 0)["id"]
    token = store.claim(ids["archived"], owner="w0", lease_seconds=60)["claim_token"]
    store.respond(ids["archived"], body="old answer", reviewer="w0", claim_token=token)
    clock.advance(3 * 86400)
    assert store.archive(older_than_days=1) == [ids["archived"]]
    ids["queued"] = _submit(store, workspace, 1, title="a queued one")["id"]
    ids["lapsed"] = _submit(store, workspace, 2)["id"]
    store.claim(ids["lapsed"], owner="lanes-tui@gone:1", lease_seconds=30)
    ids["answered"] = _submit(store, workspace, 3)["id"]
    token = store.claim(ids["answered"], owner="w1", lease_seconds=60)["claim_token"]
    store.append_event(ids["answered"], "worker.output", "working", {"n": 1}, claim_token=token)
    store.respond(ids["answered"], body="# The answer\n\nwith **markdown** and ünïcode", reviewer="w1",
                  claim_token=token, verdict="pass")
    ids["cancelled"] = _submit(store, workspace, 4)["id"]
    store.cancel(ids["cancelled"], by="operator:me", reason="not needed")
    ids["unrolled"] = _submit(store, workspace, 5)["id"]
    store.claim(ids["unrolled"], owner="w2", lease_seconds=30)
    with fsio.open_dir(store.tasks_dir / ids["unrolled"]) as fd:  # respond died before task.json (G8)
        fsio.write_atomic("response.json", fsio.dumps_json({
            "task_id": ids["unrolled"], "reviewer": "w2", "status": "completed", "body": "recorded",
            "reviewed_request_sha256": store.read_task(ids["unrolled"])["request_sha256"],
            "request_changed_before_response": False, "follow_up_required": False, "verdict": None,
            "blocking_count": None, "nonblocking_count": None, "metadata": {},
            "created_at": "2026-11-26T12:00:00.000000Z"}), dir_fd=fd)
    with open(store.tasks_dir / ids["queued"] / "events.jsonl", "a", encoding="utf-8") as events:
        events.write('{"type": "torn"')  # a writer killed mid-line (G6)
    clock.advance(120)  # every lease has run out
    log = store.attempt_log_path(ids["answered"], 1)
    log.parent.mkdir(parents=True)
    log.write_text('{"type":"result","result":"raw output"}\n', encoding="utf-8")
    return store, ids


def test_every_task_arrives_whole_and_reads_back_the_same(store, workspace, clock, tmp_path):
    source, ids = populated(workspace, clock, tmp_path / "source")
    report = copy_queue(source, store)

    assert (report.tasks, report.copied, report.already_there) == (6, 6, 0)
    assert (report.answered, report.archived, report.skipped_event_lines, report.attempt_logs) == (3, 1, 1, 1)
    for kind in ("queued", "lapsed", "answered", "cancelled", "unrolled"):
        task_id = ids[kind]
        assert store.effective_task(task_id) == source.effective_task(task_id), kind
        assert store.read_response(task_id) == source.read_response(task_id), kind
        assert store.read_events(task_id).events == source.read_events(task_id).events, kind
    assert store.is_archived(ids["archived"]) and ids["archived"] not in store.task_ids()
    assert store.effective_task(ids["unrolled"])["state"] == "completed"  # the recorded answer counts (G8)
    assert _listed(store) == _listed(source)
    copied_log = store.attempt_log_path(ids["answered"], 1)
    assert copied_log.read_text(encoding="utf-8") == '{"type":"result","result":"raw output"}\n'
    assert copied_log.stat().st_mode & 0o077 == 0
    assert [digest(r) for r in store.export_tasks()] == [digest(r) for r in source.export_tasks()]


def _listed(store) -> bytes:
    """What `list --json` prints."""
    return b"".join(piece for batch in store.listing_output(status=False).batches for piece in batch)


def test_the_copy_behaves_as_the_queue_it_came_from(store, workspace, clock, tmp_path):
    """Not only the same reads: the lapsed claim is claimable there, the answered task cannot be
    answered again, a new task is taken behind the copied one."""
    source, ids = populated(workspace, clock, tmp_path / "source")
    copy_queue(source, store)
    taken = store.next_task("default", candidates=store.lane_candidates("default"), claim_owner="w9",
                            lease_seconds=60)
    assert taken.task["id"] == ids["queued"]
    again = store.next_task("default", candidates=store.lane_candidates("default"), claim_owner="w9",
                            lease_seconds=60)
    assert again.task["id"] == ids["lapsed"]  # rescued: its owner is gone and its lease ran out
    with pytest.raises(ConflictError):
        store.respond(ids["answered"], body="twice", reviewer="w9")
    assert store.attempts(ids["lapsed"]) == 2


def test_a_second_run_finds_everything_there_and_writes_nothing(store, workspace, clock, tmp_path):
    source, _ = populated(workspace, clock, tmp_path / "source")
    first = copy_queue(source, store)
    before = [digest(r) for r in store.export_tasks()]
    second = copy_queue(source, store)
    assert (second.copied, second.already_there, second.sha256) == (0, 6, first.sha256)
    assert [digest(r) for r in store.export_tasks()] == before


def test_a_running_claim_stops_the_copy_before_anything_is_written(store, workspace, clock, tmp_path):
    source, _ = populated(workspace, clock, tmp_path / "source")
    running = _submit(source, workspace, 9)
    source.claim(running["id"], owner="lanes-tui@here:42", lease_seconds=600)
    with pytest.raises(ConflictError, match=f"claimed with their lease running .*{running['id']}.*nothing was copied"):
        copy_queue(source, store)
    assert list(store.export_tasks()) == []


def test_a_task_held_differently_in_the_destination_stops_the_copy_before_anything_is_written(
        store, workspace, clock, tmp_path):
    source, ids = populated(workspace, clock, tmp_path / "source")
    record = next(r for r in source.export_tasks() if r.task["id"] == ids["cancelled"])
    store.import_task(record._replace(task={**record.task, "lane": "elsewhere"}))
    with pytest.raises(ConflictError, match=f"already in .* with other contents \\({ids['cancelled']}\\); nothing"):
        copy_queue(source, store)
    assert [r.task["id"] for r in store.export_tasks()] == [ids["cancelled"]]
    assert store.read_task(ids["cancelled"])["lane"] == "elsewhere"  # never overwritten


def test_a_source_written_during_the_copy_is_not_reported_as_copied(store, workspace, clock, tmp_path):
    source, ids = populated(workspace, clock, tmp_path / "source")

    class WrittenMeanwhile:  # another process submits to the source while the copy runs
        def __init__(self, backend):
            self._backend, self._done = backend, False

        def __getattr__(self, name):
            return getattr(self._backend, name)

        def import_task(self, record):
            if not self._done:
                self._done = True
                _submit(source, workspace, 99)
            return self._backend.import_task(record)

    with pytest.raises(StoreError, match="changed while it was copied .*copy again"):
        copy_queue(source, WrittenMeanwhile(store))
    assert copy_queue(source, store).copied == 1  # run again: the new task follows, the rest is there


def test_a_queue_is_not_copied_onto_itself(workspace, clock, tmp_path):
    source, _ = populated(workspace, clock, tmp_path / "source")
    with pytest.raises(UsageError, match="same queue"):
        copy_queue(source, FileBackend(tmp_path / "source", clock=clock))


def test_a_half_built_copy_is_not_a_task_to_any_reader(workspace, clock, tmp_path):
    """What a copy killed before its rename leaves: a dot-named folder, which neither lanes-tui nor
    agent-lanes takes for a task."""
    source, ids = populated(workspace, clock, tmp_path / "source")
    destination = FileBackend(workspace.store_root, clock=clock)
    partial = destination.tasks_dir / f".copy-{ids['queued']}.{'0' * 32}"
    partial.mkdir()
    (partial / "events.jsonl").write_text("", encoding="utf-8")
    assert destination.task_ids() == []
    listed = workspace.run_agent_lanes("list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout)["count"] == 0, listed.stderr
    assert copy_queue(source, destination).copied == 6
