"""`list` and `status --all` output, byte-identical to agent-lanes', fast at 10,000 tasks.

agent-lanes re-parses every task.json and every events.jsonl under the store
lock and then runs the pure-Python indenting JSON encoder over all of it. The
view of a queued or finished task changes with the clock in one number only
(`last_event_age_seconds`), so we keep those views pre-encoded in
`<store>/.lanes-tui/views` and check each is current with stats of the task
folder, task.json and events.jsonl (`_signature`). Claimed tasks, whose lease
fields move with the clock, are read and encoded fresh every time.

The cache is advisory: if it is missing, stale or unreadable, the output is
the same, only slower. No lock is taken to read or write it.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from lanes_tui.core import fsio, jsonout
from lanes_tui.core.errors import CorruptTask, NotFound, StoreError
from lanes_tui.core.scan import CACHE_DIR, last_event_of, live_tasks
from lanes_tui.core.store import CLAIMED, TaskStore
from lanes_tui.core.views import age_seconds, queue_next_action, task_view

VIEWS_CACHE = "views"
CACHE_VERSION = 1
_AGE_KEY = '"last_event_age_seconds": '
_AGE_SLOT = -987654321987  # placeholder number, split out of the encoded view
_ITEM_INDENT = "    "  # views sit at depth 2: {"tasks": [ {...} ]}


@dataclass
class Item:
    """One task's contribution to a listing."""

    task_id: str
    lane: str
    created_at: str
    state: str
    lease_expired: bool
    missing_response: bool
    render: Callable[[], str]


@dataclass
class Collected:
    items: list[Item] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)


def collect(store: TaskStore, *, lane: str | None = None, include_terminal: bool = True) -> Collected:
    if not include_terminal:
        return _collect_live(store, lane)
    now = store.now()
    cache = _load_cache(store)
    fresh_cache: dict[str, list[Any]] = {}
    out = Collected()
    with fsio.open_dir(store.tasks_dir) as tasks_fd:
        signatures = [(task_id, _signature(tasks_fd, task_id)) for task_id in store.task_ids(known=cache)]
    for task_id, signature in signatures:
        if signature is None:
            continue  # removed (archived) while we looked
        entry = cache.get(task_id)
        if entry is None or entry[0] != signature:
            try:
                entry = _build_entry(store, task_id, signature, now)
            except NotFound:
                continue
            except CorruptTask as exc:
                out.corrupt.append((task_id, str(exc)))
                continue
        if entry[1] is not None:  # queued or finished: cacheable
            fresh_cache[task_id] = entry
            item = _cached_item(task_id, entry, now)
        else:
            item = entry[2]
        if lane is None or item.lane == lane:
            out.items.append(item)
    if fresh_cache.keys() != cache.keys() or any(cache[k] is not v for k, v in fresh_cache.items()):
        _save_cache(store, fresh_cache)
    out.items.sort(key=lambda item: item.created_at)
    return out


def _collect_live(store: TaskStore, lane: str | None) -> Collected:
    """--active-only: finished ids are skipped unopened (scan.live_tasks)."""
    now = store.now()
    listing = live_tasks(store, lane=lane)
    out = Collected(corrupt=list(listing.corrupt))
    for task in listing.tasks:
        view = task_view(
            task, response_exists=store.response_exists(task["id"]), last_event=last_event_of(store, task["id"]), now=now
        )
        text = _encode_view(view)
        out.items.append(
            Item(task["id"], task["lane"], task["created_at"], task["state"], bool(view["lease_expired"]),
                 bool(view["missing_response"]), lambda text=text: text)
        )
    return out


def render_list(collected: Collected) -> str:
    head: dict[str, Any] = {"status": "ok", "count": len(collected.items)}
    _add_corrupt(head, collected)
    return _splice(head, collected.items)


def render_status_all(collected: Collected) -> str:
    counts = summary_of(collected.items)
    head: dict[str, Any] = {
        "status": "ok",
        "count": len(collected.items),
        "summary": counts,
        "next_action": queue_next_action(counts),
    }
    _add_corrupt(head, collected)
    return _splice(head, collected.items)


def summary_of(items: list[Item]) -> dict[str, int]:
    counts = {"queued": 0, "claimed": 0, "completed": 0, "failed": 0, "stale_claims": 0, "missing_response": 0}
    for item in items:
        if item.state in counts:
            counts[item.state] += 1
        counts["stale_claims"] += item.lease_expired
        counts["missing_response"] += item.missing_response
    return counts


def _add_corrupt(head: dict[str, Any], collected: Collected) -> None:
    if collected.corrupt:
        head["corrupt"] = [{"task_id": tid, "reason": reason} for tid, reason in collected.corrupt]


def _splice(head: dict[str, Any], items: list[Item]) -> str:
    """jsonout.dumps({**head, "tasks": views}) without re-encoding cached views.

    "tasks" sorts after every other key we use, so the array is the text's tail.
    """
    assert all(key < "tasks" for key in head)
    if not items:
        return jsonout.dumps({**head, "tasks": []})
    text = jsonout.dumps(head)
    body = (",\n" + _ITEM_INDENT).join(item.render() for item in items)
    return text[:-2] + ',\n  "tasks": [\n' + _ITEM_INDENT + body + "\n  ]\n}"


def _signature(tasks_fd: int, task_id: str) -> list[int] | None:
    """Stats that change whenever anything a view shows can change.

    The folder's mtime covers files created, replaced or removed in it (atomic
    writes, response.json appearing or vanishing); task.json's own stat covers
    editors and tools that rewrite it in place; events.jsonl grows on appends.
    Stats are relative to the tasks/ descriptor: no path building per task.
    """
    try:
        info = os.stat(task_id, dir_fd=tasks_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    signature = [info.st_ino, info.st_mtime_ns]
    for name in (f"{task_id}/task.json", f"{task_id}/events.jsonl"):
        try:
            item = os.stat(name, dir_fd=tasks_fd, follow_symlinks=False)
            signature += [item.st_ino, item.st_size, item.st_mtime_ns]
        except OSError:
            signature += [-1, -1, -1]
    return signature


def _build_entry(store: TaskStore, task_id: str, signature: list[int], now: Any) -> list[Any]:
    """[signature, cached parts or None, live Item or None]."""
    task = store.effective_task(task_id)
    last_event = last_event_of(store, task_id)
    view = task_view(task, response_exists=store.response_exists(task_id), last_event=last_event, now=now)
    if task["state"] == CLAIMED:  # lease fields change with the clock: always fresh
        text = _encode_view(view)
        item = Item(task_id, task["lane"], task["created_at"], task["state"], bool(view["lease_expired"]),
                    bool(view["missing_response"]), lambda: text)
        return [signature, None, item]
    if last_event is not None:
        view["last_event_age_seconds"] = _AGE_SLOT
    text = _encode_view(view)
    prefix, _, suffix = text.partition(f"{_AGE_KEY}{_AGE_SLOT}")
    parts = {
        "lane": task["lane"],
        "created_at": task["created_at"],
        "state": task["state"],
        "missing_response": bool(view["missing_response"]),
        "last_event_at": last_event.get("created_at") if last_event else None,
        "prefix": prefix,
        "suffix": suffix if last_event is not None else None,
    }
    return [signature, parts, None]


def _cached_item(task_id: str, entry: list[Any], now: Any) -> Item:
    parts = entry[1]

    def render() -> str:
        if parts["suffix"] is None:
            return parts["prefix"]
        age = age_seconds(parts["last_event_at"], now)
        return f"{parts['prefix']}{_AGE_KEY}{jsonout.dumps(age)}{parts['suffix']}"

    return Item(task_id, parts["lane"], parts["created_at"], parts["state"], False, parts["missing_response"], render)


def _encode_view(view: dict[str, Any]) -> str:
    out: list[str] = []
    jsonout.encode_into(view, _ITEM_INDENT, out)
    return "".join(out)


def _load_cache(store: TaskStore) -> dict[str, list[Any]]:
    try:
        with fsio.open_dir(store.root / CACHE_DIR) as fd:
            raw = json.loads(fsio.read_file(VIEWS_CACHE, dir_fd=fd, max_bytes=1 << 30))
    except (OSError, ValueError, StoreError, CorruptTask):
        return {}
    if not isinstance(raw, dict) or raw.get("version") != CACHE_VERSION or not isinstance(raw.get("entries"), dict):
        return {}
    entries = {}
    for task_id, entry in raw["entries"].items():
        if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], dict):
            entries[task_id] = [entry[0], entry[1], None]
    return entries


def _save_cache(store: TaskStore, entries: dict[str, list[Any]]) -> None:
    """Best effort and not fsynced: losing the cache only costs time."""
    payload = {"version": CACHE_VERSION, "entries": {tid: e[:2] for tid, e in entries.items()}}
    with contextlib.suppress(OSError, StoreError):
        with fsio.open_dir(store.root) as root_fd:
            fsio.make_dir(CACHE_DIR, dir_fd=root_fd, exist_ok=True)
            with fsio.open_dir(CACHE_DIR, dir_fd=root_fd) as fd:
                fsio.write_atomic(VIEWS_CACHE, json.dumps(payload, separators=(",", ":")), dir_fd=fd, durable=False)
