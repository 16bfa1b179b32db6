"""Cached listings are byte-identical to encoding every view afresh."""

from __future__ import annotations

import json
import os

import pytest
from helpers.clock import ManualClock

from lanes_tui.core import jsonout
from lanes_tui.core.batched_output import joined
from lanes_tui.core.views import queue_next_action, summary, task_view
from lanes_tui.storage.files import listing
from lanes_tui.storage.files.backend import FileBackend
from lanes_tui.storage.files.scan import all_tasks, last_event_of

from .test_store import submit


def snapshot_views(store, listing):
    """The views the plain way: every task read and viewed (what the cache must reproduce)."""
    now = store.now()
    return [task_view(task, response_exists=store.response_exists(task["id"]),
                      last_event=last_event_of(store, task["id"]), now=now) for task in listing.tasks]


def rendered(batches) -> str:
    return joined(batches).decode("utf-8")


def reference_list(store, **kw):
    base = all_tasks(store, **kw)
    views = snapshot_views(store, base)
    payload = {"status": "ok", "tasks": views, "count": len(views)}
    if base.corrupt:
        payload["corrupt"] = [{"task_id": t, "reason": r} for t, r in base.corrupt]
    return jsonout.dumps(payload), views


def reference_status(store, **kw):
    base = all_tasks(store, **kw)
    views = snapshot_views(store, base)
    counts = summary(views)
    payload = {"status": "ok", "tasks": views, "count": len(views), "summary": counts, "next_action": queue_next_action(counts)}
    if base.corrupt:
        payload["corrupt"] = [{"task_id": t, "reason": r} for t, r in base.corrupt]
    return jsonout.dumps(payload)


@pytest.fixture
def busy_store(workspace):
    clock = ManualClock()
    store = FileBackend(workspace.store_root, clock=clock)
    done = submit(store, workspace, correlation_id="done", lane="a")
    token = store.claim(done["id"], owner="w", lease_seconds=60)["claim_token"]
    store.respond(done["id"], body="ok", reviewer="w", claim_token=token)
    failed = submit(store, workspace, correlation_id="failed", lane="b")
    store.cancel(failed["id"], by="op")
    submit(store, workspace, correlation_id="queued", lane="a", prompt="caf\u00e9 \u202e [b]x[/b]")
    held = submit(store, workspace, correlation_id="held", lane="b")
    store.claim(held["id"], owner="w", lease_seconds=30)
    clock.advance(45)  # the claim's lease is now expired: a stale claim
    return store, clock, done


def render(store, kind, **kw):
    collected = listing.collect(store, **kw)
    return rendered((listing.render_list_batches if kind == "list" else listing.render_status_all_batches)(collected))


@pytest.mark.parametrize("kind", ["list", "status"])
@pytest.mark.parametrize("kw", [{}, {"lane": "a"}, {"include_terminal": False}])
def test_cold_and_warm_cache_match_reference(busy_store, kind, kw):
    store, clock, _ = busy_store
    expected = reference_list(store, **kw)[0] if kind == "list" else reference_status(store, **kw)
    assert render(store, kind, **kw) == expected  # cold: builds the cache
    clock.advance(7)  # ages change; cached fragments must follow
    expected = reference_list(store, **kw)[0] if kind == "list" else reference_status(store, **kw)
    assert render(store, kind, **kw) == expected  # warm


def test_cache_notices_changes_to_finished_tasks(busy_store):
    store, clock, done = busy_store
    render(store, "list")
    store.append_event(done["id"], "note", "after the fact")
    os.unlink(store.tasks_dir / done["id"] / "response.json")
    expected, views = reference_list(store)
    assert render(store, "list") == expected
    view = next(v for v in views if v["id"] == done["id"])
    assert view["missing_response"] is True and view["last_event"]["type"] == "note"


def test_corrupt_task_is_listed_apart_and_others_still_render(busy_store):
    store, _, done = busy_store
    render(store, "status")
    (store.tasks_dir / done["id"] / "task.json").write_text("{not json")
    text = render(store, "status")
    payload = json.loads(text)
    assert text == reference_status(store)
    assert [c["task_id"] for c in payload["corrupt"]] == [done["id"]]
    assert payload["count"] == 3


def test_unreadable_cache_is_ignored(busy_store):
    store, _, _ = busy_store
    render(store, "list")
    (store.root / ".lanes-tui" / "views").write_text("garbage")
    assert render(store, "list") == reference_list(store)[0]


def test_cached_queued_task_follows_claims_and_releases(busy_store, workspace):
    store, clock, _ = busy_store
    queued = next(t for t in all_tasks(store).tasks if t["state"] == "queued")
    render(store, "status")  # caches the queued view
    other = FileBackend(workspace.store_root, clock=clock)  # another client claims it
    token = other.claim(queued["id"], owner="elsewhere", lease_seconds=600)["claim_token"]
    assert render(store, "status") == reference_status(store)
    assert json.loads(render(store, "status"))["summary"]["claimed"] == 2
    other.release(queued["id"], claim_token=token)
    assert render(store, "status") == reference_status(store)


# -- the cache file: damaged, foreign or stale caches only cost time -------------------------


def views_file(store):
    return store.root / ".lanes-tui" / "views"


def cache_rows(store):
    """Task ids in the views cache (empty when it is missing or unreadable)."""
    cache = listing._load_cache(store)
    return set(cache.index) if cache.wait() else set()


def all_ids(store):
    return {t["id"] for t in all_tasks(store).tasks}


def test_cache_holds_queued_and_finished_tasks_never_claimed_ones(busy_store):
    store, _, _ = busy_store
    render(store, "list")
    held = next(t["id"] for t in all_tasks(store).tasks if t["state"] == "claimed")
    assert cache_rows(store) == all_ids(store) - {held}


def blob_file(store):
    return store.root / ".lanes-tui" / "views.blob"


def header_parts(store):
    data = views_file(store).read_bytes()
    first, header = data.split(b"\n", 1)
    magic, header_len, blob_len, token, crc = first.rsplit(b" ", 4)
    return first, header, int(blob_len), token


@pytest.mark.parametrize("damage", [
    "truncated-header", "extended-header", "header-crc", "empty-header", "older-version", "header-not-a-file",
    "truncated-blob", "zeroed-blob", "other-blob", "missing-blob", "blob-not-a-file",
])
def test_damaged_or_foreign_cache_is_ignored_and_replaced(busy_store, damage):
    store, clock, _ = busy_store
    render(store, "list")
    path, blob_path = views_file(store), blob_file(store)
    data, blob = path.read_bytes(), blob_path.read_bytes()
    first, header, blob_len, token = header_parts(store)
    if damage == "truncated-header":
        path.write_bytes(data[:-100])
    elif damage == "extended-header":
        path.write_bytes(data + b"}")
    elif damage == "header-crc":
        path.write_bytes(first + b"\n" + header[:-1] + bytes([header[-1] ^ 1]))
    elif damage == "empty-header":
        path.write_bytes(b"")
    elif damage == "older-version":  # lanes-tui 0.1's JSON cache
        old = {"version": 1, "entries": {tid: [[1, 2, 3, 4, 5, 6, 7, 8], {"prefix": "{}", "suffix": None}]
                                         for tid in all_ids(store)}}
        path.write_text(json.dumps(old))
    elif damage == "header-not-a-file":
        path.unlink()
        path.mkdir()
    elif damage == "truncated-blob":
        blob_path.write_bytes(blob[:-10])
    elif damage == "zeroed-blob":  # what a crash soon after an unsynced write can leave
        blob_path.write_bytes(blob[:len(blob) // 2] + bytes(4096) + blob[len(blob) // 2 + 4096:])
    elif damage == "other-blob":  # e.g. compacted by another process after this header was written
        blob_path.write_bytes(b"0" * 32 + blob[32:])
    elif damage == "missing-blob":
        blob_path.unlink()
    elif damage == "blob-not-a-file":
        blob_path.unlink()
        blob_path.mkdir()
    clock.advance(3)
    assert cache_rows(store) == set()
    assert render(store, "list") == reference_list(store)[0]
    assert render(store, "status") == reference_status(store)
    if not damage.endswith("not-a-file"):
        assert cache_rows(store)  # written anew


def test_bytes_appended_past_the_headers_blob_length_are_harmless(busy_store):
    """Another process appended views and lost the race to write the header: ours stay valid."""
    store, clock, _ = busy_store
    render(store, "list")
    with open(blob_file(store), "ab") as blob:
        blob.write(b'{\n  "not": "referenced"\n}')
    assert cache_rows(store)
    clock.advance(2)
    assert render(store, "list") == reference_list(store)[0]


def test_new_views_are_appended_and_the_blob_compacted_when_mostly_dead(busy_store, workspace):
    store, clock, _ = busy_store
    render(store, "list")
    token = header_parts(store)[3]
    size = blob_file(store).stat().st_size
    extra = submit(store, workspace, correlation_id="more", lane="a")
    clock.advance(1)
    assert render(store, "list") == reference_list(store)[0]
    assert header_parts(store)[3] == token  # appended, not rewritten
    assert blob_file(store).stat().st_size > size
    assert extra["id"] in cache_rows(store)
    for task in all_tasks(store).tasks:  # every view changes: the old ones are all dead
        store.append_event(task["id"], "note", "again")
    clock.advance(1)
    assert render(store, "status") == reference_status(store)
    assert header_parts(store)[3] != token  # compacted into a new blob
    assert render(store, "list") == reference_list(store)[0]


def test_stale_header_after_another_process_compacted_is_ignored(busy_store):
    store, clock, _ = busy_store
    render(store, "list")
    old_header = views_file(store).read_bytes()
    for task in all_tasks(store).tasks:
        store.append_event(task["id"], "note", "again")
    render(store, "list")  # compacts: new blob, new token
    views_file(store).write_bytes(old_header)  # as if this header had been written just before
    assert cache_rows(store) == set()
    clock.advance(1)
    assert render(store, "list") == reference_list(store)[0]


def write_header(store, columns, blob=b""):
    token = b"f" * 32
    header = listing.marshal.dumps(tuple(columns), 4)
    line = b"%s %d %d %s" % (listing.CACHE_MAGIC, len(header), len(blob), token)
    crc = listing.zlib.crc32(header, listing.zlib.crc32(line))
    views_file(store).write_bytes(b"%s %08x\n" % (line, crc) + header)
    blob_file(store).write_bytes(token + b"\n" + blob)


@pytest.mark.parametrize("flaw", [None, "short-column", "offsets-out-of-order", "unknown-kind", "other-byteorder"])
def test_cache_with_intact_crc_but_inconsistent_columns_is_ignored(busy_store, flaw):
    """None: a well-formed cache whose signatures are all stale (accepted, every view rebuilt)."""
    store, _, _ = busy_store
    render(store, "list")
    ids = sorted(all_ids(store))
    n = len(ids)

    def int64(values):
        return listing.array("q", values).tobytes()

    columns = [listing.sys.byteorder, "\n".join(ids), "\n".join(["2026-01-01T00:00:00Z"] * n), ["a"], int64([0] * n),
               bytes(n), bytes(n), bytes([listing.SETTLED] * n), int64([listing._NO_EVENT] * n),
               int64([0] * n), int64([1] * n), int64([2] * n), int64([0] * 8 * n)]
    if flaw == "short-column":
        columns[4] = int64([0] * (n - 1))
    elif flaw == "offsets-out-of-order":
        columns[10] = int64([3] * n)  # split after end
    elif flaw == "unknown-kind":
        columns[7] = bytes([listing.SETTLED] * (n - 1) + [7])
    elif flaw == "other-byteorder":
        columns[0] = "big" if listing.sys.byteorder == "little" else "little"
    write_header(store, columns, b"{}")
    assert len(cache_rows(store)) == (n if flaw is None else 0)
    assert render(store, "list") == reference_list(store)[0]
    assert render(store, "status") == reference_status(store)


def test_unexpected_cache_contents_fall_back_to_a_full_read(busy_store, monkeypatch):
    store, clock, _ = busy_store
    render(store, "list")
    real = listing._load_cache

    def odd_cache(store):
        cache = real(store)
        cache.table.kinds = None  # whatever a foreign writer could have put there
        return cache

    monkeypatch.setattr(listing, "_load_cache", odd_cache)
    clock.advance(1)
    assert render(store, "list") == reference_list(store)[0]


def test_hand_edited_finished_task_is_noticed_without_an_event(busy_store):
    store, clock, done = busy_store
    render(store, "list")
    path = store.tasks_dir / done["id"] / "task.json"
    task = json.loads(path.read_text())
    task["prompt"] = "edited by hand"
    path.write_text(json.dumps(task, indent=2, sort_keys=True) + "\n")  # in place: same inode
    clock.advance(1)
    expected, views = reference_list(store)
    assert render(store, "list") == expected
    assert next(v for v in views if v["id"] == done["id"])["prompt"] == "edited by hand"


def test_answer_landing_on_a_cached_queued_task_is_noticed(busy_store, workspace):
    store, clock, _ = busy_store
    queued = next(t for t in all_tasks(store).tasks if t["state"] == "queued")
    render(store, "status")
    # A crash between response.json and task.json: no event, task.json untouched.
    response = {"task_id": queued["id"], "status": "completed", "body": "ok",
                "created_at": "2026-11-23T12:00:50.000000Z"}
    (store.tasks_dir / queued["id"] / "response.json").write_text(json.dumps(response))
    clock.advance(2)
    assert render(store, "status") == reference_status(store)
    assert json.loads(render(store, "status"))["summary"]["queued"] == 0


def test_placeholder_number_in_the_data_does_not_confuse_the_splice(workspace):
    clock = ManualClock()
    store = FileBackend(workspace.store_root, clock=clock)
    task = submit(store, workspace, correlation_id="odd", lane="a", metadata={"n": "x"})
    store.append_event(task["id"], "note", "n", {"last_event_age_seconds": listing._AGE_SLOT})
    done = submit(store, workspace, correlation_id="done", lane="a")
    store.cancel(done["id"], by="op")
    store.append_event(done["id"], "note", "n", {"last_event_age_seconds": listing._AGE_SLOT})
    for _ in range(3):
        clock.advance(5)
        assert render(store, "list") == reference_list(store)[0]


def test_lane_listings_keep_other_lanes_cached(busy_store):
    store, clock, _ = busy_store
    render(store, "list")
    before = cache_rows(store)
    for lane in ("a", "b", "nobody"):
        clock.advance(1)
        assert render(store, "list", lane=lane) == reference_list(store, lane=lane)[0]
        assert cache_rows(store) == before


def test_many_changes_and_removals_compact_the_cache(busy_store, workspace):
    store, clock, _ = busy_store
    render(store, "list")
    extra = [submit(store, workspace, correlation_id=f"x{i}", lane="c") for i in range(12)]
    clock.advance(1)
    assert render(store, "list") == reference_list(store)[0]
    full = blob_file(store).stat().st_size
    for task in extra[:10]:  # archived: gone from tasks/
        os.rename(store.tasks_dir / task["id"], store.root / task["id"])
    clock.advance(1)
    assert render(store, "list") == reference_list(store)[0]
    assert cache_rows(store) == all_ids(store) - {t["id"] for t in all_tasks(store).tasks if t["state"] == "claimed"}
    size = blob_file(store).stat().st_size
    assert size < full * 0.6  # compacted
    for task in extra[10:]:
        store.cancel(task["id"], by="op")
        clock.advance(1)
        assert render(store, "status") == reference_status(store)
    assert blob_file(store).stat().st_size < size * 2  # dead views do not pile up


def test_symlinked_task_folder_of_a_cached_task_is_reported(busy_store, tmp_path):
    store, _, done = busy_store
    render(store, "list")
    folder = store.tasks_dir / done["id"]
    moved = tmp_path / "moved"
    os.rename(folder, moved)  # same inodes behind the link: stats alone would not tell
    folder.symlink_to(moved, target_is_directory=True)
    text = render(store, "list")
    assert text == reference_list(store)[0]
    assert [c["task_id"] for c in json.loads(text)["corrupt"]] == [done["id"]]


def test_unwritable_cache_folder_costs_nothing_but_time(busy_store):
    store, clock, _ = busy_store
    cache_dir = store.root / ".lanes-tui"
    cache_dir.mkdir(exist_ok=True)
    (cache_dir / "views").unlink(missing_ok=True)
    cache_dir.chmod(0o500)
    try:
        for _ in range(2):
            clock.advance(1)
            assert render(store, "list") == reference_list(store)[0]
    finally:
        cache_dir.chmod(0o700)


# -- output --------------------------------------------------------------------------------------


def test_output_goes_straight_to_the_descriptor_or_through_text(busy_store, capfd, monkeypatch):
    import io
    import sys

    from lanes_tui.commands import queue

    store, _, _ = busy_store
    collected = listing.collect(store)
    expected = rendered(listing.render_list_batches(collected)) + "\n"
    print("before", end="")  # text already buffered goes first
    queue._emit_listing(store.listing_output(status=False))
    assert capfd.readouterr().out == "before" + expected
    for encoding in ("utf-8", "utf-16"):  # a stream with no descriptor, or another encoding
        raw = io.BytesIO()
        monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding=encoding))
        queue._emit_listing(store.listing_output(status=False))
        sys.stdout.flush()
        assert raw.getvalue().decode(encoding) == expected


def test_a_process_that_loaded_the_cache_before_another_compacted_it(busy_store, workspace):
    store, clock, _ = busy_store
    render(store, "list")
    loaded_earlier = listing._load_cache(store)
    for task in all_tasks(store).tasks:  # meanwhile another process compacts: new blob, new token
        store.append_event(task["id"], "note", "again")
    render(store, "list")
    submit(store, workspace, correlation_id="late", lane="b")
    clock.advance(1)
    late = listing._collect_all(store, None, loaded_earlier)  # appends? not to the other's blob
    assert rendered(listing.render_list_batches(late)) == reference_list(store)[0]
    assert cache_rows(store) == all_ids(store) - {t["id"] for t in all_tasks(store).tasks if t["state"] == "claimed"}
    clock.advance(1)
    assert render(store, "list") == reference_list(store)[0]
