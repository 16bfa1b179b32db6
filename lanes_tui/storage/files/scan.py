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
import os
from typing import Any

from lanes_tui.core import fsio
from lanes_tui.core.errors import CorruptTask, NotFound, StoreError
from lanes_tui.core.states import TERMINAL_STATES
from lanes_tui.storage.files.store import TaskStore
from lanes_tui.storage.results import Listing

CACHE_DIR = ".lanes-tui"
FACTS_CACHE = "facts.log"


class TaskFacts:
    """id -> lane and the set of finished ids, persisted between commands.

    Stored as an append-only log of `id<TAB>lane-as-JSON<TAB>0|1` lines, so
    learning one new task costs one small append, not a rewrite; concurrent
    appenders each add whole lines (a torn line from a crash is skipped). The
    log is compacted when it holds far more lines than tasks.
    """

    def __init__(self, lanes: dict[str, str], finished: set[str], lines: int = 0) -> None:
        self.lanes = lanes
        self.finished = finished
        self._lines = lines
        self._new: list[str] = []
        self._compact = False

    @classmethod
    def load(cls, store: TaskStore) -> "TaskFacts":
        try:
            with fsio.open_dir(store.root / CACHE_DIR) as fd:
                data = fsio.read_file(FACTS_CACHE, dir_fd=fd, max_bytes=256 << 20)
        except (OSError, StoreError, CorruptTask):
            return cls({}, set())
        lanes: dict[str, str] = {}
        finished: set[str] = set()
        decoded: dict[str, str] = {}
        lines = data.decode("utf-8", "replace").split("\n")
        for line in lines:
            parts = line.split("\t")
            if len(parts) != 3 or parts[2] not in ("0", "1"):
                continue  # torn or foreign line
            task_id, raw_lane, done = parts
            lane = decoded.get(raw_lane)
            if lane is None:
                try:
                    lane = json.loads(raw_lane)
                except ValueError:
                    continue
                if not isinstance(lane, str):
                    continue
                decoded[raw_lane] = lane
            lanes[task_id] = lane
            if done == "1":
                finished.add(task_id)
        return cls(lanes, finished, len(lines))

    @property
    def dirty(self) -> bool:
        return bool(self._new) or self._compact

    def learn(self, task: dict[str, Any]) -> None:
        task_id = task["id"]
        done = task["state"] in TERMINAL_STATES
        if self.lanes.get(task_id) == task["lane"] and (not done or task_id in self.finished):
            return
        self.lanes[task_id] = task["lane"]
        if done:
            self.finished.add(task_id)
        self._new.append(f"{task_id}\t{json.dumps(task['lane'])}\t{int(done)}\n")

    def forget_missing(self, present: list[str]) -> None:
        """Drop archived ids (at the next compaction) so the cache does not grow forever."""
        if len(self.lanes) > len(present):
            keep = set(present)
            self.lanes = {k: v for k, v in self.lanes.items() if k in keep}
            self.finished &= keep
            self._compact = True

    def save(self, store: TaskStore) -> None:
        """Best effort, not fsynced: a lost cache only costs time."""
        if not self.dirty:
            return
        with contextlib.suppress(OSError, StoreError):
            with fsio.open_dir(store.root) as root_fd:
                fsio.make_dir(CACHE_DIR, dir_fd=root_fd, exist_ok=True)
                with fsio.open_dir(CACHE_DIR, dir_fd=root_fd) as fd:
                    if self._compact or self._lines + len(self._new) > 2 * len(self.lanes) + 1000:
                        text = "".join(
                            f"{tid}\t{json.dumps(lane)}\t{int(tid in self.finished)}\n"
                            for tid, lane in self.lanes.items()
                        )
                        fsio.write_atomic(FACTS_CACHE, text, dir_fd=fd, durable=False)
                        self._lines = len(self.lanes)
                    else:
                        fsio.append_text(FACTS_CACHE, "".join(self._new), dir_fd=fd)
                        self._lines += len(self._new)
        self._new = []
        self._compact = False


def lane_candidates(
    store: TaskStore, lane: str | None, facts: TaskFacts, corrupt: list[tuple[str, str]] | None = None
) -> list[str]:
    """Ids of tasks that may be live in `lane` (all lanes for None), oldest first.

    Only tasks never seen before are opened here (to learn their lane); known
    ones are filtered from the cache alone.
    """
    present = store.task_ids(known=facts.lanes)
    facts.forget_missing(present)
    candidates = []
    unknown = [task_id for task_id in present if task_id not in facts.lanes]
    for task in read_new_tasks(store, unknown, corrupt):
        facts.learn(task)
    for task_id in present:
        if task_id in facts.finished:
            continue
        known_lane = facts.lanes.get(task_id)
        if known_lane is not None and (lane is None or known_lane == lane):
            candidates.append(task_id)
    candidates.sort()
    return candidates


def read_new_tasks(
    store: TaskStore, task_ids: list[str], corrupt: list[tuple[str, str]] | None = None
) -> list[dict[str, Any]]:
    """Read tasks just noticed; wait for any still being written by a submitter.

    A folder appears before its task.json (both tools mkdir, then write, under
    the store lock). Skipping such a folder would lose the task until the next
    full rescan, so we wait for the lock once, by which time it is complete.
    """
    tasks, incomplete = [], []
    for task_id in task_ids:
        try:
            tasks.append(store.effective_task(task_id))
        except NotFound:
            if os.path.isdir(store.tasks_dir / task_id):
                incomplete.append(task_id)
        except CorruptTask as exc:
            if corrupt is not None:
                corrupt.append((task_id, str(exc)))
    if incomplete:
        with store.locked():
            pass  # the submitter releases the lock only once task.json is in place
        for task_id in incomplete:
            try:
                tasks.append(store.effective_task(task_id))
            except NotFound:
                continue  # a submit that died half-way: ignored, as agent-lanes does
            except CorruptTask as exc:
                if corrupt is not None:
                    corrupt.append((task_id, str(exc)))
    return tasks


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
