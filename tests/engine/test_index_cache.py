"""The index's summary cache (README G19): a start reads the live tasks, takes finished ones
from the cache, and never shows anything a fresh scan would not."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from lanes_tui.engine.feed import load_and_arm
from lanes_tui.engine.index import CACHED_FIELDS, TaskIndex
from lanes_tui.storage.files.summaries import SUMMARIES_FILE


def _finish(store, task, body="done"):
    claimed = store.claim(task["id"], owner="w", lease_seconds=60)
    store.respond(task["id"], body=body, reviewer="w", claim_token=claimed["claim_token"])


def _summaries(index):
    return {s.id: s for s in index.summaries()}


def _reads(store, monkeypatch):
    """The task ids whose task.json the store reads from now on (the real read, counted)."""
    read: list[str] = []
    real = store.effective_task_and_repair

    def counted(task_id, **kw):
        read.append(task_id)
        return real(task_id, **kw)

    monkeypatch.setattr(store, "effective_task_and_repair", counted)
    return read


@pytest.fixture
def mixed(workspace):
    """Two finished tasks (one completed, one cancelled), one queued and one claimed."""
    store = workspace.store()
    done, cancelled, queued, running = (workspace.submit(prompt=f"task {i}") for i in range(4))
    _finish(store, done)
    store.cancel(cancelled["id"], by="op")
    store.claim(running["id"], owner="w", lease_seconds=600)
    return store, {"done": done["id"], "cancelled": cancelled["id"], "queued": queued["id"],
                   "running": running["id"]}


def test_a_second_start_reads_only_the_live_tasks_and_sees_the_same(workspace, mixed, monkeypatch):
    store, ids = mixed
    first = TaskIndex(store)
    first.rescan()
    first.save_cache()
    assert (store.root / ".lanes-tui" / SUMMARIES_FILE).is_file()

    again = workspace.store()
    read = _reads(again, monkeypatch)
    second = TaskIndex(again)
    change = second.rescan()
    assert sorted(read) == sorted([ids["queued"], ids["running"]])  # the finished ones came from the cache
    assert _summaries(second) == _summaries(first)
    assert change.changed == set(ids.values())  # what a first scan reports, cached or not
    assert not second.rescan()


def test_a_finished_task_replaced_since_the_save_is_read_again(workspace, mixed, monkeypatch):
    """Replaced by a rename, same size and same mtime: only the inode tells, and it is enough."""
    store, ids = mixed
    first = TaskIndex(store)
    first.rescan()
    first.save_cache()
    path = store.tasks_dir / ids["done"] / "task.json"
    before = path.stat()
    text = path.read_text()
    assert '"do it' not in text and "task 0" in text
    replacement = path.with_name("task.json.new")
    replacement.write_text(text.replace("task 0", "task X"))
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, path)
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns

    again = workspace.store()
    read = _reads(again, monkeypatch)
    second = TaskIndex(again)
    second.rescan()
    assert ids["done"] in read and ids["cancelled"] not in read
    assert second.get(ids["done"]).title == "task X"
    assert _summaries(second) == _fresh(store)


def _fresh(store):
    """What a scan without any cache finds."""
    index = TaskIndex(store)
    index._cache = None
    index.rescan()
    return _summaries(index)


def test_a_hand_edited_finished_task_is_seen(workspace, mixed):
    store, ids = mixed
    first = TaskIndex(store)
    first.rescan()
    first.save_cache()
    path = store.tasks_dir / ids["done"] / "task.json"
    task = json.loads(path.read_text())
    task["metadata"] = {**(task.get("metadata") or {}), "title": "renamed by hand"}
    path.write_text(json.dumps(task))  # in place: same inode, new size and mtime

    second = TaskIndex(workspace.store())
    second.rescan()
    assert second.get(ids["done"]).title == "renamed by hand"
    assert _summaries(second) == _fresh(store)


def test_archived_tasks_are_not_brought_back(workspace, mixed):
    store, ids = mixed
    first = TaskIndex(store)
    first.rescan()
    first.save_cache()
    assert store.archive(older_than_days=0)  # the finished tasks leave the queue

    second = TaskIndex(workspace.store())
    second.rescan()
    assert second.get(ids["done"]) is None and second.get(ids["cancelled"]) is None
    assert _summaries(second) == _fresh(store)
    second.save_cache()  # the cache forgets them too
    third = TaskIndex(workspace.store())
    assert third._cache.load(CACHED_FIELDS) == {}


@pytest.mark.parametrize("damage", ["truncated", "flipped", "foreign", "empty", "directory", "bad rows"])
def test_a_damaged_cache_is_ignored(workspace, mixed, damage, monkeypatch):
    store, ids = mixed
    first = TaskIndex(store)
    first.rescan()
    first.save_cache()
    path = store.root / ".lanes-tui" / SUMMARIES_FILE
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        path.write_bytes(data[:-5] + bytes([data[-5] ^ 0xFF]) + data[-4:])
    elif damage == "foreign":
        path.write_bytes(b"something else entirely\n" + data)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "directory":
        path.unlink()
        path.mkdir()
    else:  # intact file, rows of the wrong types: rewritten through the real saver
        rows = {ids["done"]: ((1, 2, 3), tuple(None for _ in CACHED_FIELDS))}
        first._cache.save(CACHED_FIELDS, rows)

    again = workspace.store()
    read = _reads(again, monkeypatch)
    second = TaskIndex(again)
    second.rescan()
    assert sorted(read) == sorted(ids.values())  # everything read from task.json, as without a cache
    assert _summaries(second) == _summaries(first)


def test_a_cache_of_another_row_shape_is_ignored(workspace, mixed, monkeypatch):
    store, ids = mixed
    first = TaskIndex(store)
    first.rescan()
    first.save_cache()
    monkeypatch.setattr("lanes_tui.engine.index.CACHED_FIELDS", (*CACHED_FIELDS, "a_new_field"))
    again = workspace.store()
    read = _reads(again, monkeypatch)
    TaskIndex(again).rescan()
    assert len(read) == len(ids)


def test_live_tasks_and_unrolled_answers_are_never_cached(workspace, mixed):
    store, ids = mixed
    first = TaskIndex(store)
    first.rescan()
    first.save_cache()
    kept = first._cache.load(CACHED_FIELDS)
    assert set(kept) == {ids["done"], ids["cancelled"]}
    assert all(values[CACHED_FIELDS.index("state")] in ("completed", "failed") for _, values in kept.values())


def test_a_store_that_cannot_be_written_keeps_no_cache_and_works(workspace, mixed):
    store, ids = mixed
    blocker = store.root / ".lanes-tui"
    if blocker.exists():
        shutil.rmtree(blocker)
    blocker.write_text("a file where the cache folder goes")
    index = TaskIndex(store)
    index.rescan()
    index.save_cache()  # best effort: no error
    assert blocker.read_text() == "a file where the cache folder goes"
    assert len(index) == len(ids)
    assert os.path.isfile(blocker)


async def test_the_start_of_a_long_running_process_writes_the_cache(workspace, mixed):
    store, ids = mixed
    path = store.root / ".lanes-tui" / SUMMARIES_FILE
    assert not path.exists()
    feed = await load_and_arm(TaskIndex(store), store)
    try:
        assert set(TaskIndex(store)._cache.load(CACHED_FIELDS)) == {ids["done"], ids["cancelled"]}
        written = path.stat().st_mtime_ns
        second = await load_and_arm(TaskIndex(workspace.store()), store)  # nothing changed: not rewritten
        second.close()
        assert path.stat().st_mtime_ns == written
    finally:
        feed.close()
