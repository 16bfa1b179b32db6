"""Lock-free listing of the store for one-shot commands.

agent-lanes parses every task.json under the exclusive lock for each listing;
we never take the lock to read (every write is an atomic rename, so a read sees
either the old or the new file), and a corrupt task is reported next to the
listing instead of breaking it.

Completed and failed tasks never change state again, so their ids are kept in
a small cache (`<store>/.lanes-tui/terminal-ids`): looking for the next task
of a lane then only opens the few live tasks, however long the history is.
The cache only ever says "this id is terminal", which stays true, so a stale
or lost cache costs time, never correctness.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from lanes_tui.core import fsio
from lanes_tui.core.errors import CorruptTask, NotFound, StoreError
from lanes_tui.core.store import TERMINAL_STATES, TaskStore

CACHE_DIR = ".lanes-tui"
TERMINAL_CACHE = "terminal-ids"


@dataclass
class Listing:
    tasks: list[dict[str, Any]] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)


def load_terminal_ids(store: TaskStore) -> set[str]:
    try:
        with fsio.open_dir(store.root / CACHE_DIR) as fd:
            data = fsio.read_file(TERMINAL_CACHE, dir_fd=fd, max_bytes=64 << 20)
        ids = json.loads(data)
        return set(ids) if isinstance(ids, list) else set()
    except (OSError, ValueError, StoreError, CorruptTask):
        return set()


def save_terminal_ids(store: TaskStore, ids: set[str]) -> None:
    """Best effort: a read-only or full disk just means the next scan is slower."""
    with contextlib.suppress(OSError, StoreError):
        with fsio.open_dir(store.root) as root_fd:
            fsio.make_dir(CACHE_DIR, dir_fd=root_fd, exist_ok=True)
            with fsio.open_dir(CACHE_DIR, dir_fd=root_fd) as fd:
                fsio.write_atomic(TERMINAL_CACHE, json.dumps(sorted(ids)), dir_fd=fd)


def live_tasks(store: TaskStore, *, lane: str | None = None) -> Listing:
    """Queued and claimed tasks (after roll-forward), oldest first."""
    known_terminal = load_terminal_ids(store)
    present = store.task_ids()
    listing = Listing()
    newly_terminal: set[str] = set()
    for task_id in present:
        if task_id in known_terminal:
            continue
        try:
            task = store.effective_task(task_id)
        except NotFound:
            continue
        except CorruptTask as exc:
            listing.corrupt.append((task_id, str(exc)))
            continue
        if task["state"] in TERMINAL_STATES:
            newly_terminal.add(task_id)
        elif lane is None or task["lane"] == lane:
            listing.tasks.append(task)
    if newly_terminal or len(known_terminal) > len(present):
        # Drop ids of archived tasks so the cache does not grow forever.
        save_terminal_ids(store, (known_terminal & set(present)) | newly_terminal)
    listing.tasks.sort(key=lambda t: t["created_at"])
    return listing


def all_tasks(store: TaskStore, *, lane: str | None = None, include_terminal: bool = True) -> Listing:
    """Every task (after roll-forward), oldest first; corrupt ones listed apart."""
    if not include_terminal:
        return live_tasks(store, lane=lane)
    listing = Listing()
    terminal: set[str] = set()
    for task_id in store.task_ids():
        try:
            task = store.effective_task(task_id)
        except NotFound:
            continue
        except CorruptTask as exc:
            listing.corrupt.append((task_id, str(exc)))
            continue
        if task["state"] in TERMINAL_STATES:
            terminal.add(task_id)
        if lane is None or task["lane"] == lane:
            listing.tasks.append(task)
    if terminal != load_terminal_ids(store):
        save_terminal_ids(store, terminal)
    listing.tasks.sort(key=lambda t: t["created_at"])
    return listing


def last_event_of(store: TaskStore, task_id: str) -> dict[str, Any] | None:
    try:
        return store.last_event(task_id)
    except (NotFound, CorruptTask, OSError):
        return None


def snapshot_views(store: TaskStore, listing: Listing) -> list[dict[str, Any]]:
    from lanes_tui.core.views import task_view

    now = store.now()
    return [
        task_view(
            task,
            response_exists=store.response_exists(task["id"]),
            last_event=last_event_of(store, task["id"]),
            now=now,
        )
        for task in listing.tasks
    ]
