"""In-memory index of the store for long-running processes (supervisor, dashboard).

Claim-next and listings are answered from memory; the backend is only read for
tasks that changed (named by the change feed) and, on the periodic rescan
safety net, for tasks whose version changed (`Backend.load`). Claims still go
through the backend, which re-reads the one candidate atomically, so an index
that lags behind the queue costs a retry, never a wrong claim.

Where the backend keeps a summary cache (`Backend.summary_cache`, the file
store's `.lanes-tui/summaries`), the first scan takes the finished tasks from it
when their version still matches, so a start on 10,000 tasks reads the thousand
live ones rather than all of them; `save_cache` writes it back when finished
tasks changed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Hashable, Iterable

from lanes_tui.core.clock import parse_ts
from lanes_tui.core.lifecycle import lease_expired
from lanes_tui.core.states import CLAIMED, QUEUED, TERMINAL_STATES
from lanes_tui.core.titles import failure_summary, prompt_head, task_title
from lanes_tui.storage.results import Loaded, NextResult

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend


@dataclass(frozen=True)
class TaskSummary:
    """The fields claim-next, counts and the task table need: the prompt only as its title and head."""

    id: str
    lane: str
    state: str
    created_at: str
    required_vendor: str
    claim_owner: str | None
    lease_expires_at: str | None
    updated_at: str | None
    failure_reason: str | None
    model_class: str | None = None  # metadata.model_class / effort, as the task asks (shown by the dashboard)
    effort: str | None = None
    # response.json is there but task.json was not rolled forward yet (a crash between
    # the two writes): whoever can should call store.recover() (G8).
    needs_repair: bool = False
    title: str = ""  # metadata.title, else the prompt's first line (core/titles.py)
    prompt_head: str = ""  # the prompt's start (raw), for the dashboard's filter words only

    @classmethod
    def of(cls, task: dict[str, Any], needs_repair: bool = False) -> "TaskSummary":
        metadata = task.get("metadata") or {}
        vendor = metadata.get("required_vendor") or "any"
        reason = task.get("failure_reason")
        model_class, effort = metadata.get("model_class"), metadata.get("effort")
        return cls(
            id=task["id"],
            lane=task["lane"],
            state=task["state"],
            created_at=task["created_at"],
            required_vendor=str(vendor),
            claim_owner=task.get("claim_owner"),
            lease_expires_at=task.get("lease_expires_at"),
            updated_at=task.get("updated_at"),
            failure_reason=failure_summary(str(reason))[:500] if reason is not None else None,
            model_class=str(model_class)[:64] if model_class is not None else None,
            effort=str(effort)[:64] if effort is not None else None,
            needs_repair=needs_repair,
            title=task_title(task),
            prompt_head=prompt_head(task),
        )


# The summary cache's columns: TaskSummary's fields after the id (a new field ignores old caches).
CACHED_FIELDS = tuple(f.name for f in fields(TaskSummary))[1:]
_TEXT_FIELDS = ("lane", "state", "created_at", "required_vendor", "title", "prompt_head")


_TEXT_AT = tuple(CACHED_FIELDS.index(name) for name in _TEXT_FIELDS)
_STATE_AT, _REPAIR_AT = CACHED_FIELDS.index("state"), CACHED_FIELDS.index("needs_repair")


def _cached_summary(task_id: str, values: tuple[Any, ...]) -> TaskSummary | None:
    """A kept row as a summary, if it is a finished task's and has the types the index sorts on."""
    if values[_STATE_AT] not in TERMINAL_STATES or values[_REPAIR_AT] is not False:
        return None
    for at in _TEXT_AT:
        if type(values[at]) is not str:
            return None
    return TaskSummary(task_id, *values)


@dataclass(frozen=True)
class IndexChange:
    """What one refresh found: ids added or changed, removed, and newly corrupt."""

    changed: frozenset[str]
    removed: frozenset[str]
    corrupt: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.changed or self.removed or self.corrupt)


class TaskIndex:
    def __init__(self, store: Backend) -> None:
        self.store = store
        self._tasks: dict[str, TaskSummary] = {}
        self._versions: dict[str, Hashable] = {}
        self.corrupt: dict[str, str] = {}
        self._cache = store.summary_cache()
        self._cache_tried = False
        self._cache_stale = False  # finished tasks changed since the cache was loaded or saved

    # -- reading ------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._tasks)

    def get(self, task_id: str) -> TaskSummary | None:
        return self._tasks.get(task_id)

    def tasks(self) -> list[TaskSummary]:
        return sorted(self._tasks.values(), key=lambda t: t.created_at)

    def summaries(self) -> Iterable[TaskSummary]:
        """Every task, in no particular order (cheaper than tasks() when order does not matter)."""
        return self._tasks.values()

    def counts(self) -> dict[str, int]:
        result = {state: 0 for state in (QUEUED, CLAIMED, "completed", "failed")}
        for task in self._tasks.values():
            result[task.state] = result.get(task.state, 0) + 1
        return result

    def candidates(self, lane: str, *, vendor: str | None = None) -> list[str]:
        """Claimable ids of `lane` for `vendor`, oldest first (from memory only)."""
        now = self.store.now()
        found = [
            t
            for t in self._tasks.values()
            if t.lane == lane
            and (t.state == QUEUED or (t.state == CLAIMED and lease_expired({"lease_expires_at": t.lease_expires_at}, now)))
            and (vendor is None or t.required_vendor in ("any", vendor))
        ]
        found.sort(key=lambda t: t.created_at)
        return [t.id for t in found]

    def next_lease_expiry(self) -> float | None:
        """Seconds until the earliest live claim in the index expires (a task becomes claimable).

        Leases that already ran out are not counted: those tasks are claimable now, and a
        scheduler woken for them "in 0 s" again and again would spin (issue 10's soak: 14% of
        a core for a foreign expired claim nobody here could run)."""
        now = self.store.now()
        soonest: float | None = None
        for task in self._tasks.values():
            if task.state != CLAIMED:
                continue
            try:
                expiry = parse_ts(task.lease_expires_at)
            except ValueError:
                continue
            if expiry is not None and expiry > now:
                left = (expiry - now).total_seconds()
                soonest = left if soonest is None else min(soonest, left)
        return soonest

    # -- acting ---------------------------------------------------------------------

    def claim_next(self, lane: str, *, owner: str, lease_seconds: float, vendor: str | None = None) -> NextResult:
        result = self.store.next_task(
            lane, candidates=self.candidates(lane, vendor=vendor), claim_owner=owner, lease_seconds=lease_seconds
        )
        touched = [tid for tid, _ in result.stale]
        if result.task is not None:
            touched.append(result.task["id"])
        self.refresh(touched)
        return result

    # -- keeping up with the disk --------------------------------------------------------

    def refresh(self, task_ids: Iterable[str]) -> IndexChange:
        """Re-read the named tasks (from the change feed)."""
        return self._apply(self.store.load(set(task_ids)))

    def rescan(self) -> IndexChange:
        """The safety net: compare every task with what we hold, by version."""
        present = set(self.store.task_ids())
        seeded = self._seed_from_cache(present)
        removed = (set(self._tasks) | set(self.corrupt)) - present
        for task_id in removed:
            self._forget(task_id)
        change = self._apply(self.store.load(present, self._versions))
        changed = change.changed | (seeded & self._tasks.keys()) if seeded else change.changed
        return IndexChange(changed, change.removed | frozenset(removed), change.corrupt)

    def save_cache(self) -> None:
        """Keep the finished tasks' summaries for the next start, if they changed (best effort)."""
        if self._cache is None or not self._cache_stale:
            return
        self._cache_stale = False
        rows = {
            task_id: (self._versions[task_id], tuple(getattr(summary, name) for name in CACHED_FIELDS))
            for task_id, summary in self._tasks.items()
            if summary.state in TERMINAL_STATES and not summary.needs_repair and task_id in self._versions
        }
        self._cache.save(CACHED_FIELDS, rows)

    def _seed_from_cache(self, present: set[str]) -> frozenset[str]:
        """Once, into an empty index: the cached summaries of finished tasks still there, with
        the version they were read at (the scan then only stats them)."""
        if self._cache_tried or self._tasks or self._cache is None:
            return frozenset()
        self._cache_tried = True
        seeded = set()
        for task_id, (version, values) in self._cache.load(CACHED_FIELDS).items():
            if task_id not in present:
                self._cache_stale = True  # archived or deleted since
                continue
            try:
                summary = _cached_summary(task_id, values)
            except TypeError:  # a row of another width
                summary = None
            if summary is not None:
                self._tasks[task_id] = summary
                self._versions[task_id] = version
                seeded.add(task_id)
        return frozenset(seeded)

    def _apply(self, loaded: Iterable[Loaded]) -> IndexChange:
        changed, removed, corrupt = set(), set(), set()
        for item in loaded:
            task_id = item.task_id
            if item.version is None:
                if self._forget(task_id):
                    removed.add(task_id)
                continue
            if item.unchanged:
                continue
            self._versions[task_id] = item.version
            if item.corrupt is not None:
                self._tasks.pop(task_id, None)
                if self.corrupt.get(task_id) != item.corrupt:
                    corrupt.add(task_id)
                self.corrupt[task_id] = item.corrupt
                continue
            assert item.task is not None
            self.corrupt.pop(task_id, None)
            summary = TaskSummary.of(item.task, item.needs_repair)
            before = self._tasks.get(task_id)
            if before != summary:
                self._tasks[task_id] = summary
                changed.add(task_id)
                if summary.state in TERMINAL_STATES or (before is not None and before.state in TERMINAL_STATES):
                    self._cache_stale = True
        return IndexChange(frozenset(changed), frozenset(removed), frozenset(corrupt))

    def _forget(self, task_id: str) -> bool:
        self._versions.pop(task_id, None)
        self._cache_stale = True
        was_corrupt = self.corrupt.pop(task_id, None) is not None
        return self._tasks.pop(task_id, None) is not None or was_corrupt


def finished(summary: TaskSummary) -> bool:
    return summary.state in TERMINAL_STATES
