"""Cached listings are byte-identical to encoding every view afresh."""

from __future__ import annotations

import json
import os

import pytest

from lanes_tui.core import jsonout, listing
from lanes_tui.core.scan import all_tasks, snapshot_views
from lanes_tui.core.store import TaskStore
from lanes_tui.core.views import queue_next_action, summary

from .test_store import FakeClock, submit


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
    clock = FakeClock()
    store = TaskStore(workspace.store_root, clock=clock)
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
    return (listing.render_list if kind == "list" else listing.render_status_all)(collected)


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
    other = TaskStore(workspace.store_root, clock=clock)  # another client claims it
    token = other.claim(queued["id"], owner="elsewhere", lease_seconds=600)["claim_token"]
    assert render(store, "status") == reference_status(store)
    assert json.loads(render(store, "status"))["summary"]["claimed"] == 2
    other.release(queued["id"], claim_token=token)
    assert render(store, "status") == reference_status(store)
