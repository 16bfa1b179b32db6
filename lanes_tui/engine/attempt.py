"""One attempt at one task: spawn the agent, keep the lease, read the stream, judge the end.

The attempt never writes the answer itself: it returns an `AttemptResult` and
the supervisor decides (respond, retry, fail, pause the vendor). It does keep
the claim alive (renewing while the worker lives, and only then), and it
stops the worker as soon as the claim is lost (cancelled or broken by anyone:
a renew is refused), the timeout passes (the time its agent waits for a person's
answer does not count), the budget is exceeded, or the supervisor shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from lanes_tui.core import procinfo
from lanes_tui.core.clock import parse_ts
from lanes_tui.core.errors import ConflictError, LanesError, NotFound
from lanes_tui.core.requests import DENY_STOP, InputRequest, seconds_waiting
from lanes_tui.core.sanitize import one_line
from lanes_tui.core.supervisors import SupervisorRegistry, WorkerRecord
from lanes_tui.engine import events as ev
from lanes_tui.engine.lease_fence import LeaseFence
from lanes_tui.settings import LaneSettings, Settings
from lanes_tui.vendors.argv import Command
from lanes_tui.vendors.guard import GUARD_PATH, PYTHON_FLAGS
from lanes_tui.vendors.pricing import TokenCounts, estimate, price_for
from lanes_tui.vendors.process import Exit, OutputLog, WorkerProcess
from lanes_tui.vendors.prompting import build_input
from lanes_tui.vendors.streams import (
    Activity,
    ApiRetry,
    Denied,
    Outcome,
    RunSummary,
    Usage,
    make_parser,
    mentions_rate_limit,
)

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend

ANSWERED, FAILED, RATE_LIMITED, TIMED_OUT, OVER_BUDGET, LOST_CLAIM, STOPPED, OPERATOR_STOPPED = (
    "answered", "failed", "rate_limited", "timed_out", "over_budget", "lost_claim", "stopped", "operator_stopped",
)


@dataclass(frozen=True)
class AttemptResult:
    outcome: str
    reason: str
    summary: RunSummary
    exit: Exit | None
    duration_ms: int
    log_path: Path
    cost_usd: float | None = None  # the vendor's figure, else the price table's estimate
    cost_estimated: bool = False


@dataclass
class Spend:
    """What an attempt has cost so far: the vendor's own figure once it gives one, until then an
    estimate from the vendor's price table (Claude reports cost only at the end, Codex never)."""

    price: Any = None  # core.pricing.Price, or None when the model has no price

    def of(self, summary: RunSummary) -> tuple[float | None, bool]:
        if summary.cost_usd is not None:
            return summary.cost_usd, False
        if self.price is None:
            return None, False
        tokens = TokenCounts(summary.tokens_in, summary.tokens_out, summary.tokens_cached,
                             summary.tokens_cache_write, summary.tokens_reasoning)
        return estimate(self.price, tokens), True


@dataclass
class AttemptSpec:
    task: dict[str, Any]
    claim_token: str
    command: Command
    attempt: int
    lane: LaneSettings
    env: dict[str, str]
    # Set by the supervisor when the index shows the claim went elsewhere (cancel,
    # break): the worker stops at once instead of at its next renewal.
    abandon: asyncio.Event = field(default_factory=asyncio.Event)
    abandon_reason: str = "claim lost"
    # Worktree isolation (engine/isolation.py): where the agent works, what runs there first,
    # and, once settled, what the branch holds (the response metadata's `git`).
    workdir: Path | None = None
    setup: tuple[tuple[str, ...], ...] = ()
    isolation: Any = None
    git: dict[str, Any] | None = None
    # Set with abandon when an operator stops our worker before breaking or cancelling
    # its claim: the claim is left for the operator's verb instead of being released.
    keep_claim: bool = False
    # time.monotonic() when the claim was asked for: its lease runs from no earlier than that,
    # however late the store's answer came (None: from the attempt's start).
    claim_asked: float | None = None


FENCE_SLACK_SECONDS = 1.0  # beyond the kill grace: a stopped worker's group is gone with time to spare
REQUEST_CHECK_SECONDS = 2.0  # how often a worker that may ask has its requests looked at
HELD_RECHECK_SECONDS = 1.0  # while a person is asked, how often the timeout looks at the requests again
HELPER_RECANCEL_SECONDS = 0.05  # how long a cancelled helper has to end before it is cancelled again
SCRATCH_BASE_MAX = 40  # longer temp folders leave sandboxes no room for their socket names


def make_scratch_dir() -> Path:
    """The worker's own TMPDIR (0700, removed when the attempt ends), so that the edit presets
    can keep agents out of the shared /tmp. Its path must stay short: Claude Code's sandbox
    puts Unix sockets in it (107 bytes at most), and fails to start under a long one
    (measured: "Failed to create bridge sockets" under a 75-character TMPDIR)."""
    base = tempfile.gettempdir()
    if len(base) > SCRATCH_BASE_MAX and os.access("/tmp", os.W_OK | os.X_OK):
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix="lanes-tui-", dir=base))


def working_dir(task: dict[str, Any]) -> Path:
    """Where the agent works: the task's worktree when it exists, else its workspace root."""
    cwd = Path(task.get("worktree_path") or task["workspace_root"])
    return cwd if cwd.is_dir() else Path(task["workspace_root"])


def budget_problem(task: dict[str, Any], summary: RunSummary, cost: float | None = None,
                   estimated: bool = False) -> str | None:
    """metadata.max_cost_usd / max_turns exceeded? (non-numbers are ignored: not ours to guess)."""
    metadata = task.get("metadata") or {}
    limit = _number(metadata.get("max_cost_usd"))
    if cost is None:
        cost = summary.cost_usd
    if limit is not None and cost is not None and cost > limit:
        what = "estimated cost" if estimated else "cost"
        return f"budget exceeded: {what} ${cost:.4f} > max_cost_usd ${limit:g}"
    turns = _number(metadata.get("max_turns"))
    if turns is not None and summary.turns > turns:
        return f"budget exceeded: {summary.turns} turns > max_turns {turns:g}"
    return None


async def run_attempt(
    store: Backend,
    spec: AttemptSpec,
    settings: Settings,
    registry: SupervisorRegistry,
    emit: Callable[[ev.SupervisorEvent], None],
    stop: asyncio.Event,
) -> AttemptResult:
    task = spec.task
    task_id = task["id"]
    started = time.monotonic()
    began = store.now()  # the same moment on the wall clock, which requests are stamped with
    log = OutputLog(store.attempt_log_path(task_id, spec.attempt), settings.log_max_bytes)
    argv = [sys.executable, *PYTHON_FLAGS, GUARD_PATH, str(os.getpid()), "--", *spec.command.argv]
    parser = make_parser(spec.command.stream, vendor=spec.command.vendor)
    vendor = settings.vendor(spec.command.vendor)
    spend = Spend(price_for(vendor.prices, spec.command.model) if vendor is not None else None)
    stdin_data = await asyncio.to_thread(build_input, store, task, spec.command.prompt_prefix)
    scratch = await asyncio.to_thread(make_scratch_dir)

    def on_stderr(line: bytes) -> None:
        for item in parser.feed_stderr(line):
            if isinstance(item, Denied):
                emit(ev.WorkerDenied(task_id, item.tool, item.target))

    cwd = spec.workdir or working_dir(task)
    if spec.setup:
        from lanes_tui.engine.isolation import (  # isolated lanes only
            SetupFailed,
            run_setup,
        )

        try:
            log.open()
            await asyncio.to_thread(run_setup, spec.setup, cwd, spec.lane.setup_timeout_seconds, log.write)
        except (SetupFailed, OSError) as exc:
            log.close()
            await asyncio.to_thread(shutil.rmtree, scratch, True)
            reason = str(exc) if isinstance(exc, SetupFailed) else f"set-up could not write its log: {exc}"
            return AttemptResult(FAILED, reason, RunSummary(spec.command.vendor), None,
                                 int((time.monotonic() - started) * 1000), log.path)
    # Self-fencing: the worker must be gone before the lease runs out, or a rescuer could start a
    # second one. A renewal is given only the time the lease has left minus what stopping the
    # worker takes; a store that does not answer by then (a partitioned host, a frozen database
    # server) counts as a lost claim.
    # (At most half the slack between renewals and the lease's end: the fence must never fire
    # between two renewals that succeed.)
    fence_margin = min(settings.kill_grace_seconds + FENCE_SLACK_SECONDS,
                       (spec.lane.lease_seconds - spec.lane.renew_seconds) / 2)
    # The lease was granted no earlier than the claim was asked for. An answer that took long to
    # come (a partition that healed, a stalled host) may bring a lease already run out, the task
    # perhaps rescued meanwhile by another host: no worker is started on it.
    first_lease_ends = (started if spec.claim_asked is None else spec.claim_asked) + spec.lane.lease_seconds
    if time.monotonic() >= first_lease_ends - fence_margin:
        log.close()
        await asyncio.to_thread(shutil.rmtree, scratch, True)
        return AttemptResult(LOST_CLAIM, "claim lost: its lease had run out by the time the store's answer came",
                             RunSummary(spec.command.vendor), None, int((time.monotonic() - started) * 1000),
                             log.path)
    worker = WorkerProcess(
        argv, env={**spec.env, "TMPDIR": str(scratch)}, cwd=cwd, log=log,
        line_max_bytes=settings.output_line_max_bytes, kill_grace=settings.kill_grace_seconds,
        on_stderr_line=on_stderr,
    )
    # The same deadline kept by a thread, which no stall of this event loop can hold up. Armed
    # before the spawn (lease_fence.py): the loop may be held by anything between the fork and
    # the spawn's return, and before anything below talks to the store (recording and announcing
    # the worker do, some of it on this loop): a store that stops answering must not leave the
    # worker unfenced.
    marker = spec.env.get("LANES_AGENT_ID")
    fence = LeaseFence(None, None, None, settings.kill_grace_seconds,
                       find=(lambda: procinfo.children_with_environ(os.getpid(), f"LANES_AGENT_ID={marker}"))
                       if marker else None)
    fence.arm(first_lease_ends - fence_margin)
    try:
        await worker.start(stdin_data)
        assert worker.pid is not None and worker.pgid is not None
        fence.bind(worker.pid, worker.pgid, worker.start_time)
        registry.record_worker(
            WorkerRecord(task_id, worker.pid, worker.pgid, worker.start_time, spec.claim_token, spec.attempt)
        )
        emit(ev.WorkerStarted(task_id, task["lane"], spec.command.vendor, spec.command.model, spec.command.effort,
                              spec.attempt, worker.pid, spec.command.permissions))
        await _event(store, task_id, spec.claim_token, "headless_started", "headless agent invocation started",
                     {"vendor": spec.command.vendor, "model": spec.command.model, "effort": spec.command.effort,
                      "permissions": spec.command.permissions, "attempt": spec.attempt, "pid": worker.pid,
                      "log": str(log.path)})
    except BaseException:
        # Not recorded (a full disk), not announced, or cancelled: the agent must not run on unsupervised.
        await _abort(worker, registry, task_id)
        fence.disarm()
        await asyncio.to_thread(shutil.rmtree, scratch, True)
        raise

    verdict: list[tuple[str, str]] = []  # the first reason to stop wins

    def stop_for(outcome: str, reason: str) -> None:
        if not verdict:
            verdict.append((outcome, reason))

    async def read_stream() -> None:
        last_activity = None
        async for line in worker.lines():
            for item in parser.feed(line):
                if isinstance(item, Activity) and item.text != last_activity:
                    last_activity = item.text
                    emit(ev.WorkerActivity(task_id, item.text))
                elif isinstance(item, Usage):
                    cost, estimated = spend.of(parser.summary)
                    emit(ev.WorkerUsage(task_id, item.tokens_in, item.tokens_out, cost, estimated,
                                        item.tokens_cached, item.tokens_cache_write, item.tokens_reasoning))
                elif isinstance(item, ApiRetry):
                    emit(ev.WorkerApiRetry(task_id, item.attempt, item.max_retries, item.status,
                                           item.delay_seconds, item.describe()))
                elif isinstance(item, Denied):
                    emit(ev.WorkerDenied(task_id, item.tool, item.target))
            problem = budget_problem(task, parser.summary, *spend.of(parser.summary))
            if problem and not verdict:
                stop_for(OVER_BUDGET, problem)
                await worker.stop(problem)

    async def keep_lease() -> None:
        lease_ends = first_lease_ends
        fence.arm(lease_ends - fence_margin)
        while True:
            await asyncio.sleep(spec.lane.renew_seconds)
            asked = time.monotonic()
            try:
                renewed = await asyncio.wait_for(asyncio.to_thread(
                    store.renew, task_id, claim_token=spec.claim_token, lease_seconds=spec.lane.lease_seconds
                ), timeout=max(0.01, lease_ends - asked - fence_margin))
            except asyncio.TimeoutError:
                stop_for(LOST_CLAIM, "claim lost: the store did not answer a renewal before the lease would run out")
                await worker.stop("lease not renewed")
                return
            except (ConflictError, NotFound) as exc:  # refused: cancelled, broken, re-granted (G7)
                stop_for(LOST_CLAIM, f"claim lost: {exc}")
                await worker.stop("claim lost")
                return
            except LanesError as exc:
                # Not written (disk full, EIO, the database away): the claim stays ours until the
                # lease runs out, so try again next time, unless the lease would lapse before then.
                if time.monotonic() + spec.lane.renew_seconds + fence_margin < lease_ends:
                    continue
                stop_for(LOST_CLAIM, f"claim lost: the lease could not be renewed: {exc}")
                await worker.stop("lease not renewed")
                return
            lease_ends = asked + spec.lane.lease_seconds
            fence.arm(lease_ends - fence_margin)
            emit(ev.LeaseRenewed(task_id, renewed["lease_expires_at"]))

    async def guard_limits() -> None:
        stopping = asyncio.ensure_future(stop.wait())
        abandoned = asyncio.ensure_future(spec.abandon.wait())
        limit = spec.lane.timeout_seconds
        # A worker with lanes-tui's MCP server may ask: its requests are looked at every few
        # seconds (a "deny and stop" answer ends the attempt; an open one stops the clock).
        step = REQUEST_CHECK_SECONDS if spec.command.agent_tools else math.inf
        try:
            wait = min(limit, step)
            while True:
                done, _ = await asyncio.wait({stopping, abandoned}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                if abandoned in done:
                    stop_for(LOST_CLAIM, spec.abandon_reason)
                    await worker.stop(spec.abandon_reason)
                    return
                if stopping in done:
                    stop_for(STOPPED, "supervisor stopping")
                    await worker.stop("supervisor stopping")
                    return
                # The time the agent waited for a person (a question, a permission) is not its
                # work: the clock stops while one is open (the lease keeps being renewed).
                waited, held, stopped_by = await asyncio.to_thread(_held_by_people, store, task_id, began)
                if stopped_by is not None:
                    what = f"{stopped_by.tool or 'a tool call'} ({stopped_by.id})"
                    stop_for(OPERATOR_STOPPED, one_line(f"stopped by the operator, who denied {what}"
                                                        + (f": {stopped_by.reply}" if stopped_by.reply else ""), 300))
                    await worker.stop("stopped by the operator")
                    return
                left = limit - (time.monotonic() - started - waited)
                if left <= 0:
                    note = f" ({waited:.0f} s waiting for a person not counted)" if waited >= 1 else ""
                    stop_for(TIMED_OUT, f"timed out after {limit:g} s{note}")
                    await worker.stop("timeout")
                    return
                # While held the clock stands still: looking again at `left` finds it still there.
                wait = min(max(left, HELD_RECHECK_SECONDS) if held else left, step)
        finally:
            stopping.cancel()
            abandoned.cancel()

    reader = asyncio.create_task(read_stream())
    helpers = [asyncio.create_task(keep_lease()), asyncio.create_task(guard_limits())]
    try:
        await reader
        exit_info = await worker.wait()
    except BaseException:
        # Supervision itself failed (an observer raised, we were cancelled): stop the agent
        # before letting go of it, or it would run on with nobody renewing its claim (G9).
        reader.cancel()
        await _abort(worker, registry, task_id)
        raise
    finally:
        for helper in helpers:
            await _cancel_for_good(helper)
        fence.disarm()
        registry.forget_worker(task_id)
        await asyncio.to_thread(_close_requests, store, task_id)
        await asyncio.to_thread(shutil.rmtree, scratch, True)
    summary = parser.summary
    if fence.fired and not verdict:
        verdict.append((LOST_CLAIM, "claim lost: the lease would have run out before the store answered a "
                                    "renewal, so the worker was stopped"))
    outcome, reason = verdict[0] if verdict else judge(summary, exit_info)
    cost, estimated = spend.of(summary)
    return AttemptResult(outcome, reason, summary, exit_info, int((time.monotonic() - started) * 1000), log.path,
                         cost, estimated)



async def _cancel_for_good(helper: asyncio.Task[None]) -> None:
    """Cancel `helper` and wait for its end, cancelling again while it goes on. Once is not always
    enough on Python 3.11: a wait_for whose call finishes as the cancellation lands (the lease's
    renewal, in its thread) returns that call's result and swallows the cancellation, and the
    renewal loop would then renew the claim of an ended attempt for ever, the attempt waiting on it."""
    while not helper.done():
        helper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({helper}, timeout=HELPER_RECANCEL_SECONDS)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        helper.result()  # retrieved: an error of a helper that ended on its own is not logged as lost


def _held_by_people(store: Any, task_id: str, since: datetime) -> tuple[float, bool, InputRequest | None]:
    """Seconds since `since` this task's agent waited for answers, whether it still does, and a
    permission request of this attempt the operator answered "deny and stop" (if any)."""
    try:
        requests = [r for r in store.requests().all() if r.task_id == task_id]
    except (LanesError, OSError):
        return 0.0, False, None  # advisory: an unreadable request folder pauses nothing
    stop = next((r for r in requests if r.decision == DENY_STOP and _ts_or_none(r.created_at) is not None
                 and _ts_or_none(r.created_at) >= since), None)
    return (*seconds_waiting(requests, since, store.now()), stop)


def _ts_or_none(value: str) -> datetime | None:
    try:
        return parse_ts(value)
    except ValueError:
        return None


def _close_requests(store: Any, task_id: str) -> None:
    """Nobody waits for what the attempt's agent asked once it has ended: close its requests,
    with the reason, so the operator's list does not offer them (advisory: never fatal)."""
    with contextlib.suppress(LanesError, OSError):
        store.requests().close_for_task(task_id, "the attempt ended before an answer came")


async def _abort(worker: WorkerProcess, registry: SupervisorRegistry, task_id: str) -> None:
    """Stop a worker whose supervision failed; never raises (the original error matters)."""
    with contextlib.suppress(Exception):
        await worker.stop("supervision failed")
    worker.log.close()
    registry.forget_worker(task_id)


def judge(summary: RunSummary, exit_info: Exit) -> tuple[str, str]:
    """How a run that ended by itself went: its stream and its exit status together."""
    if summary.outcome is Outcome.RATE_LIMITED or (
        summary.outcome is not Outcome.ANSWERED and mentions_rate_limit(exit_info.stderr_tail)
    ):
        what = "quota or usage limit" if summary.quota else "rate limited"
        return RATE_LIMITED, f"{what}: {_short(summary.error or _last_line(exit_info.stderr_tail))}"
    if exit_info.signal is not None:
        return FAILED, f"agent killed by signal {exit_info.signal}" + _detail(exit_info)
    if exit_info.returncode not in (0, None):
        return FAILED, f"agent exited with status {exit_info.returncode}" + _detail(exit_info, summary)
    if summary.outcome is Outcome.FAILED:
        return FAILED, f"agent reported an error: {_short(summary.error)}"
    if summary.outcome is Outcome.ANSWERED:
        return ANSWERED, "answered"
    return FAILED, "agent exited without a final answer"


async def _event(store: Backend, task_id: str, token: str, kind: str, message: str, data: dict[str, Any]) -> None:
    """Dispatcher events as agent-lanes' bundled dispatcher writes them; never fatal."""
    with contextlib.suppress(LanesError, OSError):
        await asyncio.to_thread(store.append_event, task_id, kind, message, data, claim_token=token)


def _detail(exit_info: Exit, summary: RunSummary | None = None) -> str:
    text = (summary.error if summary and summary.error else None) or _last_line(exit_info.stderr_tail)
    return f": {_short(text)}" if text else ""


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _short(text: str | None, limit: int = 300) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def max_attempts_for(task: dict[str, Any], lane_max: int) -> int:
    """How many failed attempts fail the task: its `metadata.max_attempts` (a whole number 1..100,
    or the string a `--metadata` pair gives), else the lane's setting."""
    metadata = task.get("metadata")
    wanted = _number(metadata.get("max_attempts")) if isinstance(metadata, dict) else None
    if wanted is not None and wanted.is_integer() and 1 <= wanted <= 100:
        return int(wanted)
    return lane_max


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) and number >= 0 else None
