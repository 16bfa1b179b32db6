"""The engine service: one queue, optionally supervised, as the dashboard and `--no-ui` see it.

An `Engine` is built by `lanes_tui.wiring` (config -> backend -> engine -> app) for the
dashboard, `--no-ui`, `demo`, the snapshot scenes and the screenshots alike. It runs the
`Supervisor` (or, watch-only, just the index and its change feed: the same load-then-follow
path, `feed.load_and_arm`) and keeps the read models a screen needs: one row per task,
per-lane figures, totals, and a capped, sanitised transcript per worker. It tells its
subscribers *that* something changed (`EngineChanged`: which task ids, and the supervisor
event if one caused it); they pull the rows they show. Nothing above it writes the queue:
the actions here (submit, cancel, break, retry, pause, cap, locks, messages) take the acting
identity, go through the backend's verbs and so leave the events agent-lanes clients read.

Agent-written text enters here and is sanitised here (core.sanitize), once:
transcripts, activity, reasons and owners are plain, safe strings afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import getpass
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable

from lanes_tui.core.clock import parse_ts
from lanes_tui.core.errors import ConfigError, LanesError
from lanes_tui.core.handoff import RuntimeConfig
from lanes_tui.core.hosts import this_host
from lanes_tui.core.locks import LockRecord, LockState, LockTable
from lanes_tui.core.messages import Message, MessageBox
from lanes_tui.core.presence import STATUSES, AgentState, Presence
from lanes_tui.core.request_files import response_file_state
from lanes_tui.core.requests import InputRequest
from lanes_tui.core.sanitize import one_line
from lanes_tui.core.states import (
    CANCELLED,
    CLAIMED,
    COMPLETED,
    FAILED,
    QUEUED,
    attempts_of,
)
from lanes_tui.core.supervisors import SupervisorStatus, host_of
from lanes_tui.core.titles import failure_summary
from lanes_tui.engine import events as ev
from lanes_tui.engine.agent_tools_server import agent_tools_command
from lanes_tui.engine.attempt_transcript import TaskTranscript
from lanes_tui.engine.feed import follow, load_and_arm
from lanes_tui.engine.index import IndexChange, TaskIndex, TaskSummary
from lanes_tui.engine.pending_requests import PendingRequests, RequestsChanged
from lanes_tui.engine.submitting import SubmitForm, submit_form
from lanes_tui.engine.supervisor import Supervisor
from lanes_tui.engine.task_git import changes_text
from lanes_tui.settings import LaneMode, Settings
from lanes_tui.vendors.runcheck import check_run_metadata

if TYPE_CHECKING:
    from lanes_tui.engine.merging import MergeOutcome, MergeTarget
    from lanes_tui.engine.task_git import BranchDiff
    from lanes_tui.storage.base import Backend, RecordChanges, TaskChanges

TRANSCRIPT_LINES = 2000  # per task; older lines are dropped (the full log is on disk)
THROUGHPUT_WINDOW = timedelta(minutes=10)
DEPENDENCY_WAIT = "waiting for dependency"  # the supervisor's TaskWaiting reason for depends_on
ACKNOWLEDGED = "acknowledged"  # the task event an operator's `x` appends: its problem was seen
# A finished task whose last event is one of these was dealt with: retried as a new task, or
# acknowledged. It no longer needs attention, in this dashboard or any other on the queue.
HANDLED_EVENTS = frozenset({ACKNOWLEDGED, "requeued"})
DETAIL_TAIL_BYTES = 256 << 10  # of each attempt log, for the detail pane's last lines
ANSWER_FACTS_LOADED_AT_START = 1000  # the newest completed tasks whose answers are read at start


@dataclass(frozen=True)
class RunFacts:
    """What a completed task's answer says about its run (response.json's metadata): what a
    later session, or a watch-only one, shows instead of what it never saw run."""

    vendor: str
    model: str
    effort: str
    tokens_in: int
    tokens_out: int
    cost_usd: float | None

    @classmethod
    def of(cls, metadata: Any) -> RunFacts | None:
        if not isinstance(metadata, dict) or not any(k in metadata for k in ("vendor", "model_used", "tokens_in")):
            return None  # an answer recorded by another client (agent-lanes' respond): nothing to say

        def text(key: str) -> str:
            value = metadata.get(key)
            return value if isinstance(value, str) else ""

        def count(key: str) -> int:
            value = metadata.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0

        cost = metadata.get("cost_usd")
        cost = float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0 else None
        return cls(text("vendor"), text("model_reported") or text("model_used"), text("effort_used"),
                   count("tokens_in"), count("tokens_out"), cost)


@dataclass(frozen=True)
class GitFacts:
    """A completed task's branch (its answer's `git`) and its `merged` event, if any."""

    git: dict[str, Any]
    merged: dict[str, Any] | None

    @property
    def changes(self) -> str:
        return changes_text(self.git, self.merged is not None)


@dataclass(frozen=True)
class EngineChanged:
    """Something changed: these task ids (empty: only totals/lanes), and why if a supervisor event."""

    task_ids: frozenset[str] = frozenset()
    event: ev.SupervisorEvent | None = None
    drained_lanes: frozenset[str] = frozenset()  # lanes whose last queued or claimed task just finished
    requests_changed: bool = False  # the open requests for a person are not what they were
    requests_arrived: tuple[InputRequest, ...] = ()  # ... and these are new (ring for them)


@dataclass(frozen=True)
class TranscriptLine:
    kind: str  # activity | usage | status | error
    text: str  # sanitised, one line
    at: float  # time.time()
    seq: int  # 1, 2, ... per task, across attempts (lines past TRANSCRIPT_LINES are dropped)


# Not frozen: the first frame builds 10,000 of these and a frozen init costs twice as much.
# Rows are still treated as values (replaced, never changed in place; hashable).
@dataclass(slots=True, unsafe_hash=True)
class TaskRow:
    id: str
    lane: str
    state: str
    vendor: str
    model: str
    effort: str
    owner: str
    created_at: datetime | None
    lease_expires_at: datetime | None
    attempts: int | None
    activity: str
    cost_usd: float | None
    reason: str  # failure reason, why it waits, or what needs attention; sanitised
    ours: bool  # one of our workers runs it
    attention: bool
    permissions: str = "read-only"  # the preset it runs (or would run) with
    changes: str = ""  # what its branch holds: "+12 -3", "no edits", "merged"; "" without a branch
    title: str = ""  # metadata.title or the prompt's first line; sanitised
    prompt_head: str = ""  # the prompt's start, raw: only matched by filter words, never drawn
    asking: int = 0  # its agent's open questions and permission requests: it needs input


@dataclass(frozen=True)
class LaneRow:
    name: str
    mode: str  # internal | external | hybrid | watch (watch-only engine)
    queued: int
    running: int
    oldest_queued_at: datetime | None
    done_recently: int  # completed within THROUGHPUT_WINDOW
    paused: bool
    permissions: str = "read-only"  # the lane's preset; "trusted" is shown as such
    completed: int = 0  # all the lane's tasks the index holds, not only recent ones
    failed: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None


@dataclass(frozen=True)
class VendorRow:
    name: str
    running: int
    completed: int
    failed: int
    tokens_in: int
    tokens_out: int
    cost_usd: float | None


@dataclass(frozen=True)
class Usage:
    """What runs of a task spent (a vendor's or a lane's sum, with `plus`)."""

    vendor: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None

    def plus(self, vendor: str, tokens_in: int, tokens_out: int, cost_usd: float | None) -> "Usage":
        cost = self.cost_usd if cost_usd is None else (self.cost_usd or 0.0) + cost_usd
        return Usage(self.vendor or vendor, self.tokens_in + tokens_in, self.tokens_out + tokens_out, cost)


@dataclass(frozen=True)
class Totals:
    counts: dict[str, int]
    workers: int
    cap: int | None  # None: watch-only
    tokens_in: int
    tokens_out: int
    cost_usd: float | None
    attention: int
    needs_input: int = 0  # open requests for a person (questions, blockers, permissions)
    notifier_degraded: str | None = None  # why changes are found by polling now (a shared queue's feed)


@dataclass
class _Worker:
    vendor: str = ""
    model: str = ""
    effort: str = ""
    attempt: int = 0
    activity: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None
    permissions: str = ""
    attention: str = ""  # why a completed run needs a look (denied tool calls), sanitised
    transcript: deque[TranscriptLine] = field(default_factory=lambda: deque(maxlen=TRANSCRIPT_LINES))
    seq: int = 0

    def add(self, kind: str, text: str) -> None:
        self.seq += 1
        self.transcript.append(TranscriptLine(kind, one_line(text, 2000), time.time(), self.seq))


class Engine:
    def __init__(
        self,
        store: Backend,
        settings: Settings,
        *,
        config: RuntimeConfig | None = None,
        watch_only: bool = False,
        drain: bool = False,
        claim: bool = True,
        operator: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.config = config
        self.watch_only = watch_only
        self.operator = operator or default_operator()
        self._subscribers: list[Callable[[EngineChanged], None]] = []
        self._observers: list[Callable[[ev.SupervisorEvent], None]] = []
        self.supervisor: Supervisor | None = None if watch_only else Supervisor(
            store, settings, emit=self._on_event, drain=drain,
            tools_command=agent_tools_command(store, config, settings))
        self.index: TaskIndex = self.supervisor.index if self.supervisor else TaskIndex(store)
        if self.supervisor:
            self.supervisor.index_listeners.append(self._on_index_change)
            self.supervisor.hold_listeners.append(lambda ids: self._notify(EngineChanged(ids)))
        # claim=False: a supervising engine whose supervisor is never started (it claims nothing);
        # what its screens show comes from `replay`. The snapshot scenes and screenshots use it.
        self._claim = claim
        self._ours: set[str] = set()  # tasks our workers run: WorkerStarted .. WorkerFinished
        self._workers: dict[str, _Worker] = {}
        self._waiting: dict[str, str] = {}
        self._attempts: dict[str, int] = {}
        self._handled: set[str] = set()  # finished tasks retried or acknowledged (HANDLED_EVENTS)
        self._git: dict[str, GitFacts] = {}  # completed isolated tasks: their branch, and whether merged
        self._runs: dict[str, RunFacts] = {}  # completed tasks: what their answers say of the run
        self._answers_read: set[str] = set()  # completed tasks whose answer facts were read (found or not)
        self._feed: TaskChanges | None = None
        self._follower: asyncio.Task[None] | None = None
        self.pending = PendingRequests()  # what waits for a person (followed from start)
        self._request_follower: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self._active_lanes: set[str] = set()

    # -- subscribing -------------------------------------------------------------------

    def subscribe(self, listener: Callable[[EngineChanged], None]) -> Callable[[], None]:
        """Call `listener` on every change; returns the function that unsubscribes it."""
        self._subscribers.append(listener)

        def unsubscribe() -> None:
            if listener in self._subscribers:
                self._subscribers.remove(listener)

        return unsubscribe

    def replay(self, events: Iterable[ev.SupervisorEvent]) -> None:
        """Take in supervisor events as if this engine's supervisor had emitted them (a recorded
        run, shown by an engine built with claim=False)."""
        if self.supervisor is None:
            raise LanesError("watch-only: this engine has no supervisor to replay")
        for event in events:
            self.supervisor.emit(event)

    def observe(self, observer: Callable[[ev.SupervisorEvent], None]) -> None:
        """Also hand every supervisor event to `observer`, as it happens (`--no-ui` prints them)."""
        self._observers.append(observer)

    # -- lifecycle -------------------------------------------------------------------

    async def start(self, on_loaded: Callable[[], Awaitable[None]] | None = None) -> None:
        """Take the queue (one supervisor per queue) and load the index; raises ConflictError.

        `on_loaded` runs as soon as the index holds the queue (see feed.load_and_arm)."""
        if self.supervisor is not None and self._claim:
            await self.supervisor.start(on_loaded)
        else:
            self._feed = await load_and_arm(self.index, self.store, on_loaded)
            self._follower = asyncio.create_task(follow(self.index, self._feed, self._on_index_change))
        self._count_attempts_later([s.id for s in self.index.tasks()])
        self._load_answer_facts_later(self._newest_completed(ANSWER_FACTS_LOADED_AT_START))
        self._drained()  # remember which lanes have work, so the first drain is noticed
        self._request_follower = asyncio.create_task(self.pending.follow(self.store, self._on_requests))

    async def run(self) -> None:
        """Until stopped. The supervisor's run winds its workers down before returning."""
        try:
            if self.supervisor is not None and self._claim:
                await self.supervisor.run()
            else:
                await self._stopped.wait()
                if self._feed is not None:
                    self._feed.close()
                if self._follower is not None:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await asyncio.wait_for(self._follower, 5)
        finally:
            self._stopped.set()
            if self._request_follower is not None:
                self._request_follower.cancel()

    def request_stop(self, reason: str, *, grace: float | None = None) -> None:
        """Stop claiming; workers get `grace` seconds (math.inf: until they finish) then stop."""
        if self.supervisor is not None:
            self.supervisor.request_stop(reason, grace=grace)
        self._stopped.set()

    def close(self) -> None:
        """The embedding app is going away: stop the change feed's thread now."""
        self._stopped.set()
        if self._request_follower is not None:
            self._request_follower.cancel()
        if self._feed is not None:
            self._feed.close()
        if self.supervisor is not None and self._claim:
            self.supervisor.close_feed()

    def stop_workers_now(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop_workers_now()

    def abandon_now(self, reason: str) -> list[str]:
        """When the event loop is gone or going (the UI crashed, the terminal closed) and the
        supervisor did not wind down: kill our worker groups now and release their claims with
        `reason`, synchronously. Returns the task ids whose workers were killed."""
        if self.supervisor is not None and self.supervisor.registry.holds_lock:
            return self.supervisor.abandon_now(reason)
        return []

    # -- the supervisor's state, for screens and summaries -------------------------------

    @property
    def supervising(self) -> bool:
        return self.supervisor is not None

    @property
    def global_cap(self) -> int | None:
        """How many workers may run at once (None: watch-only)."""
        return self.supervisor.global_cap if self.supervisor else None

    @property
    def paused_lanes(self) -> frozenset[str]:
        return self.supervisor.paused_lanes if self.supervisor else frozenset()

    def exit_code(self, *, interrupted: bool) -> int:
        """What `--no-ui` exits with after this run (engine/headless.py)."""
        from lanes_tui.engine.headless import exit_code

        return exit_code(self._require_supervisor(), interrupted)

    def summary(self, code: int) -> dict[str, Any]:
        """The run's summary: every task it ran, what waits and why, totals (`--summary`)."""
        from lanes_tui.engine.headless import summary_of

        return summary_of(self._require_supervisor(), code)

    def _require_supervisor(self) -> Supervisor:
        if self.supervisor is None:
            raise LanesError("watch-only: this engine runs no workers")
        return self.supervisor

    # -- reading ---------------------------------------------------------------------

    def row(self, task_id: str) -> TaskRow | None:
        summary = self.index.get(task_id)
        return self._row(summary) if summary is not None else None

    def rows(self) -> list[TaskRow]:
        return [self._row(s) for s in self.index.tasks()]

    def corrupt(self) -> dict[str, str]:
        return {task_id: one_line(reason, 300) for task_id, reason in self.index.corrupt.items()}

    def transcript(self, task_id: str) -> list[TranscriptLine]:
        worker = self._workers.get(task_id)
        return list(worker.transcript) if worker else []

    def running_ids(self) -> list[str]:
        return sorted(self._ours)

    def overview(self) -> tuple[Totals, list[LaneRow], list[VendorRow]]:
        """The header's totals, the lanes and the vendors, from one reckoning of what runs spent
        (the dashboard redraws all three on every change)."""
        usage = self.usage()
        return self.totals(usage), self.lanes(usage), self.vendors(usage)

    def lanes(self, usage: dict[str, Usage] | None = None) -> list[LaneRow]:
        now = self.store.now()
        recent = now - THROUGHPUT_WINDOW
        found: dict[str, dict[str, Any]] = {}
        names = set(self.config.lanes) if self.config else set()
        usage = self.usage() if usage is None else usage

        def fresh() -> dict[str, Any]:
            return {"queued": 0, "running": 0, "oldest": None, "done": 0, COMPLETED: 0, FAILED: 0, "usage": Usage()}

        for name in names:
            found[name] = fresh()
        for summary in self.index.summaries():
            lane = found.setdefault(summary.lane, fresh())
            spent = usage.get(summary.id)
            if spent is not None:
                lane["usage"] = lane["usage"].plus("", spent.tokens_in, spent.tokens_out, spent.cost_usd)
            if summary.state in (COMPLETED, FAILED):
                lane[summary.state] += 1
            if summary.state == QUEUED:
                lane["queued"] += 1
                created = _ts(summary.created_at)
                if created is not None and (lane["oldest"] is None or created < lane["oldest"]):
                    lane["oldest"] = created
            elif summary.state == CLAIMED:
                lane["running"] += 1
            elif summary.state == COMPLETED:
                updated = _ts(summary.updated_at)
                if updated is not None and updated >= recent:
                    lane["done"] += 1
        paused = self.supervisor.paused_lanes if self.supervisor else frozenset()
        return [
            LaneRow(one_line(name, 64), "watch" if self.watch_only else str(self.settings.lane(name).mode), data["queued"],
                    data["running"], data["oldest"], data["done"], name in paused, self.settings.lane(name).permissions,
                    completed=data[COMPLETED], failed=data[FAILED], tokens_in=data["usage"].tokens_in,
                    tokens_out=data["usage"].tokens_out, cost_usd=data["usage"].cost_usd)
            for name, data in sorted(found.items())
        ]

    def usage(self) -> dict[str, Usage]:
        """Tokens and cost per task: this session's runs (every attempt), what the answers of
        earlier ones recorded, and what running attempts used so far."""
        found: dict[str, Usage] = {}
        records = self.supervisor.records if self.supervisor else {}
        for task_id, record in records.items():
            found[task_id] = Usage(record.vendor or "", record.tokens_in, record.tokens_out, record.cost_usd)
        for task_id, run in self._runs.items():  # answered before this session, or elsewhere
            if task_id not in records:  # this session's record counts every attempt, the answer only the last
                found[task_id] = Usage(run.vendor, run.tokens_in, run.tokens_out, run.cost_usd)
        for task_id in self._ours:  # what running attempts used so far
            worker = self._workers.get(task_id)
            if worker is not None:
                found[task_id] = found.get(task_id, Usage(worker.vendor)).plus(
                    worker.vendor, worker.tokens_in, worker.tokens_out, worker.cost_usd)
        return found

    def totals(self, usage: dict[str, Usage] | None = None) -> Totals:
        counts = self.index.counts()
        spent = (self.usage() if usage is None else usage).values()
        costs = [u.cost_usd for u in spent if u.cost_usd is not None]
        attention = sum(1 for s in self.index.summaries() if self._needs_attention(s)) + len(self.index.corrupt)
        return Totals(
            counts=counts,
            workers=len(self._ours) if self.supervisor else counts.get(CLAIMED, 0),
            cap=self.supervisor.global_cap if self.supervisor else None,
            tokens_in=sum(u.tokens_in for u in spent),
            tokens_out=sum(u.tokens_out for u in spent),
            cost_usd=round(sum(costs), 6) if costs else None,
            attention=attention,
            needs_input=len(self.pending.open),
            notifier_degraded=self.notifier_degraded(),
        )

    def vendors(self, usage: dict[str, Usage] | None = None) -> list[VendorRow]:
        """Per vendor that ran something: running, done, failed, tokens and cost."""
        usage = self.usage() if usage is None else usage
        found: dict[str, dict[str, Any]] = {}
        for task_id, spent in usage.items():  # the tasks that ran: not a pass over all of them
            summary = self.index.get(task_id)
            vendor = spent.vendor
            if summary is None or not vendor:
                continue  # gone (archived), or an answer that names no vendor: nobody to count it for
            data = found.setdefault(vendor, {"running": 0, COMPLETED: 0, FAILED: 0, "usage": Usage(vendor)})
            if summary.state == CLAIMED:
                data["running"] += 1
            elif summary.state in (COMPLETED, FAILED):
                data[summary.state] += 1
            data["usage"] = data["usage"].plus(vendor, spent.tokens_in, spent.tokens_out, spent.cost_usd)
        return [VendorRow(_label(name, 32), d["running"], d[COMPLETED], d[FAILED], d["usage"].tokens_in,
                          d["usage"].tokens_out, d["usage"].cost_usd) for name, d in sorted(found.items())]

    def location(self) -> str:
        """Where this queue is, for a header: `<workspace>/handoff/state` when the store is
        inside the workspace (short, and the same wherever the workspace lives), else its path."""
        where = self.store.location
        if self.config is not None:
            try:
                return str(Path(self.config.workspace_root.name) / Path(where).relative_to(self.config.workspace_root))
            except ValueError:
                pass
        return where

    def task_transcript(self, task_id: str, *, first_attempt: int = 1) -> TaskTranscript:
        """The task's transcript as its attempt logs hold it (read with `update`, in a thread)."""
        return TaskTranscript(self.store.attempt_log_path(task_id, 1), first_attempt=first_attempt)

    def task_detail(self, task_id: str, *, transcript_tail: int = 0) -> dict[str, Any]:
        """task.json, the last events, the answer and whether its file is written, and with
        `transcript_tail` the last lines of its transcript from the attempt logs (for a worker
        this session never ran: before a restart, in watch-only mode, another supervisor's).
        Blocking: call in a thread."""
        task = self.store.effective_task(task_id)
        events = self.store.read_events(task_id, limit=200).events
        response = self.store.read_response(task_id)
        metadata = response.get("metadata") if isinstance(response, dict) else None
        body = response.get("body") if isinstance(response, dict) else None
        answer = body if isinstance(body, str) else None
        tail: list[str] = []
        if transcript_tail > 0:
            # A few hundred lines are at the end: the last 256 KB, not the log screen's 4 MB.
            tail = TaskTranscript(self.store.attempt_log_path(task_id, 1),
                                  tail_bytes=DETAIL_TAIL_BYTES).update()[-transcript_tail:]
        return {"task": task, "events": events, "response_exists": response is not None,
                "response_metadata": metadata if isinstance(metadata, dict) else {},
                "answer": answer, "response_file": response_file_state(task, answer), "transcript_tail": tail}

    # -- operator actions ---------------------------------------------------------------

    async def submit(self, form: SubmitForm, *, by: str | None = None) -> dict[str, Any]:
        if self.config is None:
            raise ConfigError("submitting needs the queue's handoff.yaml (--config)")
        task = await asyncio.to_thread(submit_form, self.store, self.config, form, source_agent=by or self.operator,
                                       check=self._check_runnable)
        self._refresh([task["id"]])
        return task

    def _check_runnable(self, lane: str, metadata: dict[str, Any]) -> None:
        check_run_metadata(self.settings.vendors, lane=lane, lane_preset=self.settings.lane(lane).permissions,
                           metadata=metadata, default_vendor=self.settings.default_vendor)

    async def cancel(self, task_id: str, reason: str = "cancelled from the dashboard", *, by: str | None = None) -> None:
        by = by or self.operator
        if self.supervisor is not None:
            await self.supervisor.stop_worker(task_id, f"cancelled by {by}")
        try:
            await asyncio.to_thread(self.store.cancel, task_id, by=by, reason=reason)
        finally:
            self._refresh([task_id])

    async def break_claim(self, task_id: str, reason: str, *, by: str | None = None) -> bool:
        """Kill our worker first (if it is ours), then force-release; True if a worker was stopped."""
        by = by or self.operator
        stopped = False
        if self.supervisor is not None:
            stopped = await self.supervisor.stop_worker(task_id, f"claim broken by {by}: {reason}")
        try:
            await asyncio.to_thread(self.store.break_claim, task_id, by=by, reason=reason)
        finally:
            self._refresh([task_id])
        return stopped

    async def retry(self, task_id: str, overrides: dict[str, str] | None = None, *,
                    by: str | None = None) -> dict[str, Any]:
        """A failed task submitted again (requeue), optionally with another vendor/model/effort."""
        def requeue() -> dict[str, Any]:
            original = self.store.read_task(task_id)
            self._check_runnable(str(original.get("lane") or ""), {**(original.get("metadata") or {}), **(overrides or {})})
            return self.store.requeue(task_id, by=by or self.operator, metadata_overrides=overrides or {})

        new = await asyncio.to_thread(requeue)
        self._handled.add(task_id)  # retried: the new task carries on, the old one needs nobody
        self._refresh([task_id, new["id"]])
        return new

    async def acknowledge(self, task_id: str, *, by: str | None = None) -> bool:
        """The operator saw what went wrong with a finished task: an `acknowledged` event on it, so
        it stops counting as needing attention here and in every dashboard on the queue (the
        events are the queue's, not this process's). False when it needed no attention."""
        summary = self.index.get(task_id)
        if summary is None or summary.state not in (FAILED, COMPLETED) or not self._needs_attention(summary):
            return False
        by = by or self.operator
        await asyncio.to_thread(self.store.append_event, task_id, ACKNOWLEDGED,
                                f"{by} acknowledged it: no longer needs attention", {"by": by})
        self._handled.add(task_id)
        self._notify(EngineChanged(frozenset({task_id})))
        return True

    def pause_lane(self, lane: str) -> bool:
        """Toggle claiming on `lane`; True when it is paused now."""
        if self.supervisor is None:
            raise LanesError("watch-only: this dashboard does not claim tasks")
        if lane in self.supervisor.paused_lanes:
            self.supervisor.resume_lane(lane)
            paused = False
        else:
            self.supervisor.pause_lane(lane)
            paused = True
        self._notify(EngineChanged())
        return paused

    def set_cap(self, cap: int) -> int:
        if self.supervisor is None:
            raise LanesError("watch-only: this dashboard runs no workers")
        cap = self.supervisor.set_global_cap(cap)
        self._notify(EngineChanged())
        return cap

    # -- a task's branch (worktree isolation) ------------------------------------------------

    @property
    def loading(self) -> bool:
        """Facts are still being read in the background (attempt counts, branch facts)."""
        return bool(self._background)

    def git_facts(self, task_id: str) -> GitFacts | None:
        return self._git.get(task_id)

    async def branch_diff(self, task_id: str) -> BranchDiff:
        """Base to tip of the task's branch, sanitised and bounded (engine/task_git.py)."""
        from lanes_tui.engine.task_git import branch_diff

        return await asyncio.to_thread(branch_diff, self.store, task_id)

    async def merge_target(self, task_id: str, *, into: str | None = None) -> MergeTarget:
        """What merging the task's branch would do (nothing is changed); LanesError if it cannot."""
        from lanes_tui.engine.merging import plan_task_merge

        return await asyncio.to_thread(plan_task_merge, self.store, self.settings, task_id, into=into)

    async def merge(self, target: MergeTarget, *, by: str | None = None) -> MergeOutcome:
        """Carry out a planned merge (its lane's verify commands first, their output in the
        task's transcript); MergeConflict, VerifyFailed or GitError change nothing."""
        from lanes_tui.engine.merging import merge_task

        worker = self._workers.setdefault(target.task_id, _Worker())
        output = bytearray()
        try:
            outcome = await asyncio.to_thread(merge_task, self.store, self.settings, target,
                                              by=by or self.operator, log=output.extend)
        finally:
            for line in bytes(output).decode("utf-8", "replace").splitlines()[-200:]:
                worker.add("status", one_line(line, 500))
        facts, _ = await asyncio.to_thread(self._read_answer_facts, [target.task_id])
        self._git.update(facts)
        worker.add("status", f"merged {outcome.branch} into {one_line(outcome.into, 80)} ({outcome.how})")
        self._notify(EngineChanged(frozenset({target.task_id})))
        return outcome

    # -- advisory file locks ------------------------------------------------------------------

    def lock_table(self) -> LockTable:
        return self.store.locks()

    async def lock_states(self) -> list[LockState]:
        return sorted(await asyncio.to_thread(self.lock_table().states), key=lambda s: s.record.key)

    async def break_file_lock(self, key: str, reason: str, *, by: str | None = None) -> LockRecord:
        """An operator removes an agent's lock; the `broken` event records who and why."""
        return await asyncio.to_thread(self.lock_table().break_lock, key, by=by or self.operator, reason=reason)

    # -- requests for a person ----------------------------------------------------------------

    def pending_requests(self) -> tuple[InputRequest, ...]:
        """What waits for a person now, oldest first (questions, blockers, permission requests)."""
        return self.pending.open

    async def refresh_requests(self) -> tuple[InputRequest, ...]:
        """Re-read what waits for a person now (a screen that follows the requests folder)."""
        change = self.pending.update(await asyncio.to_thread(self.store.requests().pending))
        if change:
            self._on_requests(change)
        return self.pending.open

    async def answer_request(self, request_id: str, decision: str, reply: str = "", *,
                             by: str | None = None) -> InputRequest:
        """Answer as the operator; RequestClosed if it was answered, expired or closed meanwhile.
        The list is re-read at once: the answer shows without waiting for the folder's feed."""
        try:
            return await asyncio.to_thread(self.store.requests().answer, request_id, decision=decision,
                                           reply=reply, by=by or self.operator)
        finally:
            with contextlib.suppress(LanesError, OSError):
                await self.refresh_requests()

    def _on_requests(self, change: RequestsChanged) -> None:
        self._notify(EngineChanged(change.task_ids, requests_changed=True, requests_arrived=change.arrived))

    # -- agents and messages ----------------------------------------------------------------

    def presence(self) -> Presence:
        return self.store.presence()

    def record_feed(self, kind: str) -> RecordChanges:
        """A feed of changes to the locks, agents or messages (blocking to arm: call in a thread)."""
        return self.store.record_feed(kind)

    def message_box(self) -> MessageBox:
        return self.store.messages()

    # -- hosts ----------------------------------------------------------------------------------

    async def supervisors(self) -> list[SupervisorStatus]:
        """Every supervisor of the queue (one per host on a shared queue), as the store knows it."""
        return await asyncio.to_thread(self.store.supervisors)

    def claim_elsewhere(self, task: dict[str, Any]) -> str:
        """When another host holds `task`'s claim: who, and when it will notice a break ("" when
        the claim is this host's). Blocking (reads the supervisors): call it off the event loop."""
        from lanes_tui.engine.remote_claims import elsewhere_note

        owner = task.get("claim_owner")
        if not owner or host_of(str(owner)) in (None, this_host()):
            return ""
        renew = self.settings.lane(str(task.get("lane") or "")).renew_seconds
        return elsewhere_note(str(owner), self.store.supervisors(), renew)

    def _task_feed(self) -> TaskChanges | None:
        if self.supervisor is not None and self._claim:
            return self.supervisor._feed
        return self._feed

    def notifier(self) -> str | None:
        """How this process hears of changes to the queue, when its feed says (a shared queue's:
        LISTEN/NOTIFY, polling, degraded); None for a feed that has only one way."""
        return getattr(self._task_feed(), "mode", None)

    def notifier_degraded(self) -> str | None:
        """Why the feed cannot rely on notifications now (it polls meanwhile), or None."""
        return getattr(self._task_feed(), "degraded", None)

    async def agent_states(self) -> list[AgentState]:
        """Every registered agent: active first, then idle, then offline; by id within each."""
        states = await asyncio.to_thread(self.presence().agents)
        return sorted(states, key=lambda s: (STATUSES.index(s.status), s.record.id))

    async def recent_messages(self, limit: int = 200) -> list[Message]:
        """The last `limit` messages to anyone, newest last; marks nothing read."""
        return await asyncio.to_thread(self.message_box().recent, limit)

    async def send_message(self, to: str, body: str, *, by: str | None = None) -> Message:
        """Send as the operator (`operator:...`). Core accepts that sender; only the CLI keeps
        agents from taking the prefix, so a person's words cannot be forged by an agent there.
        Bad addresses and bodies raise InvalidInput (a LanesError)."""
        return await asyncio.to_thread(self.message_box().send, by or self.operator, to, body)

    # -- inside ------------------------------------------------------------------------

    def _row(self, s: TaskSummary) -> TaskRow:
        worker = self._workers.get(s.id)
        ours = s.id in self._ours
        record = self.supervisor.records.get(s.id) if self.supervisor else None
        reason = s.failure_reason or self._waiting.get(s.id) or (worker.attention if worker else "") or ""
        asking = self.pending.holding(s.id) if self.pending.open else ()
        if asking and s.state == CLAIMED:
            reason = f"needs input: {asking[0].kind} {asking[0].id}: {asking[0].text}"
        if not reason and s.state == QUEUED:
            reason = self._why_queued(s)
        if s.needs_repair:
            reason = "answered but task.json not rolled forward"
        cost = record.cost_usd if record and record.cost_usd is not None else None
        if ours and worker is not None and worker.cost_usd is not None:
            cost = (cost or 0.0) + worker.cost_usd
        run = self._runs.get(s.id) if worker is None or not worker.vendor else None
        if cost is None and run is not None:
            cost = run.cost_usd
        # What the worker saw, else what the answer recorded, else what the task asks
        # (10,000 rows per first frame: the common case, no worker, takes the short way).
        if worker is None:
            vendor = run.vendor if run and run.vendor else s.required_vendor
            model = run.model if run and run.model else s.model_class or ""
            effort = run.effort if run and run.effort else s.effort or ""
            permissions = self.settings.lane(s.lane).permissions
        else:
            vendor = worker.vendor or (run.vendor if run and run.vendor else s.required_vendor)
            model = worker.model or (run.model if run and run.model else s.model_class or "")
            effort = worker.effort or (run.effort if run and run.effort else s.effort or "")
            permissions = worker.permissions or self.settings.lane(s.lane).permissions
        git = self._git.get(s.id)
        return TaskRow(
            id=s.id,
            lane=_label(s.lane, 64),
            state=s.state,
            vendor=_label(vendor, 32),
            model=_label(model, 48) if model else "",
            effort=_label(effort, 16) if effort else "",
            owner=_label(s.claim_owner, 80) if s.claim_owner else "",
            created_at=_ts(s.created_at),
            lease_expires_at=_ts(s.lease_expires_at) if s.state == CLAIMED else None,
            attempts=self._attempts.get(s.id),
            activity=worker.activity if worker and ours else "",
            cost_usd=cost,
            reason=one_line(reason, 300) if reason else "",
            ours=ours,
            attention=self._needs_attention(s),
            permissions=permissions,
            changes=git.changes if git is not None else "",
            title=s.title,
            prompt_head=s.prompt_head,
            asking=len(asking) if s.state == CLAIMED else 0,
        )

    def _why_queued(self, s: TaskSummary) -> str:
        """Why a queued task is not running yet, when no problem is known: what holds it here
        (a busy slot, a backoff, a paused lane), or who else would run it."""
        if self.supervisor is None:
            return ""  # watch-only: what holds it is known to the supervisor serving its lane
        held = self.supervisor.held.get(s.id)
        if held:
            return held
        mode = self.settings.lane(s.lane).mode
        if mode == LaneMode.EXTERNAL:
            return "external lane: for another dispatcher (agent-lanes wait --claim)"
        return ""

    def _needs_attention(self, s: TaskSummary) -> bool:
        if s.needs_repair:
            return True
        if s.state == FAILED:
            # A cancel is someone's decision, not a problem; a retried or acknowledged failure
            # was dealt with.
            return s.failure_reason != CANCELLED and s.id not in self._handled
        worker = self._workers.get(s.id)
        if s.state == COMPLETED and worker is not None and worker.attention:
            return s.id not in self._handled  # answered, but tool calls were denied: someone should look
        if s.state == QUEUED and s.id in self._waiting:
            # stale input, no usable vendor, a rate-limited vendor; a dependency still
            # running is the plan working, not a problem.
            return not self._waiting[s.id].startswith(DEPENDENCY_WAIT)
        if s.state == CLAIMED and s.lease_expires_at:
            expiry = _ts(s.lease_expires_at)
            return expiry is not None and expiry <= self.store.now()
        return False

    def _on_event(self, event: ev.SupervisorEvent) -> None:
        for observer in self._observers:
            observer(event)
        ids: frozenset[str] = frozenset()
        task_id = getattr(event, "task_id", None)
        if task_id is not None:
            ids = frozenset({task_id})
            worker = self._workers.setdefault(task_id, _Worker())
            if isinstance(event, ev.WorkerFinished):
                self._ours.discard(task_id)
                if not worker.transcript:
                    self._workers.pop(task_id, None)  # it never started: keep no empty transcript
            elif isinstance(event, ev.WorkerStarted):
                self._ours.add(task_id)
                worker.vendor, worker.model, worker.effort = event.vendor, event.model, event.effort or ""
                worker.attempt, worker.activity, worker.permissions = event.attempt, "starting", event.permissions
                worker.tokens_in = worker.tokens_out = 0
                worker.cost_usd = None
                worker.attention = ""
                self._count_attempts_later([task_id])  # its claim is written: counted as TRY counts
                self._waiting.pop(task_id, None)
                effort = f"effort {event.effort}" if event.effort else "default effort"
                worker.add("status", f"attempt {event.attempt}: {event.vendor} {event.model} ({effort}), "
                                     f"{event.permissions}, pid {event.pid}")
            elif isinstance(event, ev.WorkerActivity):
                worker.activity = one_line(event.text, 200)
                worker.add("activity", event.text)
            elif isinstance(event, ev.WorkerUsage):
                worker.tokens_in, worker.tokens_out, worker.cost_usd = event.tokens_in, event.tokens_out, event.cost_usd
                cost = ""
                if event.cost_usd is not None:
                    cost = f", {'~' if event.cost_estimated else ''}${event.cost_usd:.4f}"
                worker.add("usage", f"tokens {event.tokens_in} in / {event.tokens_out} out{cost}")
            elif isinstance(event, ev.WorkerApiRetry):
                worker.activity = one_line(event.text, 200)  # "API 429, retry 3/10 in 8 s", live on the row
                worker.add("error", event.text)
            elif isinstance(event, ev.WorkerDenied):
                worker.add("error", f"denied by the {worker.permissions or 'permission'} preset: "
                                    f"{event.tool}: {event.target}")
            elif isinstance(event, ev.TaskWaiting):
                self._waiting[task_id] = one_line(event.reason, 300)
                if not worker.transcript:
                    self._workers.pop(task_id, None)  # no worker ever ran: keep no empty transcript
            elif isinstance(event, ev.AttemptFailed):
                retry = f"; retry in {event.retry_in_seconds:.0f} s" if event.retry_in_seconds is not None else ""
                worker.add("error", f"attempt {event.attempt} failed: {event.reason}{retry}")
                worker.activity = ""
            elif isinstance(event, ev.TaskCompleted):
                worker.add("status", f"completed in {event.duration_ms / 1000:.1f} s")
                if event.git is not None:
                    self._git[task_id] = GitFacts(event.git, None)
                worker.activity = ""
                if event.attention:
                    worker.attention = one_line(event.attention, 300)
                    worker.add("error", f"needs attention: {event.attention}")
            elif isinstance(event, ev.TaskFailed):
                summary = failure_summary(event.reason)
                # After its attempts failed, the line above already said why: no third copy of it.
                worker.add("error", "no attempts left: the task failed" if summary != event.reason
                           else f"failed: {event.reason}")
                worker.activity = ""
            elif isinstance(event, ev.WorkerAbandoned):
                worker.add("status", f"stopped: {event.reason}")
                worker.activity = ""
        self._notify(EngineChanged(ids, event))

    def _on_index_change(self, change: IndexChange) -> None:
        for task_id in change.changed | change.removed:
            summary = self.index.get(task_id)
            if summary is None or summary.state != QUEUED:
                self._waiting.pop(task_id, None)  # claimed, finished or gone: no longer waiting
        self._count_attempts_later(change.changed)
        self._load_answer_facts_later(change.changed)
        self._notify(EngineChanged(change.changed | change.removed | change.corrupt, drained_lanes=self._drained()))

    def _drained(self) -> frozenset[str]:
        """Lanes that had queued or claimed tasks at the last look and have none now."""
        active: dict[str, int] = {}
        for summary in self.index.summaries():
            if summary.state in (QUEUED, CLAIMED):
                active[summary.lane] = active.get(summary.lane, 0) + 1
        drained = frozenset(one_line(lane, 64) for lane in self._active_lanes if lane not in active)
        self._active_lanes = set(active)
        return drained

    def _count_attempts_later(self, task_ids: Any) -> None:
        """Attempts of unfinished and failed tasks, counted from their events off the event loop
        (a claim by anyone counts). Completed tasks show what our own runs counted."""
        todo = [i for i in task_ids if (s := self.index.get(i)) is not None and s.state != COMPLETED]
        if todo:
            task = asyncio.get_running_loop().create_task(self._count_attempts(todo))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _count_attempts(self, task_ids: list[str]) -> None:
        for start in range(0, len(task_ids), 500):
            batch = task_ids[start:start + 500]
            counts, handled = await asyncio.to_thread(self._attempt_counts, batch)
            changed = {i for i, n in counts.items() if self._attempts.get(i) != n} | (handled - self._handled)
            self._attempts.update(counts)
            self._handled |= handled
            if changed:
                self._notify(EngineChanged(frozenset(changed)))

    def _newest_completed(self, limit: int) -> list[str]:
        done = [s for s in self.index.summaries() if s.state == COMPLETED]
        done.sort(key=lambda s: s.updated_at or "", reverse=True)
        return [s.id for s in done[:limit]]

    def _load_answer_facts_later(self, task_ids: Any) -> None:
        """The branch and run facts of completed tasks, read from their answers off the event loop
        (the CHANGES, VENDOR/MODEL and COST columns and the header's totals for work done before
        this session, or by another supervisor). Each answer is read once: it never changes."""
        todo = [i for i in task_ids if i not in self._answers_read
                and (s := self.index.get(i)) is not None and s.state == COMPLETED]
        self._answers_read.update(todo)
        if todo:
            task = asyncio.get_running_loop().create_task(self._load_answer_facts(todo))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _load_answer_facts(self, task_ids: list[str]) -> None:
        for start in range(0, len(task_ids), 200):
            git, runs = await asyncio.to_thread(self._read_answer_facts, task_ids[start:start + 200])
            if git or runs:
                self._git.update(git)
                self._runs.update(runs)
                self._notify(EngineChanged(frozenset(git) | frozenset(runs)))

    def _read_answer_facts(self, task_ids: list[str]) -> tuple[dict[str, GitFacts], dict[str, RunFacts]]:
        """Each answer's branch (and whether it was merged) and its run, read once per task."""
        from lanes_tui.engine.task_git import merged_event

        git: dict[str, GitFacts] = {}
        runs: dict[str, RunFacts] = {}
        for task_id in task_ids:
            with contextlib.suppress(LanesError, OSError):
                metadata = (self.store.read_response(task_id) or {}).get("metadata")
                run = RunFacts.of(metadata)
                if run is not None:
                    runs[task_id] = run
                branch = metadata.get("git") if isinstance(metadata, dict) else None
                if isinstance(branch, dict):
                    git[task_id] = GitFacts(branch, merged_event(self.store.read_events(task_id).events))
        return git, runs

    def _attempt_counts(self, task_ids: list[str]) -> tuple[dict[str, int], set[str]]:
        """Claims per task, and which failed tasks were dealt with (their last event)."""
        counts: dict[str, int] = {}
        handled: set[str] = set()
        for task_id in task_ids:
            with contextlib.suppress(LanesError, OSError):
                events = self.store.read_events(task_id).events
                counts[task_id] = attempts_of(events).counted  # not the runs a stopping supervisor cut short
                summary = self.index.get(task_id)
                if summary is not None and summary.state == FAILED and summary.failure_reason != CANCELLED:
                    if events and isinstance(events[-1], dict) and events[-1].get("type") in HANDLED_EVENTS:
                        handled.add(task_id)
        return counts, handled

    def _refresh(self, task_ids: list[str]) -> None:
        change = self.supervisor.refresh(task_ids) if self.supervisor else self.index.refresh(task_ids)
        self._notify(EngineChanged(frozenset(task_ids) | change.changed | change.removed))

    def _notify(self, change: EngineChanged) -> None:
        for listener in list(self._subscribers):
            listener(change)


@functools.lru_cache(maxsize=4096)
def _label(text: str, max_len: int) -> str:
    """one_line for the short values that repeat on thousands of rows (lanes, vendors, owners)."""
    return one_line(text, max_len)


def default_operator() -> str:
    """Who the dashboard's verbs are recorded as: `operator:<user>@<host>` (sanitised)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return one_line(f"operator:{user}@{this_host()}", 120)


def _ts(value: str | None) -> datetime | None:
    try:
        return parse_ts(value) if value else None
    except ValueError:
        return None
