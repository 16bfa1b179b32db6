"""The supervisor: claims tasks, runs one agent per task, writes the answers back.

Event-driven: the in-memory index is kept current by the change feed, and the
scheduler runs when something changed (a task, a worker, a timer for a
backoff, a vendor cool-down or a lease expiry), never on a polling tick.

Lifecycle: `start()` takes the lifetime lock (one supervisor per store),
recovers what a dead predecessor left (kills its worker groups, re-queues its
claims at once: G2, G9), then follows the store. `request_stop()` stops
claiming; running workers get `shutdown_grace_seconds` to finish, then are
stopped and their claims released with a reason. `run()` returns when
stopped, or (with drain=True) once the internal and hybrid lanes have
nothing left that could still run here and no worker runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from lanes_tui.core import procinfo
from lanes_tui.core.errors import ConflictError, InvalidInput, LanesError, NotFound
from lanes_tui.core.lifecycle import lease_expired
from lanes_tui.core.request_files import wants_answer_file, write_answer_file
from lanes_tui.core.sanitize import one_line
from lanes_tui.core.states import (
    ATTEMPT_FAILED,
    ATTEMPT_INTERRUPTED,
    CLAIMED,
    COMPLETED,
    FAILED,
    QUEUED,
    TERMINAL_STATES,
    attempts_of,
)
from lanes_tui.core.supervisors import (
    SupervisorRecord,
    SupervisorRegistry,
    is_dead_supervisor_claim,
    kill_leftover_workers,
)
from lanes_tui.engine import events as ev
from lanes_tui.engine.attempt import (
    ANSWERED,
    LOST_CLAIM,
    OPERATOR_STOPPED,
    OVER_BUDGET,
    RATE_LIMITED,
    STOPPED,
    AttemptResult,
    AttemptSpec,
    max_attempts_for,
    run_attempt,
    working_dir,
)
from lanes_tui.engine.feed import follow, load_and_arm
from lanes_tui.engine.index import IndexChange, TaskIndex
from lanes_tui.engine.result_branches import carry
from lanes_tui.engine.worker_presence import WorkerPresence
from lanes_tui.engine.workspaces_here import WorkspacesHere
from lanes_tui.settings import LaneMode, Settings, VendorSettings, worker_environment
from lanes_tui.vendors.agent_tools_flags import ToolsServer
from lanes_tui.vendors.argv import (
    Command,
    build_command,
    executable_available,
    resolve_vendor,
)
from lanes_tui.vendors.limits import MAX_RESET_SECONDS
from lanes_tui.vendors.permissions import FAIL as FAIL_ON_DENIAL
from lanes_tui.vendors.permissions import effective_preset

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend, TaskChanges

PERMISSION_DENIED = "permission_denied"
PAUSED_LANE_HOLD = "lane paused by the operator"
# A claim refused because the expired lease's holder still heartbeats: asked again this soon
# (the rescue comes at most this late after the holder's heartbeat is DEAD_AFTER_SECONDS old).
HOLDER_RECHECK_SECONDS = 1.0
STORE_RETRY_SECONDS = 1.0  # a scheduling pass the store failed: the next one comes this soon
MAX_DENIALS_RECORDED = 50  # in the response metadata and the event; the attempt log has them all


@dataclass
class TaskRecord:
    """What the supervisor did with one task (for the summary file and the dashboard)."""

    task_id: str
    lane: str
    state: str = QUEUED
    attempts: int = 0
    duration_ms: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None
    reason: str | None = None
    vendor: str | None = None
    model: str | None = None
    cost_estimated: bool = False
    api_retries: int = 0
    denials: int = 0
    attention: str | None = None


@dataclass
class Running:
    task_id: str
    lane: str
    vendor: str
    spec: AttemptSpec
    job: asyncio.Task[None]


@dataclass
class Plan:
    """Why a queued task cannot start now, or the command to start it with."""

    command: Command | None = None
    vendor: VendorSettings | None = None
    wait_reason: str | None = None
    fail_reason: str | None = None
    later: bool = True  # waiting for something that will pass by itself (backoff, cool-down, deps)


@dataclass
class Supervisor:
    store: Backend
    settings: Settings
    emit: Callable[[ev.SupervisorEvent], None] = lambda event: None
    drain: bool = False
    rescan_seconds: float = 30.0
    # `lanes-tui ... mcp` for this queue (engine/agent_tools_server.py): each worker gets it bound
    # to its agent id and task; None: workers get no MCP server (a queue in this process's memory).
    tools_command: tuple[str, ...] | None = None
    index: TaskIndex = field(init=False)
    registry: SupervisorRegistry = field(init=False)
    records: dict[str, TaskRecord] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        # Our workers show up as agents (presence): registered with their pid and task when
        # they start, seen again at each lease renewal, offline once their process is gone.
        self.presence = WorkerPresence(self.store)
        self._observer = self.emit
        self.emit = self._emit_and_track
        self.index = TaskIndex(self.store)
        self.registry = self.store.supervisor_registry()
        self.owner = self.registry.owner
        self._running: dict[str, Running] = {}
        self._not_before: dict[str, float] = {}
        self._paused_until: dict[str, float] = {}
        # Expired claims whose holder was alive when we asked (another host's supervisor still
        # heartbeats): (when to ask again, why). Asked again at every pass, each would cost a
        # refused transaction per change the feed brings, for the 30 s until the holder is dead.
        self._holder_alive: dict[str, tuple[float, str]] = {}
        # vendor -> when it became unusable (rate limit, quota) and has not answered since:
        # --drain gives up on tasks that only it could run once this is old enough.
        self._unusable_since: dict[str, float] = {}
        self._pause_reasons: dict[str, str] = {}
        self._waiting: dict[str, str] = {}
        self._task_cache: dict[str, tuple[str | None, dict[str, Any]]] = {}
        self._workspaces = WorkspacesHere()
        self._wake = asyncio.Event()
        self._stopping = False
        self._kill_workers = asyncio.Event()
        self._stop_reason = "stopped"
        self._feed: TaskChanges | None = None
        self._follower: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._paused_lanes: set[str] = set()
        self._grace: float | None = None  # request_stop's override of shutdown_grace_seconds
        # Told of every index change after the supervisor acted on it (the dashboard).
        self.index_listeners: list[Callable[[IndexChange], None]] = []
        # Why a runnable task is not started yet (a busy slot, a backoff, a paused lane): what
        # passes by itself, so not "waiting" (drain does not call it stuck) and not printed as
        # an event; the dashboard shows it. Listeners get the ids whose reason changed.
        self.held: dict[str, str] = {}
        self.hold_listeners: list[Callable[[frozenset[str]], None]] = []
        self._retry_at: dict[str, str] = {}  # task id -> the wall-clock time of its next try
        self.drained = False

    # -- lifecycle ------------------------------------------------------------------

    async def start(self, on_loaded: Callable[[], Awaitable[None]] | None = None) -> None:
        """Take the store, recover a dead predecessor's leftovers, load the index, follow the store.

        `on_loaded` runs once the index holds the store, before the watcher is armed (which takes
        a while at 10,000 tasks): the dashboard draws its first frame there.
        """
        self.registry.record.capacity = self.global_cap  # the hosts view shows it with the workers
        previous = self.registry.claim()  # ConflictError if another supervisor runs
        # Adopt what our workers orphan (a grandchild whose agent exited, an agent whose guard
        # was killed first) so that we reap it: a container's PID 1 may never do it.
        procinfo.become_subreaper()
        killed = kill_leftover_workers(previous) if previous else []
        surviving = await self._leftovers_still_alive(previous, killed) if previous else set()
        self._feed = await load_and_arm(self.index, self.store, on_loaded)
        recovered = await self._recover_dead_claims(skip=surviving)
        self.emit(ev.SupervisorStarted(self.owner, self.store.location, tuple(recovered), tuple(killed)))
        # Writers killed mid-write left their temporary files; we hold the store, so sweep them,
        # after the start: it walks every task's folder (0.15 s at 10,000 tasks) and nothing
        # waits for it (no reader ever looks at a temporary file).
        self._sweeper = asyncio.create_task(self._sweep_temp_files())
        self._follower = asyncio.create_task(
            follow(self.index, self._feed, self._on_change, rescan_seconds=self.rescan_seconds,
                   wake_after=self._next_timer)
        )

    async def run(self) -> None:
        """Schedule until stopped (or drained); then wind down and release the lock."""
        try:
            while True:
                if self._stopping:
                    break
                self._wake.clear()
                try:
                    pending = await self._schedule()
                except LanesError:
                    # A store call of the pass that nothing closer handled (a session the server
                    # ended, the server away): the supervisor never ends on one; the next pass,
                    # within STORE_RETRY_SECONDS, tries again with the index as the feed keeps it.
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), STORE_RETRY_SECONDS)
                    continue
                if self.drain and not self._running and not pending:
                    self.drained = True
                    self._stop_reason = "drained"
                    break
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._next_timer())
        finally:
            await self._wind_down()

    def request_stop(self, reason: str = "stop requested", *, grace: float | None = None) -> None:
        """Stop claiming now; running workers may finish within the shutdown grace
        (`grace` overrides it: math.inf lets them finish whatever it takes)."""
        if grace is not None:
            self._grace = grace
        if not self._stopping:
            self._stopping = True
            self._stop_reason = reason
            self._wake.set()

    def refresh(self, task_ids: list[str]) -> IndexChange:
        """Re-read tasks another part of this process just changed (the dashboard's verbs) and
        act on them now: the change feed's later event finds the index already current."""
        change = self.index.refresh(task_ids)
        self._on_change(change)
        return change

    def close_feed(self) -> None:
        """Stop watching the store now; the feed's thread ends within one step (an embedding
        app going away must not leave it blocked in the watcher until the next rescan)."""
        if self._feed is not None:
            self._feed.close()

    def _emit_and_track(self, event: ev.SupervisorEvent) -> None:
        self.presence.observe(event, self.agent_id)
        self._observer(event)

    def _tools_server(self, task_id: str, lane_settings: Any) -> ToolsServer | None:
        if self.tools_command is None:
            return None
        # `=`: an id is never read as a flag of its own.
        argv = (*self.tools_command, f"--as={self.agent_id(task_id)}", f"--task={task_id}")
        return ToolsServer(argv, lane_settings.request_timeout_seconds)

    def agent_id(self, task_id: str) -> str:
        """The identity a worker gets through LANES_AGENT_ID (its locks, messages and presence)."""
        return f"{self.owner}/{task_id}"

    def abandon_now(self, reason: str) -> list[str]:
        """Last resort when the event loop is gone (the dashboard crashed): synchronously kill our
        recorded worker groups, release their claims with `reason`, and let go of the store."""
        record = self.registry.record
        killed = kill_leftover_workers(record)  # checks pid start times, like a successor would
        for worker in list(record.workers.values()):
            with contextlib.suppress(LanesError, OSError):
                self.store.append_event(worker.task_id, ATTEMPT_INTERRUPTED, f"stopped: {reason}; it does not count",
                                        {"reason": reason}, claim_token=worker.claim_token)
            with contextlib.suppress(LanesError, OSError):
                self.store.release(worker.task_id, claim_token=worker.claim_token, reason=reason)
        self.registry.release()
        return killed

    # -- operator controls (the dashboard) ---------------------------------------------------

    @property
    def paused_lanes(self) -> frozenset[str]:
        return frozenset(self._paused_lanes)

    def pause_lane(self, lane: str) -> None:
        """Claim nothing more on `lane`; its running workers go on."""
        self._paused_lanes.add(lane)

    def resume_lane(self, lane: str) -> None:
        self._paused_lanes.discard(lane)
        self._wake.set()

    @property
    def global_cap(self) -> int:
        return self.settings.concurrency.global_max

    def set_global_cap(self, cap: int) -> int:
        """Change how many workers may run at once (1..1024); running ones are never stopped."""
        cap = max(1, min(1024, int(cap)))
        self.settings = replace(self.settings, concurrency=replace(self.settings.concurrency, global_max=cap))
        if self.registry.holds_lock:
            self.registry.set_capacity(cap)
        self._wake.set()
        return cap

    async def stop_worker(self, task_id: str, reason: str) -> bool:
        """Stop our worker on `task_id` and wait until its process group is gone, keeping the
        claim for the operator's break or cancel that follows. False if it is not ours."""
        running = self._running.get(task_id)
        if running is None:
            return False
        running.spec.abandon_reason = reason
        running.spec.keep_claim = True
        running.spec.abandon.set()
        with contextlib.suppress(Exception):
            await asyncio.shield(running.job)
        return True

    def stop_workers_now(self) -> None:
        """Second interrupt: do not wait for the grace period."""
        self._kill_workers.set()

    @property
    def running(self) -> dict[str, Running]:
        return dict(self._running)

    @property
    def waiting(self) -> dict[str, str]:
        """Queued tasks this supervisor serves but cannot start, with the reason."""
        current = {}
        wall = self.store.now()
        for task_id, reason in self._waiting.items():
            summary = self.index.get(task_id)
            if summary is None:
                continue
            # A claim whose lease ran out is claimable, so its task waits like a queued one.
            if summary.state == QUEUED or (summary.state == CLAIMED and summary.claim_owner != self.owner and
                                           lease_expired({"lease_expires_at": summary.lease_expires_at}, wall)):
                current[task_id] = reason
        return current

    async def _wind_down(self) -> None:
        jobs = [r.job for r in self._running.values()]
        if jobs:
            grace = self.settings.shutdown_grace_seconds if self._grace is None else self._grace
            _, pending = await asyncio.wait(jobs, timeout=None if grace == math.inf else grace)
            if pending:
                self._kill_workers.set()
                await asyncio.wait(pending)
        if self._feed is not None:
            self._feed.close()
        for helper in (self._follower, self._sweeper):
            if helper is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(helper, 5)
        self.registry.release()
        self.emit(ev.SupervisorStopped(self._stop_reason))

    # -- recovery (G2) -------------------------------------------------------------------

    async def _sweep_temp_files(self) -> None:
        try:
            swept = await asyncio.to_thread(self.store.sweep_temp_files)
        except (LanesError, OSError):
            return  # upkeep only: the next start tries again
        if swept:
            self.emit(ev.TempFilesSwept(swept))

    async def _leftovers_still_alive(self, previous: SupervisorRecord, killed: list[str]) -> set[str]:
        """Reclaim means kill, verify the group is gone, then release: the task ids whose killed
        group is still there after the kill grace (their tasks wait for their leases instead)."""
        groups = {w.task_id: w.pgid for w in previous.workers.values() if w.task_id in killed}
        deadline = time.monotonic() + max(self.settings.kill_grace_seconds, 1.0)
        while groups:
            groups = {task_id: pgid for task_id, pgid in groups.items() if procinfo.group_alive(pgid)}
            if not groups or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.02)
        return set(groups)

    async def _recover_dead_claims(self, skip: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """Claims held by a dead lanes-tui supervisor on this host: re-queue them now.

        Answers a dead writer recorded only half (response.json written, task.json
        not yet) are rolled forward first (G8): agent-lanes reads task.json alone.
        """
        await self._repair_half_answered()
        recovered = []
        for summary in self.index.tasks():
            if summary.state != CLAIMED or not is_dead_supervisor_claim(summary.claim_owner, self.owner):
                continue
            if summary.id in skip:
                continue  # its old worker may still be running: never hand the task to a second one
            try:
                task = await asyncio.to_thread(self.store.read_task, summary.id)
                await asyncio.to_thread(
                    self.store.append_event, summary.id, ATTEMPT_FAILED,
                    f"supervisor {summary.claim_owner} died while the task ran",
                    {"attempt": await self._attempts(summary.id), "reason": "supervisor died", "by": self.owner},
                )
                # An attempt its supervisor did not survive counts like any failed one (G3): a task
                # that takes its supervisor down is not run again for ever.
                failures = await self._failed_attempts(summary.id)
                max_attempts = max_attempts_for(task, self.settings.lane(task["lane"]).max_attempts)
                if failures >= max_attempts and task.get("claim_token"):
                    body = await self._failure_body(summary.id, failures)
                    await asyncio.to_thread(self.store.respond, summary.id, body=body, reviewer=self.owner,
                                            claim_token=task["claim_token"], status=FAILED)
                    record = self.records.setdefault(summary.id, TaskRecord(summary.id, task["lane"]))
                    record.state, record.reason, record.attempts = FAILED, body.splitlines()[-1], failures
                    self.emit(ev.TaskFailed(summary.id, task["lane"], failures, body))
                else:
                    await asyncio.to_thread(
                        self.store.break_claim, summary.id, by=self.owner,
                        reason=f"recovery: supervisor {task['claim_owner']} is gone",
                    )
            except LanesError:
                continue
            recovered.append(summary.id)
            # Nobody will read an answer to what the dead attempt's agent asked: closed, with why.
            with contextlib.suppress(LanesError, OSError):
                await asyncio.to_thread(self.store.requests().close_for_task, summary.id,
                                        f"supervisor {one_line(summary.claim_owner or '?', 80)} died while the "
                                        "agent waited; the task was queued again")
        if recovered:
            self._refresh_quietly(recovered)
        return recovered

    async def _repair_half_answered(self) -> None:
        repaired = []
        for summary in self.index.tasks():
            if summary.needs_repair:
                with contextlib.suppress(LanesError):
                    await asyncio.to_thread(self.store.recover, summary.id)
                    repaired.append(summary.id)
        if repaired:
            self._refresh_quietly(repaired)

    # -- reacting --------------------------------------------------------------------------

    def _on_change(self, change: IndexChange) -> None:
        for task_id in change.changed | change.removed:
            running = self._running.get(task_id)
            if running is None:
                continue
            taken = self._taken_away(task_id)
            if taken is not None:
                running.spec.abandon_reason = taken
                running.spec.abandon.set()
        self._wake.set()
        if change:
            for listener in self.index_listeners:
                listener(change)

    def _taken_away(self, task_id: str) -> str | None:
        """Why the task is no longer ours to run, as the index has it now (cancelled, broken,
        finished elsewhere), or None while our claim stands."""
        summary = self.index.get(task_id)
        if summary is not None and summary.state == CLAIMED and summary.claim_owner == self.owner:
            return None
        state = summary.state if summary else "gone"
        return f"claim lost: task is now {state}" + (
            f" ({summary.failure_reason})" if summary and summary.failure_reason else "")

    def _next_timer(self) -> float:
        now = time.monotonic()
        moments = [t for t in self._not_before.values() if t > now]
        moments += [t for t in self._paused_until.values() if t > now]
        moments += [t for t, _ in self._holder_alive.values() if t > now]
        soonest = min(moments) - now if moments else self.rescan_seconds
        lease = self.index.next_lease_expiry()
        if lease is not None:
            soonest = min(soonest, lease + 0.01)
        return max(0.01, min(soonest, self.rescan_seconds))

    # -- scheduling ------------------------------------------------------------------------

    async def _schedule(self) -> int:
        """Start what can start; return how many tasks still wait for something that will pass."""
        pending = 0
        now = time.monotonic()
        lanes = self._lanes_by_priority()
        held: dict[str, str] = {}
        self._holder_alive = {i: entry for i, entry in self._holder_alive.items() if entry[0] > now}
        for lane in lanes:
            if lane in self._paused_lanes:
                # Paused by the operator: not pending either (drain does not wait for it).
                held.update((task_id, PAUSED_LANE_HOLD) for task_id in self.index.candidates(lane))
                continue
            lane_settings = self.settings.lane(lane)
            for task_id in self.index.candidates(lane):
                if task_id in self._running:
                    continue
                if self._stopping:
                    return pending
                if task_id in self._holder_alive:
                    held[task_id] = self._holder_alive[task_id][1]
                    pending += 1
                    continue
                if self._not_before.get(task_id, 0) > now:
                    retry_at = self._retry_at.get(task_id, "?")
                    held[task_id] = f"backing off after a failed attempt; next try at {retry_at}"
                    pending += 1
                    continue
                task = await self._task(task_id)
                if task is None:
                    continue
                plan = await self._plan(task)
                if plan.fail_reason is not None:
                    await self._fail_unrunnable(task, plan.fail_reason)
                    continue
                if plan.wait_reason is not None:
                    self._report_waiting(task, plan.wait_reason)
                    pending += plan.later
                    continue
                busy = self._capacity_problem(lane, plan.vendor)
                if busy is not None:
                    held[task_id] = busy
                    pending += 1
                    if lane_settings.mode == LaneMode.HYBRID:
                        break  # hybrid lanes only use capacity that is free: leave the rest to others
                    continue
                await self._start(task, plan, lane_settings)
                if task_id in self._holder_alive:  # refused just now: its holder lives
                    held[task_id] = self._holder_alive[task_id][1]
                    pending += 1
        self._set_held(held)
        # Claimed by someone else in a lane we serve: not done while they hold it. A claim whose
        # lease ran out is held by nobody: its task was a candidate above, like a queued one.
        served = set(lanes)
        wall = self.store.now()
        pending += sum(
            1 for t in self.index.tasks()
            if t.state == CLAIMED and t.lane in served and t.claim_owner != self.owner and t.id not in self._running
            and not lease_expired({"lease_expires_at": t.lease_expires_at}, wall)
        )
        return pending

    def _lanes_by_priority(self) -> list[str]:
        """Internal lanes first, then hybrid ones (they get what capacity is left)."""
        lanes = {t.lane for t in self.index.tasks() if t.state in (QUEUED, CLAIMED)}
        internal = sorted(l for l in lanes if self.settings.lane(l).mode == LaneMode.INTERNAL)
        hybrid = sorted(l for l in lanes if self.settings.lane(l).mode == LaneMode.HYBRID)
        return internal + hybrid

    async def _task(self, task_id: str) -> dict[str, Any] | None:
        summary = self.index.get(task_id)
        cached = self._task_cache.get(task_id)
        if cached is not None and summary is not None and cached[0] == summary.updated_at:
            return cached[1]
        try:
            task = await asyncio.to_thread(self.store.effective_task, task_id)
        except LanesError:
            return None
        self._task_cache[task_id] = (task.get("updated_at"), task)
        return task

    async def _plan(self, task: dict[str, Any]) -> Plan:
        metadata = task.get("metadata") or {}
        blocked = self._dependency_problem(metadata.get("depends_on"))
        if blocked is not None:
            kind, reason = blocked
            return Plan(fail_reason=reason) if kind == "fail" else Plan(wait_reason=reason)
        known, elsewhere = self._workspaces.known(task)
        if not known:
            elsewhere = await asyncio.to_thread(self._workspaces.problem, task)
        if elsewhere is not None:  # another host's task: left to the hosts that have its repository
            return Plan(wait_reason=elsewhere, later=False)
        now = time.monotonic()
        lane_settings = self.settings.lane(task["lane"])
        try:
            preset = effective_preset(task["lane"], lane_settings.permissions, metadata.get("permissions"))
        except InvalidInput as exc:
            return Plan(fail_reason=str(exc))

        def usable(vendor: VendorSettings) -> bool:
            return executable_available(vendor) and self._paused_until.get(vendor.name, 0) <= now

        common = dict(model_class=metadata.get("model_class"), effort=metadata.get("effort"),
                      permissions=preset, default_vendor=self.settings.default_vendor)
        choice = resolve_vendor(self.settings.vendors, usable, metadata.get("required_vendor"), **common)
        if choice.invalid:
            return Plan(fail_reason=choice.reason)
        if choice.vendor is None:
            fallback = resolve_vendor(self.settings.vendors, None, metadata.get("required_vendor"), **common)
            if fallback.vendor is not None and self._paused_until.get(fallback.vendor.name, 0) > now:
                return self._paused_plan(fallback.vendor.name, now)
            return Plan(wait_reason=choice.reason or "no vendor available", later=False)
        try:
            command = build_command(choice.vendor, metadata.get("model_class"), metadata.get("effort"),
                                    permissions=preset, workdir=working_dir(task),
                                    agent_tools=self._tools_server(task["id"], lane_settings))
        except InvalidInput as exc:
            return Plan(fail_reason=str(exc))
        return Plan(command=command, vendor=choice.vendor)

    def _paused_plan(self, vendor: str, now: float) -> Plan:
        """A task that waits for a paused vendor. It counts as pending (drain waits for it)
        until the vendor has been unusable for drain_give_up_seconds, or will be by the time
        its pause ends: then it is stuck, and --drain ends (exit 11) instead of cycling."""
        left = self._paused_until[vendor] - now
        reason = self._pause_reasons.get(vendor, "a rate limit")
        since = self._unusable_since.get(vendor, now)
        give_up = self.settings.drain_give_up_seconds
        stuck = (now - since) >= give_up or (self._paused_until[vendor] - since) > give_up
        if stuck:
            return Plan(wait_reason=f"vendor {vendor} unusable for {now - since:.0f} s and paused "
                                    f"{left:.0f} s more after {reason} (drain_give_up_seconds: {give_up:g})",
                        later=False)
        return Plan(wait_reason=f"vendor {vendor} paused after {reason} ({left:.0f} s left)")

    def _dependency_problem(self, raw: Any) -> tuple[str, str] | None:
        """("wait"|"fail", reason) while metadata.depends_on is not satisfied."""
        if raw in (None, "", []):
            return None
        ids = [p.strip() for p in raw.split(",")] if isinstance(raw, str) else raw
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return "fail", "metadata.depends_on must be a list of task ids (or a comma-separated string)"
        for dep in (i for i in ids if i):
            summary = self.index.get(dep)
            if summary is None:
                if dep in self.index.corrupt:
                    return "fail", f"dependency {dep} is unreadable"
                try:
                    archived = self.store.is_archived(dep)
                except LanesError:  # the store does not answer now: not a verdict, a wait
                    return "wait", f"dependency {dep} could not be looked up; trying again"
                if archived:
                    continue  # archived: it finished long ago; archive only holds finished tasks
                return "fail", f"unknown dependency {dep}"
            if summary.state == FAILED:
                return "fail", f"dependency {dep} failed: {summary.failure_reason or 'no reason recorded'}"
            if summary.state != COMPLETED:
                return "wait", f"waiting for dependency {dep} ({summary.state})"
        return None

    def _capacity_problem(self, lane: str, vendor: VendorSettings | None) -> str | None:
        """Why no worker can start for `lane` on `vendor` now (None: one can)."""
        caps = self.settings.concurrency
        if len(self._running) >= caps.global_max:
            return f"all {caps.global_max} worker slot(s) busy"
        if vendor is not None:
            cap = caps.vendor(vendor.name)
            if sum(1 for r in self._running.values() if r.vendor == vendor.name) >= cap:
                return f"vendor {vendor.name} at its cap ({cap} at a time)"
        lane_cap = caps.lane(lane)
        if lane_cap is not None and sum(1 for r in self._running.values() if r.lane == lane) >= lane_cap:
            return f"lane {lane} at its cap ({lane_cap} at a time)"
        return None

    def _set_held(self, held: dict[str, str]) -> None:
        changed = frozenset(k for k in held.keys() | self.held.keys() if held.get(k) != self.held.get(k))
        if not changed:
            return
        self.held = held
        for listener in self.hold_listeners:
            listener(changed)

    def _report_waiting(self, task: dict[str, Any], reason: str) -> None:
        if self._waiting.get(task["id"]) != reason:
            self._waiting[task["id"]] = reason
            self.emit(ev.TaskWaiting(task["id"], task["lane"], reason))

    # -- running ----------------------------------------------------------------------------

    async def _start(self, task: dict[str, Any], plan: Plan, lane_settings: Any) -> None:
        assert plan.command is not None and plan.vendor is not None
        task_id = task["id"]
        asked = time.monotonic()  # the lease runs from no earlier than this (attempt.py)
        try:
            claimed = await asyncio.to_thread(
                self.store.claim, task_id, owner=self.owner, lease_seconds=lane_settings.lease_seconds
            )
        except (ConflictError, NotFound) as exc:
            self._refresh_quietly([task_id])
            if isinstance(exc, ConflictError) and task.get("state") == CLAIMED:
                # The lease ran out but its holder lives (or took it back): it is theirs; asked again soon.
                self._holder_alive[task_id] = (time.monotonic() + HOLDER_RECHECK_SECONDS, one_line(str(exc), 300))
            elif isinstance(exc, ConflictError):
                # (A store that fails this look, a session the server ended, says nothing: a
                # scheduling pass must never end on a read; the next pass looks again.)
                with contextlib.suppress(LanesError):
                    problem = await asyncio.to_thread(self.store.request_problem, task)
                    if problem is not None:  # stale input: it waits, visibly, until fixed or cancelled
                        self._report_waiting(task, problem)
            return
        except LanesError as exc:  # stale input, corrupt: report, leave it for the operator
            self._report_waiting(task, str(exc))
            return
        self._refresh_quietly([task_id])
        self._waiting.pop(task_id, None)
        self._not_before.pop(task_id, None)  # its backoff is over: no entry per retried task for ever
        self._holder_alive.pop(task_id, None)
        self._retry_at.pop(task_id, None)
        attempt = await self._attempts(task_id)  # counts the claim just made
        record = self.records.setdefault(task_id, TaskRecord(task_id, task["lane"]))
        record.state, record.vendor, record.model = CLAIMED, plan.vendor.name, plan.command.model
        env = worker_environment(
            self.settings, plan.vendor, os.environ,
            extra={**plan.command.env, "LANES_TASK_ID": task_id, "LANES_AGENT_ID": self.agent_id(task_id)},
        )
        spec = AttemptSpec(claimed, claimed["claim_token"], plan.command, attempt, lane_settings, env,
                           claim_asked=asked)
        if not await self._isolate(spec, plan.vendor, record):
            return
        await self._event(task_id, spec.claim_token, "dispatcher_started",
                          "dispatcher claimed task and is preparing headless agent",
                          {"owner": self.owner, "vendor": plan.vendor.name, "model_class":
                           (task.get("metadata") or {}).get("model_class") or "any", "effort": plan.command.effort,
                           "permissions": plan.command.permissions})
        job = asyncio.create_task(self._run_one(spec))
        self._running[task_id] = Running(task_id, task["lane"], plan.vendor.name, spec, job)

    async def _isolate(self, spec: AttemptSpec, vendor: VendorSettings, record: TaskRecord) -> bool:
        """The attempt's own worktree when its lane isolates (engine/isolation.py): the agent's
        working directory and permission scope become that worktree. False when the attempt
        cannot start (then it is failed here: for good when no retry can help)."""
        # Loaded on the first claim, not at start-up: git support is not on the first frame's path.
        from lanes_tui.engine.isolation import (
            PREPARED_EVENT,
            copy_included,
            prepare_attempt,
            recorded_base,
        )

        task, task_id = spec.task, spec.task["id"]
        try:
            events = await self._events(task_id)
            isolation = await asyncio.to_thread(prepare_attempt, task, spec.lane, self.settings, spec.attempt, events)
            if isolation is None:
                return True
            if isolation.fresh:
                await asyncio.to_thread(copy_included, isolation.repo, isolation.tree.path, isolation.included)
            metadata = task.get("metadata") or {}
            spec.command = build_command(vendor, metadata.get("model_class"), metadata.get("effort"),
                                         permissions=spec.command.permissions, workdir=isolation.tree.path,
                                         agent_tools=self._tools_server(task_id, spec.lane))
        except InvalidInput as exc:  # not a repository, no commits, a bad base: no retry helps
            record.attempts = spec.attempt
            await self._fail(spec, f"worktree isolation: {exc}", record)
            return False
        except (LanesError, OSError) as exc:
            await self._after_failure(spec, f"worktree could not be prepared: {exc}", 0)
            return False
        spec.workdir, spec.isolation = isolation.tree.path, isolation
        spec.setup = spec.lane.setup if isolation.fresh else ()
        if recorded_base(events) is None:
            await self._event(task_id, spec.claim_token, PREPARED_EVENT, "worktree prepared for the task",
                              {"branch": isolation.tree.branch, "base": isolation.tree.base,
                               "base_branch": isolation.base_branch, "worktree": str(isolation.tree.path)})
        return True

    async def _settle_worktree(self, spec: AttemptSpec) -> None:
        """Whatever the outcome: commit what the agent left and keep the attempt's tip."""
        if spec.isolation is None:
            return
        from lanes_tui.engine.isolation import settle_attempt

        try:
            spec.git = await asyncio.to_thread(settle_attempt, spec.isolation, spec.task, spec.attempt)
        except (LanesError, OSError) as exc:
            await self._event(spec.task["id"], spec.claim_token, "worktree_not_settled",
                              f"the worktree was left as it is: {exc}", {"attempt": spec.attempt})

    async def _run_one(self, spec: AttemptSpec) -> None:
        task_id = spec.task["id"]
        try:
            try:
                result = await run_attempt(self.store, spec, self.settings, self.registry, self.emit, self._kill_workers)
            except (OSError, LanesError) as exc:  # could not even start the agent
                result = None
                await self._after_failure(spec, f"could not start the agent: {exc}", 0)
            except Exception as exc:  # a bug around the attempt (the worker is stopped): retry, count it
                result = None
                await self._after_failure(spec, f"supervisor error: {type(exc).__name__}: {exc}", 0)
            await self._settle_worktree(spec)
            if result is not None:
                await self._settle(spec, result)
        finally:
            self._running.pop(task_id, None)
            self._task_cache.pop(task_id, None)
            self.emit(ev.WorkerFinished(task_id))
            self._wake.set()

    async def _settle(self, spec: AttemptSpec, result: AttemptResult) -> None:
        task = spec.task
        task_id = task["id"]
        record = self.records[task_id]
        summary = result.summary
        record.attempts = spec.attempt
        record.duration_ms += result.duration_ms
        record.tokens_in += summary.tokens_in
        record.tokens_out += summary.tokens_out
        record.api_retries += summary.api_retries
        if result.cost_usd is not None:
            record.cost_usd = (record.cost_usd or 0.0) + result.cost_usd
            record.cost_estimated = record.cost_estimated or result.cost_estimated
        token = spec.claim_token
        denials = [{"tool": d.tool, "target": d.target} for d in summary.denials[:MAX_DENIALS_RECORDED]]
        if summary.denials:
            record.denials += len(summary.denials)
            await self._event(task_id, token, PERMISSION_DENIED,
                              f"{len(summary.denials)} tool call(s) denied by the {spec.command.permissions} preset",
                              {"attempt": spec.attempt, "permissions": spec.command.permissions, "denials": denials})
        if result.outcome == ANSWERED:
            self._unusable_since.pop(spec.command.vendor, None)  # it answers again: usable
            if summary.denials and spec.lane.on_denial == FAIL_ON_DENIAL:
                shown = "; ".join(d.shown for d in summary.denials[:5])
                await self._after_failure(spec, f"{len(summary.denials)} tool call(s) denied by the "
                                                f"{spec.command.permissions} preset: {shown}", result.duration_ms)
            else:
                await self._record_answer(spec, result, record, denials)
        elif result.outcome == LOST_CLAIM:
            # Usually refused (the claim is someone else's now); if it is still ours (renewals
            # failed to write), hand it back instead of sitting on it until the lease expires.
            # An operator's stop_worker keeps it: their break or cancel comes next.
            if not spec.keep_claim:
                await self._release(task_id, token, result.reason)
            # A renewal refused by a cancel can come before the change feed tells of the cancel:
            # the reason is then what the ended task says (who ended it, and why), not the refusal.
            reason = result.reason
            summary_now = self.index.get(task_id)
            if not spec.abandon.is_set() and summary_now is not None and summary_now.state in TERMINAL_STATES:
                reason = self._taken_away(task_id) or reason
            record.state, record.reason = "abandoned", reason
            self.emit(ev.WorkerAbandoned(task_id, reason))
        elif result.outcome == STOPPED:
            # Not the task's doing: the attempt does not count (TRY, README); its log keeps its number.
            await self._event(task_id, token, ATTEMPT_INTERRUPTED,
                              f"attempt {spec.attempt} stopped with the supervisor; it does not count",
                              {"attempt": spec.attempt, "reason": self._stop_reason})
            await self._release(task_id, token, f"supervisor stopped: {self._stop_reason}")
            record.state, record.reason = QUEUED, "released: supervisor stopped"
            self.emit(ev.WorkerAbandoned(task_id, "supervisor stopped; claim released"))
        elif result.outcome == RATE_LIMITED:
            vendor = spec.command.vendor
            cooldown = self._cooldown(summary)
            now = time.monotonic()
            self._paused_until[vendor] = max(self._paused_until.get(vendor, 0.0), now + cooldown)
            self._unusable_since.setdefault(vendor, now)
            self._pause_reasons[vendor] = "a quota or usage limit" if summary.quota else "a rate limit"
            await self._event(task_id, token, "rate_limited", result.reason,
                              {"vendor": vendor, "cooldown_seconds": round(cooldown, 3), "quota": summary.quota,
                               "resets_at": summary.resets_at})
            await self._release(task_id, token, f"{result.reason}; vendor {vendor} paused {cooldown:.0f} s")
            record.state, record.reason = QUEUED, result.reason
            self.emit(ev.VendorPaused(vendor, cooldown, result.reason, summary.quota))
        elif result.outcome in (OVER_BUDGET, OPERATOR_STOPPED):  # no retry helps: failed for good
            await self._event(task_id, token, "headless_failed", result.reason, {"attempt": spec.attempt})
            await self._fail(spec, result.reason, record)
        else:
            await self._after_failure(spec, result.reason, result.duration_ms)

    async def _record_answer(self, spec: AttemptSpec, result: AttemptResult, record: TaskRecord,
                             denials: list[dict[str, str]]) -> None:
        task, token, summary = spec.task, spec.claim_token, result.summary
        task_id = task["id"]
        attention = None
        if summary.denials:
            attention = (f"{len(summary.denials)} tool call(s) denied by the {spec.command.permissions} preset: "
                         + "; ".join(d.shown for d in summary.denials[:3]))
        metadata = {
            "model_used": spec.command.model, "effort_used": spec.command.effort,
            "permissions": spec.command.permissions,
            "tokens_in": summary.tokens_in, "tokens_out": summary.tokens_out,
            "tokens_cache_read": summary.tokens_cached, "tokens_cache_write": summary.tokens_cache_write,
            "tokens_reasoning": summary.tokens_reasoning,
            "cost_usd": result.cost_usd, "cost_estimated": result.cost_estimated,
            "duration_ms": result.duration_ms, "api_retries": summary.api_retries,
            "vendor": spec.command.vendor, "session_id": summary.session_id, "attempt": spec.attempt,
        }
        if summary.model and summary.model != spec.command.model:
            metadata["model_reported"] = summary.model  # an alias the CLI resolved, a fallback model
        if denials:
            metadata["permission_denials"] = denials
            metadata["attention"] = attention
        if spec.git is not None:
            if spec.isolation is not None:  # a shared queue: the branch goes with the answer
                await asyncio.to_thread(carry, self.store, task_id, token, spec.git, spec.isolation.tree.path)
            metadata["git"] = spec.git
        await self._event(task_id, token, "headless_completed", "headless agent invocation completed",
                          {"attempt": spec.attempt, "duration_ms": result.duration_ms})
        try:
            await asyncio.to_thread(
                self.store.respond, task_id, body=summary.final_answer or "",
                reviewer=self.owner, claim_token=token, metadata=metadata,
            )
        except LanesError as exc:
            # Refused while we still hold the claim (the request changed under the agent):
            # let go of it with the reason rather than sit on it until the lease runs out.
            await self._release(task_id, token, f"answer not recorded: {exc}")
            record.state, record.reason = "abandoned", f"answer not recorded: {exc}"
            self.emit(ev.WorkerAbandoned(task_id, f"answer not recorded: {exc}"))
            return
        record.state, record.reason, record.attention = COMPLETED, None, attention
        written, problem = await self._write_answer_file(task, summary.final_answer or "")
        self.emit(ev.TaskCompleted(task_id, task["lane"], spec.attempt, record.duration_ms,
                                   record.tokens_in, record.tokens_out, record.cost_usd, attention, spec.git,
                                   written, problem))

    async def _write_answer_file(self, task: dict[str, Any], body: str) -> tuple[str | None, str | None]:
        """The answer at the task's response path, when the task asked for it (metadata
        `write_response`): (where it was written, why it could not be). The answer is already
        recorded: a file that cannot be written is reported, it fails nothing."""
        if not wants_answer_file(task):
            return None, None
        try:
            return str(await asyncio.to_thread(write_answer_file, task, body)), None
        except (LanesError, OSError, ValueError) as exc:  # ValueError: text the file system cannot encode
            return None, f"answer not written to {task.get('response_path')}: {exc}"

    def _cooldown(self, summary: Any) -> float:
        """How long a vendor pauses: until the limit's stated reset, else the configured cool-down."""
        if summary.resets_at is not None:
            left = summary.resets_at - time.time()
            if 0 < left <= MAX_RESET_SECONDS:
                return left
        return self.settings.rate_limit_cooldown_seconds

    async def _after_failure(self, spec: AttemptSpec, reason: str, duration_ms: int) -> None:
        """A failed attempt: retry with backoff, or fail the task with every attempt's reason (G3)."""
        task_id, token = spec.task["id"], spec.claim_token
        record = self.records.setdefault(task_id, TaskRecord(task_id, spec.task["lane"]))
        await self._event(task_id, token, "headless_failed", f"attempt {spec.attempt} failed: {one_line(reason, 300)}",
                          {"attempt": spec.attempt, "reason": reason})
        await self._event(task_id, token, ATTEMPT_FAILED, reason, {"attempt": spec.attempt, "reason": reason})
        failures = await self._failed_attempts(task_id)
        if failures >= max_attempts_for(spec.task, spec.lane.max_attempts):
            body = await self._failure_body(task_id, failures)
            self.emit(ev.AttemptFailed(task_id, spec.attempt, reason, None))
            await self._fail(spec, body, record)
            return
        delay = spec.lane.backoff(failures) * random.uniform(0.8, 1.2)  # jitter: no thundering herd
        self._not_before[task_id] = time.monotonic() + delay
        self._retry_at[task_id] = time.strftime("%H:%M:%S", time.localtime(time.time() + delay))
        await self._release(task_id, token, f"attempt {spec.attempt} failed: {reason}; retry in {delay:.0f} s")
        record.state, record.reason = QUEUED, reason
        self.emit(ev.AttemptFailed(task_id, spec.attempt, reason, delay))

    async def _failure_body(self, task_id: str, failures: int) -> str:
        reasons = await self._failure_reasons(task_id)
        return f"failed after {failures} attempt(s):\n" + "\n".join(f"{i}. {r}" for i, r in enumerate(reasons, 1))

    async def _fail(self, spec: AttemptSpec, body: str, record: TaskRecord) -> None:
        try:
            await asyncio.to_thread(self.store.respond, spec.task["id"], body=body, reviewer=self.owner,
                                    claim_token=spec.claim_token, status=FAILED)
        except LanesError as exc:
            self.emit(ev.WorkerAbandoned(spec.task["id"], f"failure not recorded: {exc}"))
            return
        record.state, record.reason = FAILED, body.splitlines()[-1] if body else body
        self.emit(ev.TaskFailed(spec.task["id"], spec.task["lane"], record.attempts, body))

    async def _fail_unrunnable(self, task: dict[str, Any], reason: str) -> None:
        """A task that can never run here as written (unknown model, failed dependency)."""
        task_id = task["id"]
        lane = self.settings.lane(task["lane"])
        try:
            claimed = await asyncio.to_thread(self.store.claim, task_id, owner=self.owner, lease_seconds=lane.lease_seconds)
            await asyncio.to_thread(self.store.respond, task_id, body=reason, reviewer=self.owner,
                                    claim_token=claimed["claim_token"], status=FAILED)
        except LanesError:
            self._refresh_quietly([task_id])
            return
        self._refresh_quietly([task_id])
        record = self.records.setdefault(task_id, TaskRecord(task_id, task["lane"]))
        record.state, record.reason = FAILED, reason
        self.emit(ev.TaskFailed(task_id, task["lane"], record.attempts, reason))

    async def _release(self, task_id: str, token: str, reason: str) -> None:
        with contextlib.suppress(LanesError):
            await asyncio.to_thread(self.store.release, task_id, claim_token=token, reason=reason)
        self._refresh_quietly([task_id])

    def _refresh_quietly(self, task_ids: list[str]) -> None:
        """Re-read tasks this supervisor just acted on, if the store answers. A failure here (a
        connection the server dropped) must not end the scheduling, which it would from here: the
        change feed's event for the same change, or its rescan, brings the index up to date."""
        with contextlib.suppress(LanesError):
            self.index.refresh(task_ids)

    async def _event(self, task_id: str, token: str, kind: str, message: str, data: dict[str, Any]) -> None:
        with contextlib.suppress(LanesError, OSError):
            await asyncio.to_thread(self.store.append_event, task_id, kind, message, data, claim_token=token)

    async def _attempts(self, task_id: str) -> int:
        return attempts_of(await self._events(task_id)).claims

    async def _failed_attempts(self, task_id: str) -> int:
        return attempts_of(await self._events(task_id)).failures

    async def _failure_reasons(self, task_id: str) -> list[str]:
        return list(attempts_of(await self._events(task_id)).reasons)

    async def _events(self, task_id: str) -> list[dict[str, Any]]:
        try:
            return (await asyncio.to_thread(self.store.read_events, task_id)).events
        except LanesError:
            return []
