"""Lock-free scans of the store for one-shot commands.

agent-lanes parses every task.json under the exclusive lock for each listing
and each poll; we never take the lock to read (every write is an atomic
rename, so a read sees the old or the new file), and a corrupt task is
reported next to the results instead of breaking them.

Two facts about a task never change once known: its lane, and that it is
finished (completed and failed tasks never return to the queue; requeue makes
a new task). They are cached per task id in `<store>/.lanes-tui/facts`, so
finding the next task of a lane opens only that lane's live tasks, in id order
(ids begin with their creation time), however long the history is. The cache
can only be incomplete, never wrong, so a lost cache costs time, not
correctness.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from lanes_tui.core import fsio
from lanes_tui.core.errors import CorruptTask, NotFound, StoreError
from lanes_tui.core.store import TERMINAL_STATES, TaskStore

CACHE_DIR = ".lanes-tui"
FACTS_CACHE = "facts"
FACTS_VERSION = 1


@dataclass
class Listing:
    tasks: list[dict[str, Any]] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)


class TaskFacts:
    """id -> lane and the set of finished ids, persisted between commands."""

    def __init__(self, lanes: dict[str, str], finished: set[str]) -> None:
        self.lanes = lanes
        self.finished = finished
        self.dirty = False

    @classmethod
    def load(cls, store: TaskStore) -> "TaskFacts":
        try:
            with fsio.open_dir(store.root / CACHE_DIR) as fd:
                raw = json.loads(fsio.read_file(FACTS_CACHE, dir_fd=fd, max_bytes=256 << 20))
            if raw.get("version") == FACTS_VERSION:
                lanes, finished = raw["lanes"], raw["finished"]
                if isinstance(lanes, dict) and isinstance(finished, list):
                    return cls(lanes, set(finished))
        except (OSError, ValueError, KeyError, AttributeError, StoreError, CorruptTask):
            pass
        return cls({}, set())

    def learn(self, task: dict[str, Any]) -> None:
        task_id = task["id"]
        if self.lanes.get(task_id) != task["lane"]:
            self.lanes[task_id] = task["lane"]
            self.dirty = True
        if task["state"] in TERMINAL_STATES and task_id not in self.finished:
            self.finished.add(task_id)
            self.dirty = True

    def forget_missing(self, present: list[str]) -> None:
        """Drop archived ids so the cache does not grow forever."""
        if len(self.lanes) > len(present):
            keep = set(present)
            self.lanes = {k: v for k, v in self.lanes.items() if k in keep}
            self.finished &= keep
            self.dirty = True

    def save(self, store: TaskStore) -> None:
        """Best effort, not fsynced: a lost cache only costs time."""
        if not self.dirty:
            return
        payload = {"version": FACTS_VERSION, "lanes": self.lanes, "finished": sorted(self.finished)}
        with contextlib.suppress(OSError, StoreError):
            with fsio.open_dir(store.root) as root_fd:
                fsio.make_dir(CACHE_DIR, dir_fd=root_fd, exist_ok=True)
                with fsio.open_dir(CACHE_DIR, dir_fd=root_fd) as fd:
                    fsio.write_atomic(FACTS_CACHE, json.dumps(payload, separators=(",", ":")), dir_fd=fd, durable=False)
        self.dirty = False


def lane_candidates(store: TaskStore, lane: str | None, facts: TaskFacts, corrupt: list[tuple[str, str]] | None = None) -> list[str]:
    """Ids of tasks that may be live in `lane` (all lanes for None), oldest first.

    Only tasks never seen before are opened here (to learn their lane); known
    ones are filtered from the cache alone.
    """
    present = store.task_ids(known=facts.lanes)
    facts.forget_missing(present)
    candidates = []
    for task_id in present:
        if task_id in facts.finished:
            continue
        known_lane = facts.lanes.get(task_id)
        if known_lane is None:
            try:
                task = store.effective_task(task_id)
            except NotFound:
                continue
            except CorruptTask as exc:
                if corrupt is not None:
                    corrupt.append((task_id, str(exc)))
                continue
            facts.learn(task)
            if task["state"] in TERMINAL_STATES:
                continue
            known_lane = task["lane"]
        if lane is None or known_lane == lane:
            candidates.append(task_id)
    candidates.sort()
    return candidates


def lane_has_tasks(store: TaskStore, lane: str) -> bool:
    """Whether any task (live or finished) was ever submitted to `lane`."""
    facts = TaskFacts.load(store)
    lane_candidates(store, lane, facts)  # learns the lane of every task not seen before
    facts.save(store)
    return lane in set(facts.lanes.values())


def live_tasks(store: TaskStore, *, lane: str | None = None) -> Listing:
    """Queued and claimed tasks of `lane` (after roll-forward), oldest first."""
    facts = TaskFacts.load(store)
    listing = Listing()
    for task_id in lane_candidates(store, lane, facts, listing.corrupt):
        try:
            task = store.effective_task(task_id)
        except NotFound:
            continue
        except CorruptTask as exc:
            listing.corrupt.append((task_id, str(exc)))
            continue
        facts.learn(task)
        if task["state"] not in TERMINAL_STATES:
            listing.tasks.append(task)
    facts.save(store)
    listing.tasks.sort(key=lambda t: t["created_at"])
    return listing


def all_tasks(store: TaskStore, *, lane: str | None = None, include_terminal: bool = True) -> Listing:
    """Every task (after roll-forward), oldest first; corrupt ones listed apart."""
    if not include_terminal:
        return live_tasks(store, lane=lane)
    listing = Listing()
    for task_id in store.task_ids():
        try:
            task = store.effective_task(task_id)
        except NotFound:
            continue
        except CorruptTask as exc:
            listing.corrupt.append((task_id, str(exc)))
            continue
        if lane is None or task["lane"] == lane:
            listing.tasks.append(task)
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
