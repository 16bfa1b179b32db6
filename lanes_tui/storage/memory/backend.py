"""The queue in one process's memory: the same verbs and state machine as the file store.

An answer and its task change together under the mutex, so there is never a recorded
answer to roll forward (G8 is the file store's problem alone).

For tests of everything above the seam (engine, dashboard, `--no-ui`, the Python API) and
for programs that embed a queue they do not need to share. Nothing is durable; another
process cannot see it. Every verb is one read-modify-write under one mutex, applying the
rules of `core/lifecycle.py` exactly as the file store does; the contract suite
(`tests/storage/test_contract.py`) holds both to the same behaviour.

Requests are still files in the workspace (a task names them; the worker reads them), so
submit and claim check them as the file store does.
"""

from __future__ import annotations

import copy
import json
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Hashable, Iterable, Iterator, Mapping

from lanes_tui.core import lifecycle
from lanes_tui.core.clock import Clock, after, system_clock
from lanes_tui.core.errors import ConflictError, InvalidInput, NotFound
from lanes_tui.core.ids import validate_task_id
from lanes_tui.core.journal import Journal
from lanes_tui.core.jsonvalue import json_value
from lanes_tui.core.lifecycle import Event, apply_response
from lanes_tui.core.locks import LockTable
from lanes_tui.core.messages import MessageBox
from lanes_tui.core.presence import Presence
from lanes_tui.core.request_files import read_request, request_problem
from lanes_tui.core.requests import RequestBook
from lanes_tui.core.states import COMPLETED, TERMINAL_STATES, attempts_of
from lanes_tui.core.supervisors import SupervisorStatus
from lanes_tui.core.views import task_view
from lanes_tui.core.wire import MAX_RESPONSE_BYTES, MAX_TASK_BYTES, EventLog
from lanes_tui.storage import verbs
from lanes_tui.storage.memory.coordination import (
    MemoryLogs,
    MemoryMessageLog,
    MemoryRecords,
)
from lanes_tui.storage.memory.feeds import (
    KindFeeds,
    MemoryFeed,
    MemoryRecordFeed,
    MemoryWatch,
    TaskHub,
)
from lanes_tui.storage.memory.registry import (
    MemorySupervisorLock,
    MemorySupervisorRegistry,
)
from lanes_tui.storage.memory.registry import status as supervisor_status
from lanes_tui.storage.results import Listing, ListingOutput, Loaded, NextResult, WholeTask
from lanes_tui.storage.task_records import already_here, record_id


@dataclass
class _Record:
    task: dict[str, Any]
    response: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0


class MemoryBackend:
    def __init__(self, *, clock: Clock = system_clock, name: str = "memory", logs_dir: Path | None = None) -> None:
        self.clock = clock
        self._logs_dir = logs_dir
        self._supervisor = MemorySupervisorLock()
        self._kind_feeds = {kind: KindFeeds() for kind in ("locks", "agents", "messages", "requests")}
        self._lock_records = MemoryRecords(self._kind_feeds["locks"])
        self._agent_records = MemoryRecords(self._kind_feeds["agents"])
        self._request_records = MemoryRecords(self._kind_feeds["requests"])
        self._message_log = MemoryMessageLog(self._kind_feeds["messages"])
        self._journal_logs = MemoryLogs()
        self._name = name
        self._lock = threading.RLock()
        self._tasks: dict[str, _Record] = {}
        self._archived: dict[str, _Record] = {}
        self._hub = TaskHub()

    @property
    def location(self) -> str:
        return f"{self._name} (in this process's memory)"

    @property
    def archive_location(self) -> str:
        return f"{self._name}'s archive (in memory)"

    @property
    def address(self) -> str | None:
        return None

    def now(self) -> datetime:
        return self.clock()

    # -- reads (copies: a caller can never change the queue by editing what it was given) ----

    def task_ids(self) -> list[str]:
        with self._lock:
            return list(self._tasks)

    def read_task(self, task_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._record(task_id).task)

    def effective_task(self, task_id: str) -> dict[str, Any]:
        with self._lock:
            record = self._record(task_id)
            return copy.deepcopy(record.task)  # the answer and the task change together: nothing to roll forward

    def read_response(self, task_id: str) -> dict[str, Any] | None:
        with self._lock:
            return copy.deepcopy(self._record(task_id).response)

    def response_exists(self, task_id: str) -> bool:
        validate_task_id(task_id)
        with self._lock:
            record = self._tasks.get(task_id)
            return record is not None and record.response is not None

    def read_events(self, task_id: str, *, limit: int | None = None) -> EventLog:
        with self._lock:
            events = copy.deepcopy(self._record(task_id).events)
        if limit is not None:
            events = events[-limit:] if limit > 0 else []
        return EventLog(events)

    def last_event(self, task_id: str) -> dict[str, Any] | None:
        events = self.read_events(task_id, limit=1).events
        return events[-1] if events else None

    def attempts(self, task_id: str) -> int:
        return attempts_of(self.read_events(task_id).events).claims

    def is_archived(self, task_id: str) -> bool:
        with self._lock:
            return task_id in self._archived

    def request_problem(self, task: dict[str, Any]) -> str | None:
        return request_problem(task)

    def request_content(self, task: dict[str, Any]) -> bytes | None:
        return read_request(task)

    # -- results that cross hosts: not on a single-host store ---------------------------------

    @property
    def results_travel(self) -> bool:
        return False

    def keep_result_bundle(self, task_id: str, *, claim_token: str, head: str, content: bytes) -> str:
        raise InvalidInput("a task's branch travels only on a shared queue: this store's repository has it")

    def result_bundle(self, task_id: str) -> tuple[str, bytes] | None:
        return None

    # -- verbs --------------------------------------------------------------------------------

    def create_task(
        self,
        *,
        workspace_id: str,
        correlation_id: str,
        source_agent: str,
        lane: str,
        workspace_root: Path | str,
        request_path: Path | str,
        response_path: Path | str,
        prompt: str,
        worktree_path: Path | str | None = None,
        expected_branch: str | None = None,
        supporting_paths: Iterable[Any] = (),
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        task, created = verbs.build_task(
            self.now, workspace_id=workspace_id, correlation_id=correlation_id, source_agent=source_agent, lane=lane,
            workspace_root=workspace_root, request_path=request_path, response_path=response_path, prompt=prompt,
            worktree_path=worktree_path, expected_branch=expected_branch, supporting_paths=supporting_paths,
            metadata=metadata)
        verbs.check_size(task, MAX_TASK_BYTES, "task")
        with self._lock:
            if task["id"] in self._tasks or task["id"] in self._archived:
                raise ConflictError(f"task already exists: {task['id']}")
            record = _Record(task)
            self._tasks[task["id"]] = record
            self._record_event(record, created)
        self._hub.changed(task["id"], new=True)
        return copy.deepcopy(task)

    def claim(self, task_id: str, *, owner: str, lease_seconds: float) -> dict[str, Any]:
        lifecycle.check_lease(lease_seconds)
        with self._update(task_id) as record:
            now = self.now()
            self._apply(record, lambda task: lifecycle.claim(task, owner=owner, lease_seconds=lease_seconds, now=now,
                                                             events=record.events))
            return copy.deepcopy(record.task)

    def next_task(self, lane: str, *, candidates: Iterable[str], vendor: str | None = None,
                  claim_owner: str | None = None, lease_seconds: float | None = None) -> NextResult:
        return verbs.next_task(self, lane, candidates=candidates, vendor=vendor, claim_owner=claim_owner,
                               lease_seconds=lease_seconds)

    def renew(self, task_id: str, *, claim_token: str, lease_seconds: float) -> dict[str, Any]:
        lifecycle.check_lease(lease_seconds)
        with self._update(task_id) as record:
            lifecycle.require_holder(record.task, claim_token, "renew")
            self._apply(record, lambda task: lifecycle.apply_renew(task, lease_seconds=lease_seconds, now=self.now()))
            return copy.deepcopy(record.task)

    def release(self, task_id: str, *, claim_token: str, reason: str | None = None) -> dict[str, Any]:
        with self._update(task_id) as record:
            lifecycle.require_holder(record.task, claim_token, "release")
            self._apply(record, lambda task: lifecycle.apply_release(task, now=self.now(), reason=reason))
            return copy.deepcopy(record.task)

    def append_event(self, task_id: str, event_type: str, message: str, data: dict[str, Any] | None = None,
                     *, claim_token: str | None = None) -> None:
        with self._lock:
            record = self._record(task_id)
            if claim_token is not None:
                lifecycle.require_holder(record.task, claim_token, "add an event to")
            self._record_event(record, Event(event_type, message, json_value(dict(data or {}), "event data")))
        self._hub.changed(task_id)

    def respond(
        self,
        task_id: str,
        *,
        body: str,
        reviewer: str,
        claim_token: str | None = None,
        status: str = COMPLETED,
        follow_up_required: bool = False,
        verdict: str | None = None,
        blocking_count: int | None = None,
        nonblocking_count: int | None = None,
        expect_sha256: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        reply = lifecycle.Reply(body, reviewer, status, follow_up_required, verdict, blocking_count,
                                nonblocking_count, expect_sha256, metadata)
        with self._update(task_id) as record:
            response = lifecycle.answer(record.task, reply, claim_token=claim_token, now=self.now())
            verbs.check_size(response, MAX_RESPONSE_BYTES, "response")

            def answered(task: dict[str, Any]) -> Event:
                apply_response(task, response)
                return lifecycle.response_event(reviewer)

            self._apply(record, answered)
            record.response = response
            return copy.deepcopy(response)

    def cancel(self, task_id: str, *, by: str, reason: str | None = None) -> dict[str, Any]:
        with self._update(task_id) as record:
            lifecycle.check_cancel(record.task)
            self._apply(record, lambda task: lifecycle.apply_cancel(task, now=self.now(), by=by, reason=reason))
            return copy.deepcopy(record.task)

    def break_claim(self, task_id: str, *, by: str, reason: str) -> dict[str, Any]:
        with self._update(task_id) as record:
            lifecycle.check_break(record.task)
            self._apply(record, lambda task: lifecycle.apply_break(task, now=self.now(), by=by, reason=reason))
            return copy.deepcopy(record.task)

    def requeue(self, task_id: str, *, by: str, metadata_overrides: dict[str, Any] | None = None,
                source_agent: str | None = None) -> dict[str, Any]:
        return verbs.requeue(self, task_id, by=by, metadata_overrides=metadata_overrides, source_agent=source_agent)

    def archive(self, *, older_than_days: float, dry_run: bool = False) -> list[str]:
        lifecycle.check_archive_age(older_than_days)
        cutoff = after(self.now(), -older_than_days * 86400)
        with self._lock:
            moved = sorted(tid for tid in self._tasks if lifecycle.finished_before(self.effective_task(tid), cutoff))
            if not dry_run:
                for task_id in moved:
                    self._archived[task_id] = self._tasks.pop(task_id)
        for task_id in [] if dry_run else moved:
            self._hub.changed(task_id)
        return moved

    def recover(self, task_id: str) -> dict[str, Any]:
        with self._update(task_id) as record:
            return copy.deepcopy(record.task)

    # -- finding tasks ------------------------------------------------------------------------

    def live_tasks(self, *, lane: str | None = None) -> Listing:
        return self.all_tasks(lane=lane, include_terminal=False)

    def all_tasks(self, *, lane: str | None = None, include_terminal: bool = True) -> Listing:
        with self._lock:
            tasks = [self.effective_task(tid) for tid in self._tasks]
        tasks = [t for t in tasks if (lane is None or t["lane"] == lane)
                 and (include_terminal or t["state"] not in TERMINAL_STATES)]
        tasks.sort(key=lambda t: t["created_at"])
        return Listing(tasks)

    def listing_output(self, *, status: bool, lane: str | None = None,
                       include_terminal: bool = True) -> ListingOutput:
        now = self.now()
        shown = [task_view(task, response_exists=self.response_exists(task["id"]),
                           last_event=self.last_event(task["id"]), now=now)
                 for task in self.all_tasks(lane=lane, include_terminal=include_terminal).tasks]
        return verbs.listing_output(shown, status=status)

    def lane_candidates(self, lane: str | None, corrupt: list[tuple[str, str]] | None = None) -> list[str]:
        return sorted(t["id"] for t in self.live_tasks(lane=lane).tasks)

    def read_new_tasks(self, task_ids: list[str], corrupt: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
        found = []
        for task_id in task_ids:
            try:
                found.append(self.effective_task(task_id))
            except NotFound:
                continue
        return found

    def lane_has_tasks(self, lane: str) -> bool:
        with self._lock:
            return any(r.task["lane"] == lane for r in (*self._tasks.values(), *self._archived.values()))

    def load(self, task_ids: Iterable[str], known: Mapping[str, Hashable] | None = None) -> Iterator[Loaded]:
        known = known or {}
        for task_id in task_ids:
            with self._lock:
                record = self._tasks.get(task_id)
                if record is None:
                    yield Loaded(task_id, None)
                    continue
                if known.get(task_id) == record.version:
                    yield Loaded(task_id, record.version, unchanged=True)
                    continue
                version, task = record.version, copy.deepcopy(record.task)
            yield Loaded(task_id, version, task=task)

    def export_tasks(self) -> Iterator[WholeTask]:
        with self._lock:  # live tasks, then archived ones, each in id order (as the other backends)
            records = [WholeTask(copy.deepcopy(r.task), copy.deepcopy(r.response), copy.deepcopy(r.events), archived)
                       for archived, held in ((False, self._tasks), (True, self._archived))
                       for _, r in sorted(held.items())]
        return iter(records)

    def import_task(self, record: WholeTask) -> bool:
        task_id = record_id(record)
        with self._lock:
            found = self._tasks.get(task_id) or self._archived.get(task_id)
            existing = None if found is None else WholeTask(found.task, found.response, found.events,
                                                              task_id in self._archived)
            if already_here(existing, record, self.location):
                return False
            stored = _Record(copy.deepcopy(record.task), copy.deepcopy(record.response), copy.deepcopy(record.events))
            (self._archived if record.archived else self._tasks)[task_id] = stored
        self._hub.changed(task_id, new=not record.archived)
        return True

    def summary_cache(self) -> None:
        return None  # the whole queue is in memory already

    # -- noticing changes ---------------------------------------------------------------------

    def task_feed(self) -> MemoryFeed:
        return MemoryFeed(self._hub)

    def watch(self, task_ids: Iterable[str] = (), *, new_tasks: bool = True) -> MemoryWatch:
        return MemoryWatch(self._hub, task_ids, new_tasks)

    # -- coordination (core's rules over records kept here) ------------------------------------

    def locks(self) -> LockTable:
        return LockTable(self._lock_records, self.presence(), clock=self.clock)

    def presence(self) -> Presence:
        return Presence(self._agent_records, clock=self.clock)

    def messages(self) -> MessageBox:
        return MessageBox(self._message_log, self.presence(), clock=self.clock)

    def journal(self) -> Journal:
        return Journal(self._journal_logs, clock=self.clock)

    def requests(self) -> RequestBook:
        return RequestBook(self._request_records, clock=self.clock, task_events=self._request_event)

    def _request_event(self, task_id: str, kind: str, message: str, data: dict[str, Any]) -> None:
        self.append_event(task_id, kind, message, data)

    def record_feed(self, kind: str) -> MemoryRecordFeed:
        return MemoryRecordFeed(self._kind_feeds[kind])

    def record_watch(self, kind: str) -> MemoryRecordFeed:
        return MemoryRecordFeed(self._kind_feeds[kind])

    # -- the supervisor and its workers' logs --------------------------------------------------

    def supervisor_registry(self) -> MemorySupervisorRegistry:
        return MemorySupervisorRegistry(self._supervisor, self.location)

    def supervisors(self) -> list[SupervisorStatus]:
        return supervisor_status(self._supervisor)

    def attempt_log_path(self, task_id: str, attempt: int) -> Path:
        """Worker output still goes to a file (a subprocess writes it): in `logs_dir`, or a private
        temporary folder made on first use."""
        validate_task_id(task_id)
        with self._lock:
            if self._logs_dir is None:
                self._logs_dir = Path(tempfile.mkdtemp(prefix="lanes-tui-memory-logs-"))
            return self._logs_dir / task_id / f"attempt-{attempt}.log"

    # -- upkeep ---------------------------------------------------------------------------------

    def sweep_temp_files(self) -> int:
        return 0  # nothing is ever half-written here

    # -- helpers -----------------------------------------------------------------------------------

    def _record(self, task_id: str) -> _Record:
        validate_task_id(task_id)
        record = self._tasks.get(task_id)
        if record is None:
            raise NotFound(f"unknown task: {task_id}")
        return record

    def _update(self, task_id: str) -> "_Update":
        return _Update(self, task_id)

    def _apply(self, record: _Record, change: Any) -> None:
        """Apply `change` (task -> Event) to a copy, then commit it: a refusal or error inside
        leaves the stored task as it was, as the file store's undo does."""
        task = copy.deepcopy(record.task)
        event = change(task)
        record.task = task
        self._record_event(record, event)

    def _record_event(self, record: _Record, event: Event) -> None:
        record.events.append(json.loads(json.dumps(event.to_wire(self.now()))))
        record.version += 1


class _Update:
    """One task's read-modify-write under the backend's mutex; watchers hear of it afterwards."""

    def __init__(self, backend: MemoryBackend, task_id: str) -> None:
        self._backend = backend
        self._task_id = task_id

    def __enter__(self) -> _Record:
        self._backend._lock.acquire()
        try:
            self._recorded = self._backend._record(self._task_id)
        except BaseException:
            self._backend._lock.release()
            raise
        self._version = self._recorded.version
        return self._recorded

    def __exit__(self, *exc: object) -> None:
        changed = self._recorded.version != self._version
        self._backend._lock.release()
        if changed:
            self._backend._hub.changed(self._task_id)

