"""`lanes-tui --no-ui`: the supervisor without a screen, for CI and servers.

One line per supervisor event on stdout (JSON lines with --json), a summary
file on request, and an exit code that means something:

    0   every task it ran completed (or, without --drain, it was stopped cleanly)
    10  some task failed
    11  --drain ended with tasks it could not run (no usable vendor for them)
    130 interrupted (SIGINT/SIGTERM): running workers got the shutdown grace
        period, then were stopped and their claims released with a reason

First SIGINT/SIGTERM: stop claiming, let workers finish within the grace
period. A second one: stop the workers now.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from lanes_tui.core import fsio
from lanes_tui.core.errors import LanesError
from lanes_tui.core.paths import expand_user
from lanes_tui.core.sanitize import one_line
from lanes_tui.core.states import COMPLETED, FAILED
from lanes_tui.engine import events as ev
from lanes_tui.engine.attempt_transcript import TaskTranscript
from lanes_tui.engine.supervisor import Supervisor

if TYPE_CHECKING:
    from lanes_tui.engine.service import Engine

EXIT_OK, EXIT_SOME_FAILED, EXIT_STUCK, EXIT_INTERRUPTED = 0, 10, 11, 130


class EventPrinter:
    def __init__(self, out: TextIO, as_json: bool) -> None:
        self.out = out
        self.as_json = as_json

    def __call__(self, event: ev.SupervisorEvent) -> None:
        data = event.as_dict()
        if self.as_json:
            line = json.dumps({"time": round(time.time(), 3), **data}, sort_keys=True)
        else:
            name = data.pop("event")
            fields = " ".join(f"{key}={_show(value)}" for key, value in data.items() if value not in (None, (), ""))
            line = f"{time.strftime('%H:%M:%S')} {name:<18} {fields}"
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except (OSError, ValueError):
            pass  # nobody reads our log any more (broken pipe, a terminal gone: EIO): keep supervising


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    # Agent-written text on a terminal: one line, no escape sequences.
    return one_line(str(value), 160)


class TranscriptPrinter:
    """`--transcript`: each worker's transcript (engine/attempt_transcript.py), the same lines the
    dashboard's log screen shows, printed as its attempt log grows. The log is read a moment after
    the worker's events (one read per burst, only the bytes appended since: a flood of output is
    not a read per line on the event loop), and to its end when the worker finishes, so nothing
    is skipped, however the events fall. Lines are sanitised by the transcript."""

    COALESCE_SECONDS = 0.2

    def __init__(self, engine: "Engine", out: TextIO, as_json: bool) -> None:
        self.engine = engine
        self.out = out
        self.as_json = as_json
        self._open: dict[str, TaskTranscript] = {}
        self._pending: dict[str, asyncio.TimerHandle] = {}

    def __call__(self, event: ev.SupervisorEvent) -> None:
        task_id = getattr(event, "task_id", None)
        if not isinstance(task_id, str):
            return
        if isinstance(event, ev.WorkerStarted) and task_id not in self._open:
            # Earlier attempts were printed when they ran (or are history): this one from its start.
            self._open[task_id] = self.engine.task_transcript(task_id, first_attempt=event.attempt)
        transcript = self._open.get(task_id)
        if transcript is None:
            return
        if isinstance(event, ev.WorkerFinished):
            handle = self._pending.pop(task_id, None)
            if handle is not None:
                handle.cancel()
            self._print(task_id, transcript.update())
            self._print(task_id, [line for log in transcript.attempts for entry in log.finish()
                                  for line in entry.lines()])
            del self._open[task_id]
        elif task_id not in self._pending:
            self._pending[task_id] = asyncio.get_running_loop().call_later(self.COALESCE_SECONDS, self._flush, task_id)

    def _flush(self, task_id: str) -> None:
        self._pending.pop(task_id, None)
        transcript = self._open.get(task_id)
        if transcript is not None:
            self._print(task_id, transcript.update())

    def _print(self, task_id: str, lines: list[str]) -> None:
        if not lines:
            return
        if self.as_json:
            text = "".join(json.dumps({"event": "transcript", "task_id": task_id, "line": line}) + "\n"
                           for line in lines)
        else:
            tag = task_id[-12:]
            text = "".join(f"{tag} | {line}\n" for line in lines)
        try:
            self.out.write(text)
            self.out.flush()
        except (OSError, ValueError):
            pass  # as EventPrinter: nobody reads our output any more


async def run_headless(engine: "Engine", *, as_json: bool, summary_path: Path | None = None,
                       out: TextIO | None = None, transcript: bool = False) -> int:
    """Run a supervising engine until it drains or is stopped; one line per event on `out`
    (with `transcript`, also every worker's transcript)."""
    supervisor = engine.supervisor
    if supervisor is None:
        raise LanesError("--no-ui supervises: it needs an engine that runs workers")
    engine.observe(EventPrinter(out or sys.stdout, as_json))
    if transcript:
        engine.observe(TranscriptPrinter(engine, out or sys.stdout, as_json))
    interrupted: list[int] = []
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        interrupted.append(signum)
        if len(interrupted) == 1:
            engine.request_stop(f"interrupted by {signal.Signals(signum).name}")
        else:
            engine.stop_workers_now()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await engine.start()
        await engine.run()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    code = exit_code(supervisor, bool(interrupted))
    if code == EXIT_STUCK:
        _say_why_stuck(supervisor)
    if summary_path is not None:
        write_summary(summary_path, supervisor, code)
    return code


def _say_why_stuck(supervisor: Supervisor) -> None:
    """Exit 11 in one line on stderr: how many tasks could not run, and the first reason."""
    waiting = supervisor.waiting
    if not waiting:
        return
    reasons = sorted(set(waiting.values()))
    more = f" (and {len(reasons) - 1} other reason(s); see --summary)" if len(reasons) > 1 else ""
    try:
        sys.stderr.write(f"lanes-tui: drain stopped: {len(waiting)} task(s) cannot run here: "
                         f"{one_line(reasons[0], 300)}{more}\n")
    except (OSError, ValueError):
        pass


def exit_code(supervisor: Supervisor, interrupted: bool) -> int:
    if interrupted:
        return EXIT_INTERRUPTED
    if any(r.state == FAILED for r in supervisor.records.values()):
        return EXIT_SOME_FAILED
    if supervisor.drain and supervisor.waiting:
        return EXIT_STUCK
    return EXIT_OK


def summary_of(supervisor: Supervisor, code: int) -> dict[str, Any]:
    tasks = [
        {
            "id": r.task_id, "lane": r.lane, "state": r.state, "attempts": r.attempts,
            "duration_ms": r.duration_ms, "tokens_in": r.tokens_in, "tokens_out": r.tokens_out,
            "cost_usd": r.cost_usd, "cost_estimated": r.cost_estimated, "vendor": r.vendor, "model": r.model,
            "api_retries": r.api_retries, "denials": r.denials, "attention": r.attention, "reason": r.reason,
        }
        for r in sorted(supervisor.records.values(), key=lambda r: r.task_id)
    ]
    costs = [t["cost_usd"] for t in tasks if t["cost_usd"] is not None]
    return {
        "exit_code": code,
        "store": supervisor.store.location,
        "tasks": tasks,
        "waiting": [{"id": tid, "reason": reason} for tid, reason in sorted(supervisor.waiting.items())],
        "totals": {
            "tasks": len(tasks),
            "completed": sum(1 for t in tasks if t["state"] == COMPLETED),
            "failed": sum(1 for t in tasks if t["state"] == FAILED),
            "tokens_in": sum(t["tokens_in"] for t in tasks),
            "tokens_out": sum(t["tokens_out"] for t in tasks),
            "cost_usd": round(sum(costs), 6) if costs else None,
            "duration_ms": sum(t["duration_ms"] for t in tasks),
        },
    }


def write_summary(path: Path, supervisor: Supervisor, code: int) -> None:
    target = expand_user(path, "--summary").resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with fsio.open_dir(target.parent) as fd:
        fsio.write_atomic(target.name, fsio.dumps_json(summary_of(supervisor, code)), dir_fd=fd, mode=0o644)
