#!/usr/bin/env python3
"""Dashboard benchmark: the full-screen `lanes-tui` app in a real pty, next to `lanes-tui --no-ui`.

The issue's targets (issue 12): with 10,000 tasks and their history on disk the
first frame appears in under 1.5 s, a change shows within 200 ms, an idle
dashboard uses under 2% of a core, and the transcript of a 20 MB attempt log
opens in under 300 ms (paged, not read whole). This script measures them the way
a user meets them: the `lanes-tui` console script (no subcommand, `--config
handoff/handoff.yaml`) runs in a pseudo-terminal of 120x40 with
TERM=xterm-256color, and what it draws is read back from the pty's master side
(a reader thread, select + os.read, every chunk time-stamped on arrival). ANSI
sequences are stripped from the byte stream before searching it, so a marker is
found however Textual splits a line into styled pieces. The script only prints
(no asserts on the targets).

The store: bench/queue_bench.py's generator (imported), 90% finished, 10%
queued on two lanes, written where handoff.yaml's queue_root points, then given
the history a queue lanes-tui's supervisor ran for a while leaves behind
(`add_history`): answers with the run's metadata as the supervisor writes it
(vendor, model_used/model_reported, effort_used, tokens, cost_usd: what
RunFacts.of reads), events for every attempt (claimed with its number,
dispatcher_started, headless_started, headless_completed or headless_failed +
attempt_failed + released), 8% completed on a second attempt, 4% failed after 3
attempts, 1% cancelled, every 20th queued task back in the queue after a failed
attempt, and small Claude/Codex stream-json attempt logs (Backend.attempt_log_path)
for a quarter of the finished tasks and every failed or retried one. One task is
claimed (by another host's supervisor, lease one day): its running attempt's log
is 20 MB (bench/transcript_bench.py's generator) ending in a message with a
marker; it sorts first in the table (running, then queued oldest first), so it
is the selected row at start. The workspace's lanes-tui.yaml sets
`lane_defaults: {mode: external}`, so the supervisor never runs those tasks, and
one extra `probe` lane internal (used only by the headless latency probe below).
Three programs, each launched N times (default 3) on the same store:

  * the dashboard with its embedded supervisor (lanes external: it only watches);
  * the dashboard with --watch-only (no supervisor at all);
  * `lanes-tui --no-ui --json` (the headless supervisor), also in the pty.

Per launch:
  1. first byte: spawn (just before pty.fork) to the first byte on the pty;
  2. first frame: spawn to the header line showing the loaded store
     (`queued Q  claimed C  completed N`, drawn in the same refresh as the
     table's rows); for --no-ui: spawn to its `supervisor_started` line;
  3. idle CPU: 3 s after the first frame, utime+stime of the process and all
     its descendants (and reaped children) from /proc over a 10 s window, as %
     of one core;
  4. change latency, 5 times: a task created in this process with
     lanes_tui's FileBackend.create_task, timed from just before the call until
     the pty shows it: the dashboard's header `queued Q+1`; --no-ui prints
     nothing for tasks on external lanes, so its probe task goes to the
     internal `probe` lane with metadata.depends_on = a queued task, and the
     time runs until its `task_waiting` JSON line (detection plus one planning
     step, no agent started);
  5. (dashboards) transcript opened, 3 times: `l` written to the pty (the
     selected row is the claimed task) until the log screen shows the big log's
     last line (its marker, drawn after the screen's `log <task id>` header),
     then escape until the dashboard's header is back. Also noted: the header's
     token totals once the answers read at start are in (the history shown).
Then the dashboard is quit with `q` (the time to exit is reported), --no-ui
with SIGTERM; SIGTERM/SIGKILL to the process group if they linger, and any
process left in the session is killed and reported.

One untimed launch of each dashboard mode goes first (its first frame is
reported: the first launch on a freshly written store); Python bytecode is
warm for all launches (a private PYTHONPYCACHEPREFIX, filled by a warm-up
launch on a small store with history, which also opens the log screen).
agent-lanes has no dashboard; its `status --all` (human output, through a
pipe) on the same store is the nearest thing an agent-lanes user runs to see
the queue, shown beside the first frame. Phases measured apart for the notes:
the app's imports in a bare interpreter, the index scan and the transcript read
in this process.

    python bench/ui_bench.py                   # 10,000 tasks, 3 launches of each (about 4.5 minutes)
    python bench/ui_bench.py --quick           # smoke run: 1,000 tasks, 1 launch, 5 s idle window
    python bench/ui_bench.py --markdown-out table.md --tmpdir /var/tmp

Progress goes to stderr; the table (markdown) goes to stdout.
"""

from __future__ import annotations

import argparse
import bisect
import codecs
import fcntl
import hashlib
import json
import os
import pty
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for folder in (REPO, BENCH):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import bench_common  # noqa: E402
import queue_bench  # noqa: E402  (bench/queue_bench.py: generator, workspace, helpers)
import transcript_bench  # noqa: E402  (bench/transcript_bench.py: the big attempt log's generator)
from queue_bench import (  # noqa: E402
    LANES,
    WORKSPACE_ID,
    Workspace,
    fmt_value,
    generate_store,
    log,
    machine_line,
    make_workspace,
    run_cli,
)

from lanes_tui.engine import service  # noqa: E402
from lanes_tui.engine.attempt_transcript import TAIL_BYTES, TaskTranscript  # noqa: E402
from lanes_tui.engine.index import TaskIndex  # noqa: E402
from lanes_tui.storage.files.backend import FileBackend  # noqa: E402
from lanes_tui.storage.files.scan import all_tasks  # noqa: E402
from lanes_tui.ui import formatting as fmt  # noqa: E402
from lanes_tui.ui.app import COALESCE_SECONDS  # noqa: E402  (quoted in the notes)

CLK_TCK = os.sysconf("SC_CLK_TCK")
PROBE_LANE = "probe"  # internal: the headless supervisor reports its tasks (they wait on a dependency)
FIRST_FRAME_TARGET = 1.5  # seconds
CHANGE_TARGET = 0.200  # seconds
IDLE_TARGET = 2.0  # % of one core
TRANSCRIPT_TARGET = 0.300  # seconds: `l` on a task whose attempt log is 20 MB, to its last line shown

# Complete escape sequences: CSI, OSC (BEL or ST), DCS, charset selection, two-byte ESC x.
ANSI = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|P[^\x1b]*\x1b\\|[()*+][0-9A-Za-z]|[@-Z\\-_=>78])"
)
# The header's figures, with its long labels or the short ones it uses when they would not fit.
HEADER = r"(?:queued|q)\s+(?P<queued>\d+)\s+(?:claimed|run)\s+\d+\s+(?:completed|done)\s+{completed}(?!\d)"


# -- history on disk ---------------------------------------------------------------------------
#
# queue_bench's generator writes what agent-lanes leaves behind: task.json, a created/claimed/
# response event trail, a bare answer. A queue lanes-tui's supervisor ran for a while holds more,
# and the dashboard reads some of it at start: the answers' run facts (vendor, model, tokens,
# cost: RunFacts.of over response.json's metadata, as Supervisor._record_answer writes it), the
# attempts of unfinished and failed tasks (counted from their events), and the attempt logs under
# the store's cache folder (Backend.attempt_log_path) when a transcript is opened.

SUPERVISOR_OWNER = "lanes-tui@bench-host:4242"  # another host's supervisor: never reclaimed here
FAILED_EVERY = 25  # finished task i with i % 25 == 7: failed for good after 3 attempts (4%)
CANCELLED_EVERY = 100  # i % 100 == 13: cancelled while queued (1%)
RETRIED_EVERY = 12  # i % 12 == 5: completed on the second attempt, the first failed (8%)
LOG_EVERY = 4  # i % 4 == 0: the attempt logs are on disk (also every failed and retried task)
QUEUED_RETRY_EVERY = 20  # queued task k with k % 20 == 3: one failed attempt behind it, back in the queue
BIG_LOG_TITLE = "Refactor the storage layer (long run)"
FAIL_REASONS = (
    "claude exited with code 1: API Error: 529 overloaded",
    "no answer within the lane's timeout of 1800 s",
    "the agent's stream ended without a result (killed by signal 9)",
)
MODELS = (  # (vendor, model_used, model_reported or "", effort, $ per M tokens in, out)
    ("claude", "claude-sonnet-5", "claude-sonnet-5-20260915", "high", 3.0, 15.0),
    ("claude", "claude-opus-4-8", "", "xhigh", 15.0, 75.0),
    ("claude", "claude-haiku-4-5", "", "", 1.0, 5.0),
    ("codex", "gpt-6.2-sol", "", "medium", 1.25, 10.0),
)


@dataclass
class History:
    counts: dict[str, int]  # tasks by state
    big_task: str  # the claimed task whose attempt log is big (the table's first row)
    marker: str  # the text on the big log's last display line
    big_log_bytes: int
    big_log_lines: int
    logs: int  # attempt logs written (the big one included)
    log_bytes: int
    tasks_with_logs: int
    answers_with_facts: int
    cancelled: int
    expected_tokens: str  # the header's `tokens IN/OUT` once the answers read at start are in ("" if unknown)


def _jl(items: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(item) + "\n" for item in items).encode()


def small_log(i: int, attempt: int, vendor: str, model: str, ok: bool, answer: str, usage: tuple[int, int],
              cost: float, reason: str) -> bytes:
    """One attempt's stdout as the vendor's CLI streams it: a few tool calls and the answer (3-6 KB)."""
    session = hashlib.md5(f"{i}-{attempt}".encode()).hexdigest()
    listing = "\n".join(f"{n:4}  {'def' if n % 9 == 0 else '   '} line {n} of src/module_{i % 40}.py" for n in range(40))
    if vendor == "codex":
        items = [
            {"type": "thread.started", "thread_id": session},
            {"type": "item.completed", "item": {"id": "item_0", "type": "reasoning",
                                                "text": f"Reading the request for task {i}, then the diff."}},
            {"type": "item.completed", "item": {"id": "item_1", "type": "command_execution",
                                                "command": "bash -lc 'git diff --stat HEAD~1'", "exit_code": 0,
                                                "aggregated_output": listing, "status": "completed"}},
        ]
        if ok:
            items.append({"type": "item.completed", "item": {"id": "item_2", "type": "agent_message", "text": answer}})
            items.append({"type": "turn.completed", "usage": {"input_tokens": usage[0], "cached_input_tokens": 0,
                                                              "output_tokens": usage[1]}})
        else:
            items.append({"type": "turn.failed", "error": {"message": reason}})
        return _jl(items)
    items = [
        {"type": "system", "subtype": "init", "session_id": session, "model": model, "tools": ["Read", "Bash", "Edit"]},
        {"type": "assistant", "message": {"id": f"m{i}a", "content": [
            {"type": "text", "text": f"I will read request.md (task {i}) and the change it points at."}]}},
        {"type": "assistant", "message": {"id": f"m{i}b", "content": [
            {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "request.md"}}]}},
        {"type": "user", "message": {"content": [{"type": "tool_result", "tool_use_id": "t1", "content": listing}]}},
        {"type": "assistant", "message": {"id": f"m{i}c", "content": [
            {"type": "tool_use", "id": "t2", "name": "Bash",
             "input": {"command": "git diff --stat HEAD~1", "description": "What the change touches"}}]}},
        {"type": "user", "message": {"content": [{"type": "tool_result", "tool_use_id": "t2", "content": listing}]}},
    ]
    if ok:
        items.append({"type": "assistant", "message": {"id": f"m{i}d", "content": [{"type": "text", "text": answer}]}})
        items.append({"type": "result", "subtype": "success", "is_error": False, "result": answer, "num_turns": 3,
                      "session_id": session, "duration_ms": 52_000, "total_cost_usd": cost,
                      "usage": {"input_tokens": usage[0], "output_tokens": usage[1]}})
    else:
        items.append({"type": "result", "subtype": "error_during_execution", "is_error": True, "num_turns": 2,
                      "session_id": session, "errors": [reason], "usage": {"input_tokens": usage[0] // 2,
                                                                          "output_tokens": 0}})
    return _jl(items)


def _write_log(path: Path, data: bytes) -> None:
    for folder in (path.parent.parent.parent, path.parent.parent, path.parent):  # .lanes-tui/logs/<id>, all 0700
        folder.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def add_history(store_root: Path, shape: queue_bench.StoreShape, ws: Workspace, big_log_mb: int) -> History:
    """Turn queue_bench's store into one lanes-tui's supervisor has run for a while (in place).

    Finished tasks (90%): answered by a lanes-tui supervisor with the run's metadata (a mix of
    vendors and models, tokens, cost), events for every attempt (claimed with its attempt number,
    dispatcher_started, headless_started with the log's path, headless_completed or
    headless_failed + attempt_failed + released), 8% completed on a second attempt, 4% failed
    after 3 attempts, 1% cancelled while queued; a quarter of them (and every failed or retried
    one) with their small attempt logs. Queued tasks (10%): every 20th has a failed attempt behind
    it; the oldest on the second lane is claimed (by another host's supervisor, lease one day)
    and its running attempt's log is `big_log_mb` MB of stream-json (transcript_bench's
    generator) ending in a message that carries `marker`. The claimed task sorts first in the
    dashboard's table (running, then queued oldest first), so it is the selected row at start.
    """
    backend = FileBackend(store_root)
    tasks_dir = store_root / "tasks"
    ids = sorted(os.listdir(tasks_dir))  # queue_bench's ids start with the creation time: i order
    n = len(ids)
    finished = n - shape.queued
    queued_ids = [task_id for lane in LANES for task_id in shape.ids_by_lane[lane]]
    queued_rank = {task_id: k for k, task_id in enumerate(sorted(queued_ids))}
    big_task = shape.ids_by_lane[LANES[1]][0]
    marker = f"UIBENCH-LAST-LINE-{hashlib.md5(big_task.encode()).hexdigest()[:10]}"
    now = datetime.now(UTC)
    counts = {"queued": 0, "claimed": 0, "completed": 0, "failed": 0}
    logs = log_bytes = tasks_with_logs = facts = cancelled = 0
    completed_usage: list[tuple[str, int, int]] = []  # (completed_at, tokens in, out) of answers with facts
    old_umask = os.umask(0o077)
    try:
        for i, task_id in enumerate(ids):
            folder = tasks_dir / task_id
            task = json.loads((folder / "task.json").read_text())
            created = datetime.strptime(task["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            vendor, model, reported, effort, price_in, price_out = MODELS[(i * 7) % len(MODELS)]
            lane = task["lane"]
            task["metadata"] = {"title": f"Review the {lane} change #{i}"}
            events = [queue_bench._event(created, "created", "task queued", {"lane": lane})]
            with_logs = i % LOG_EVERY == 0
            attempt_logs: list[tuple[int, bytes]] = []

            def attempt(number: int, start: datetime, ok: bool, reason: str = "", *, last: bool = True,
                        answer: str = "", usage: tuple[int, int] = (0, 0), cost: float = 0.0) -> datetime:
                """The events of one attempt from `start`; returns when it ended."""
                log_path = backend.attempt_log_path(task_id, number)
                events.append(queue_bench._event(start, "claimed", "task claimed",
                                                 {"owner": SUPERVISOR_OWNER, "attempt": number}))
                events.append(queue_bench._event(
                    start, "dispatcher_started", "dispatcher claimed task and is preparing headless agent",
                    {"owner": SUPERVISOR_OWNER, "vendor": vendor, "model_class": "any", "effort": effort or None,
                     "permissions": "read-only"}))
                events.append(queue_bench._event(
                    start + timedelta(milliseconds=300), "headless_started", "headless agent invocation started",
                    {"vendor": vendor, "model": model, "effort": effort or None, "permissions": "read-only",
                     "attempt": number, "pid": 10_000 + i, "log": str(log_path)}))
                end = start + timedelta(seconds=52)
                if ok:
                    events.append(queue_bench._event(end, "headless_completed", "headless agent invocation completed",
                                                     {"attempt": number, "duration_ms": 52_000}))
                else:
                    events.append(queue_bench._event(end, "headless_failed", "headless agent invocation failed",
                                                     {"attempt": number, "reason": reason}))
                    events.append(queue_bench._event(end, "attempt_failed", reason, {"attempt": number, "reason": reason}))
                    if not last:
                        events.append(queue_bench._event(end, "released", "claim released", {
                            "reason": f"attempt {number} failed: {reason}; retry in 30 s"}))
                if with_logs:
                    attempt_logs.append((number, small_log(i, number, vendor, model, ok, answer, usage, cost, reason)))
                return end + timedelta(seconds=30 if not ok else 0)

            if i < finished and i % CANCELLED_EVERY == 13:
                stamp = queue_bench._ts(created + timedelta(seconds=20))
                task.update(state="failed", claim_owner=None, claim_token=None, lease_expires_at=None, claimed_at=None,
                            completed_at=None, failed_at=stamp, updated_at=stamp, failure_reason="cancelled")
                events.append(queue_bench._event(created + timedelta(seconds=20), "cancelled", "task cancelled by operator",
                                                 {"by": "operator", "reason": "superseded", "previous_state": "queued",
                                                  "previous_owner": None}))
                (folder / "response.json").unlink()
                cancelled += 1
            elif i < finished:
                failed = i % FAILED_EVERY == 7
                with_logs = with_logs or failed or i % RETRIED_EVERY == 5
                moment = created + timedelta(seconds=1)
                if failed:
                    for number in (1, 2, 3):
                        moment = attempt(number, moment, False, FAIL_REASONS[(i + number) % 3], last=number == 3)
                    body = "failed after 3 attempt(s):\n" + "\n".join(
                        f"{k}. {FAIL_REASONS[(i + k) % 3]}" for k in (1, 2, 3))
                    metadata: dict[str, Any] = {}
                    status = "failed"
                else:
                    number = 1
                    if i % RETRIED_EVERY == 5:
                        moment = attempt(1, moment, False, FAIL_REASONS[i % 3], last=False)
                        number = 2
                    tokens_in, tokens_out = 20_000 + (i * 7919) % 180_000, 800 + (i * 104_729) % 9_000
                    cost = round((tokens_in * price_in + tokens_out * price_out) / 1e6, 6)
                    body = (f"Verdict: accept.\n\nTask {i}: the change to src/module_{i % 40}.py does what "
                            "request.md asks. No blocking issues.\n\nNon-blocking:\n"
                            + "".join(f"- line {10 * k}: the name could say what it holds ({k}).\n" for k in range(1, 12)))
                    moment = attempt(number, moment, True, answer=body, usage=(tokens_in, tokens_out), cost=cost)
                    metadata = {
                        "model_used": model, "effort_used": effort or None, "permissions": "read-only",
                        "tokens_in": tokens_in, "tokens_out": tokens_out, "tokens_cache_read": tokens_in // 2,
                        "tokens_cache_write": tokens_in // 10, "tokens_reasoning": tokens_out // 3 if vendor == "codex" else 0,
                        "cost_usd": cost, "cost_estimated": vendor == "codex", "duration_ms": 52_000,
                        "api_retries": 1 if i % 3 == 0 else 0, "vendor": vendor,
                        "session_id": hashlib.md5(f"{i}-{number}".encode()).hexdigest(), "attempt": number,
                    }
                    if reported:
                        metadata["model_reported"] = reported
                    status = "completed"
                    facts += 1
                stamp = queue_bench._ts(moment)
                token = hashlib.md5(f"{task_id}-last".encode()).hexdigest()
                task.update(claim_owner=SUPERVISOR_OWNER, claim_token=token, updated_at=stamp,
                            claimed_at=queue_bench._ts(moment - timedelta(seconds=52)),
                            lease_expires_at=queue_bench._ts(moment + timedelta(seconds=848)))
                if failed:
                    task.update(state="failed", completed_at=None, failed_at=stamp, failure_reason=body)
                else:
                    task.update(state="completed", completed_at=stamp, failed_at=None, failure_reason=None)
                    completed_usage.append((stamp, metadata["tokens_in"], metadata["tokens_out"]))
                response = {
                    "task_id": task_id, "reviewer": SUPERVISOR_OWNER, "status": status, "body": body,
                    "reviewed_request_sha256": task["request_sha256"], "request_changed_before_response": False,
                    "follow_up_required": False, "verdict": None, "blocking_count": None, "nonblocking_count": None,
                    "metadata": metadata, "created_at": stamp,
                }
                (folder / "response.json").write_text(queue_bench._dumps(response))
                events.append(queue_bench._event(moment, "response", "response submitted", {"reviewer": SUPERVISOR_OWNER}))
            elif task_id == big_task:
                task["metadata"] = {"title": BIG_LOG_TITLE}
                claimed = now - timedelta(minutes=20)
                task.update(state="claimed", claim_owner=SUPERVISOR_OWNER,
                            claim_token=hashlib.md5(task_id.encode()).hexdigest(), claimed_at=queue_bench._ts(claimed),
                            updated_at=queue_bench._ts(claimed),
                            lease_expires_at=queue_bench._ts(now + timedelta(days=1)))
                with_logs = False  # its one log is written below
                events.append(queue_bench._event(claimed, "claimed", "task claimed",
                                                 {"owner": SUPERVISOR_OWNER, "attempt": 1}))
                path = backend.attempt_log_path(task_id, 1)
                events.append(queue_bench._event(claimed, "headless_started", "headless agent invocation started",
                                                 {"vendor": "claude", "model": "claude-opus-4-8", "effort": "xhigh",
                                                  "permissions": "edit", "attempt": 1, "pid": 9999, "log": str(path)}))
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                big_lines = transcript_bench.write_log(path, big_log_mb)
                with path.open("ab") as out:  # the running attempt's newest message: the screen's last line
                    out.write(_jl([{"type": "assistant", "message": {"id": "last", "content": [
                        {"type": "text", "text": f"{marker} (the newest message of this run)"}]}}]))
                big_lines += 1
                logs, log_bytes, tasks_with_logs = logs + 1, log_bytes + path.stat().st_size, tasks_with_logs + 1
            elif queued_rank.get(task_id, 0) % QUEUED_RETRY_EVERY == 3:
                with_logs = True
                attempt(1, created + timedelta(seconds=1), False, FAIL_REASONS[i % 3], last=False)
                task["updated_at"] = queue_bench._ts(created + timedelta(seconds=53))
            for number, data in attempt_logs:
                _write_log(backend.attempt_log_path(task_id, number), data)
                logs, log_bytes = logs + 1, log_bytes + len(data)
            tasks_with_logs += bool(attempt_logs)
            counts[task["state"]] += 1
            (folder / "task.json").write_text(queue_bench._dumps(task))
            (folder / "events.jsonl").write_text("".join(events))
    finally:
        os.umask(old_umask)
    expected = ""
    loaded_at_start = getattr(service, "ANSWER_FACTS_LOADED_AT_START", None)
    if isinstance(loaded_at_start, int):  # the newest answers the engine reads at start: their tokens in the header
        newest = sorted(completed_usage, reverse=True)[:loaded_at_start]
        expected = f"{fmt.tokens(sum(u[1] for u in newest))}/{fmt.tokens(sum(u[2] for u in newest))}"
    return History(counts, big_task, marker, (backend.attempt_log_path(big_task, 1)).stat().st_size, big_lines,
                   logs, log_bytes, tasks_with_logs, facts, cancelled, expected)


def check_history(store_root: Path, history: History, scratch: Path, ws: Workspace) -> None:
    """The generated history reads back as lanes-tui's own would: the same keys as a task the
    store API answered with metadata, run facts found, states counted, the big log's last line."""
    real = FileBackend(scratch)
    task = real.create_task(workspace_id=WORKSPACE_ID, correlation_id="c", source_agent="s", lane=LANES[0],
                            workspace_root=ws.root, request_path=ws.request, response_path=ws.root / "r.md", prompt="p")
    claimed = real.claim(task["id"], owner=SUPERVISOR_OWNER, lease_seconds=60)
    real.respond(task["id"], body="ok", reviewer=SUPERVISOR_OWNER, claim_token=claimed["claim_token"],
                 metadata={"vendor": "claude", "model_used": "m", "tokens_in": 1})
    store = FileBackend(store_root)
    listing = all_tasks(store)
    assert not listing.corrupt, f"corrupt tasks in the generated history: {listing.corrupt[:3]}"
    by_state: dict[str, int] = {}
    for item in listing.tasks:
        by_state[item["state"]] = by_state.get(item["state"], 0) + 1
    assert by_state == {k: v for k, v in history.counts.items() if v}, (by_state, history.counts)
    done = next(t for t in listing.tasks if t["state"] == "completed")
    mine, theirs = store.read_response(done["id"]), real.read_response(task["id"])
    assert mine is not None and theirs is not None and set(mine) == set(theirs), "response.json keys differ"
    assert set(done) == set(real.read_task(task["id"])), "task.json keys differ"
    assert service.RunFacts.of(mine["metadata"]) is not None, "no run facts in a generated answer"
    assert store.attempts(history.big_task) == 1
    transcript = TaskTranscript(store.attempt_log_path(history.big_task, 1))
    lines = transcript.update()
    assert lines and history.marker in lines[-1], f"the big log's last display line: {lines[-1:]!r}"
    shutil.rmtree(scratch)


# -- the pty ----------------------------------------------------------------------------


@dataclass
class _Watch:
    pattern: re.Pattern[str]
    since: int  # absolute offset into the stripped text
    done: threading.Event = field(default_factory=threading.Event)
    at: float = 0.0
    match: re.Match[str] | None = None
    end: int = 0  # absolute offset just past the match


class PtyProcess:
    """A command on a fresh pty (session leader, the pty its controlling terminal), read by a thread.

    The thread keeps the output flowing (a full pty buffer would stall the child's
    writes), strips escape sequences and checks the registered watches on every
    chunk; a watch (also one registered after its text arrived) reports the
    perf_counter time at which the chunk that completed the match was read.
    """

    KEEP = 256 * 1024  # stripped characters kept (watches only look at what arrives after them)
    OVERLAP = 4096  # characters before a new chunk searched again (a marker split over two chunks)

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], rows: int, cols: int) -> None:
        self.argv = argv
        self.started = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # child: size the terminal before anything can ask for it, then exec
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                os.chdir(cwd)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.first_byte: float | None = None
        self.bytes_read = 0
        self.returncode: int | None = None
        self.eof = threading.Event()
        self._lock = threading.Lock()
        self._text = ""  # the stripped output from absolute offset self._base on
        self._base = 0
        self._ends: list[int] = []  # absolute end offset of each retained chunk's stripped text ...
        self._times: list[float] = []  # ... and when it was read
        self._pending = ""  # a possibly incomplete escape sequence at the end of the last chunk
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._watches: list[_Watch] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    # reading

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.5)
                if not ready:
                    if self.poll() is not None:
                        break
                    continue
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the child side is closed
                break
            now = time.perf_counter()
            if not chunk:
                break
            if self.first_byte is None:
                self.first_byte = now
            self.bytes_read += len(chunk)
            self._feed(self._decoder.decode(chunk), now)
        self.eof.set()

    def _feed(self, decoded: str, now: float) -> None:
        text = self._pending + decoded
        self._pending = ""
        cut = text.rfind("\x1b")
        if cut >= 0 and len(text) - cut < 512 and not ANSI.match(text, cut):
            text, self._pending = text[:cut], text[cut:]
        clean = ANSI.sub("", text)
        with self._lock:
            start = self._base + len(self._text)
            self._text += clean
            self._ends.append(start + len(clean))
            self._times.append(now)
            if len(self._text) > 2 * self.KEEP:
                drop = len(self._text) - self.KEEP
                self._text = self._text[drop:]
                self._base += drop
                keep = bisect.bisect_right(self._ends, self._base)
                del self._ends[:keep], self._times[:keep]
            for watch in self._watches:
                self._check(watch, max(watch.since, start - self.OVERLAP))
            self._watches = [w for w in self._watches if not w.done.is_set()]

    def _check(self, watch: _Watch, since: int) -> None:
        match = watch.pattern.search(self._text, max(0, since - self._base))
        if match:
            # The chunk that completed the match: the first whose end reaches the match's end.
            end = self._base + match.end()
            watch.match, watch.at, watch.end = match, self._times[bisect.bisect_left(self._ends, end)], end
            watch.done.set()

    def mark(self) -> int:
        """The current end of the stripped output: search from here for what happens next."""
        with self._lock:
            return self._base + len(self._text)

    def watch(self, pattern: str, since: int) -> _Watch:
        item = _Watch(re.compile(pattern), since)
        with self._lock:
            self._check(item, since)
            if not item.done.is_set():
                self._watches.append(item)
        return item

    def wait(self, item: _Watch, timeout: float, what: str) -> _Watch:
        deadline = time.monotonic() + timeout
        while not item.done.wait(0.05):
            if self.eof.is_set() and not item.done.is_set():
                raise RuntimeError(f"{what}: the program ended first; its screen ended with: {self.tail()!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: not seen within {timeout:g} s; the screen ended with: {self.tail()!r}")
        return item

    def tail(self, chars: int = 600) -> str:
        with self._lock:
            return re.sub(r"\s+", " ", self._text[-chars * 4:])[-chars:]

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    # the process

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait_exit(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.returncode

    def stop(self, keys: bytes | None, grace: float = 10.0) -> tuple[float | None, list[str]]:
        """Ask the program to end (keys on the pty, else SIGTERM), then force it.

        Returns (seconds until it exited if it did so when asked, notes about what had to be forced).
        """
        notes: list[str] = []
        asked = time.perf_counter()
        clean: float | None = None
        if self.poll() is None:
            if keys is not None:
                try:
                    self.write(keys)
                except OSError:  # the terminal side is already gone
                    pass
            else:
                os.kill(self.pid, signal.SIGTERM)
            if self.wait_exit(grace) is not None:
                clean = time.perf_counter() - asked
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.poll() is not None:
                break
            notes.append(f"{' '.join(self.argv[-2:])}: sent {sig.name} to its process group")
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass
            self.wait_exit(5.0)
        # Anything still in its session (it is the session leader: sid == its pid): kill it.
        for pid in sorted(set(session_members(self.pid)) - {self.pid}):
            try:
                os.kill(pid, signal.SIGKILL)
                notes.append(f"killed left-over process {pid}")
            except ProcessLookupError:
                pass
        self._thread.join(timeout=5)
        os.close(self.fd)
        return clean, notes


# -- /proc -------------------------------------------------------------------------------------


def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].decode().split()
    except (OSError, IndexError):
        return None


def _all_stats() -> dict[int, list[str]]:
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat_fields(entry)) is not None:
            stats[int(entry)] = fields
    return stats


def session_members(sid: int) -> list[int]:
    """Processes in session `sid` (fields after the comm: state, ppid, pgrp, session, ...)."""
    return [pid for pid, fields in _all_stats().items() if int(fields[3]) == sid]


def tree_cpu(root: int) -> float:
    """CPU seconds of root and every live descendant (utime+stime), plus root's reaped children."""
    stats = _all_stats()
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    if root not in stats:
        raise RuntimeError(f"process {root} is gone")
    ticks = int(stats[root][13]) + int(stats[root][14])  # cutime, cstime of the root
    todo = [root]
    while todo:
        pid = todo.pop()
        ticks += int(stats[pid][11]) + int(stats[pid][12])  # utime, stime
        todo.extend(children.get(pid, []))
    return ticks / CLK_TCK


def machine_busy() -> float:
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


# -- one launch --------------------------------------------------------------------------------


@dataclass
class Launch:
    first_byte: float
    ready: float  # first frame (dashboard) / supervisor_started (--no-ui)
    ready_cpu: float  # CPU seconds used until then
    idle: float | None = None  # % of one core
    idle_others: float | None = None  # % of one core used by everything else meanwhile
    changes: list[float] = field(default_factory=list)
    opens: list[float] = field(default_factory=list)  # `l` to the big log's last line on the log screen
    opens_screen: list[float] = field(default_factory=list)  # `l` to the log screen's header
    history: float | None = None  # spawn to the header's cost of the answers read at start
    quit: float | None = None
    bytes_read: int = 0


@dataclass
class Bench:
    ws: Workspace
    store: FileBackend
    env: dict[str, str]
    completed: int
    queued: int  # queued tasks in the store now (grows with every probe)
    blocker: str  # a queued task on an external lane: the headless probes depend on it
    rows: int
    cols: int
    settle: float
    window: float
    changes: int
    opens: int = 0  # transcript openings per full dashboard launch
    history: History | None = None
    notes: list[str] = field(default_factory=list)

    def argv(self, *args: str) -> list[str]:
        return [self.ws.lt_cli, "--config", "handoff/handoff.yaml", *args]

    def spawn(self, *args: str) -> PtyProcess:
        return PtyProcess(self.argv(*args), self.ws.root, self.env, self.rows, self.cols)

    def create(self, lane: str, label: str, metadata: dict[str, object] | None = None) -> tuple[float, str]:
        """(perf_counter just before create_task, the new task's id)."""
        t0 = time.perf_counter()
        task = self.store.create_task(
            workspace_id=WORKSPACE_ID, correlation_id=label, source_agent="ui-bench", lane=lane,
            workspace_root=self.ws.root, request_path=self.ws.request,
            response_path=self.ws.root / "reviews" / f"{label}.md", prompt=f"ui_bench probe {label}",
            metadata=metadata,
        )
        self.queued += 1
        return t0, task["id"]

    def header(self, queued: int | None = None) -> str:
        pattern = HEADER.format(completed=self.completed)
        return pattern if queued is None else pattern.replace(r"(?P<queued>\d+)", str(queued))

    def idle_cpu(self, proc: PtyProcess) -> tuple[float, float]:
        time.sleep(self.settle)
        w0, c0, b0 = time.monotonic(), tree_cpu(proc.pid), machine_busy()
        time.sleep(self.window)
        w1, c1, b1 = time.monotonic(), tree_cpu(proc.pid), machine_busy()
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.argv}: exited during the idle window: {proc.tail()!r}")
        wall, used = w1 - w0, c1 - c0
        return 100.0 * used / wall, max(0.0, 100.0 * ((b1 - b0) - used) / wall)

    def dashboard(self, mode_args: tuple[str, ...], tag: str, *, full: bool = True, opens: int | None = None) -> Launch:
        """One launch of the dashboard: first frame, and (full) idle CPU, change latency and transcript openings."""
        proc = self.spawn(*mode_args)
        history = self.history
        # The header's token totals, as it shows them with long labels or short ones.
        usage = (proc.watch(rf"(?:tokens|tok)\s+{re.escape(history.expected_tokens)}(?![\d.])", 0)
                 if history is not None and history.expected_tokens else None)
        try:
            frame = proc.wait(proc.watch(self.header(), 0), 120, "first frame")
            shown = int(frame.match.group("queued")) if frame.match else -1
            if shown != self.queued:
                raise RuntimeError(f"first frame shows queued {shown}, the store holds {self.queued}")
            assert proc.first_byte is not None
            launch = Launch(proc.first_byte - proc.started, frame.at - proc.started, tree_cpu(proc.pid))
            if full:
                launch.idle, launch.idle_others = self.idle_cpu(proc)
                for k in range(self.changes):
                    since = proc.mark()
                    item = proc.watch(self.header(self.queued + 1), since)
                    t0, _ = self.create(LANES[k % len(LANES)], f"ui-{tag}-{k}")
                    proc.wait(item, 30, f"change {k + 1} (header queued {self.queued})")
                    launch.changes.append(item.at - t0)
                    time.sleep(0.6 + 0.1 * k)  # land the next one at another phase of the 1 s tick
            for k in range(self.opens if opens is None else opens):
                self.open_transcript(proc, launch, k)
            if usage is not None and usage.done.is_set():
                launch.history = usage.at - proc.started
        finally:
            launch_quit, notes = proc.stop(b"q")
            self.notes.extend(notes)
        if proc.returncode != 0:
            raise RuntimeError(f"dashboard exited {proc.returncode}: {proc.tail()!r}")
        launch.quit, launch.bytes_read = launch_quit, proc.bytes_read
        return launch

    def open_transcript(self, proc: PtyProcess, launch: Launch, k: int) -> None:
        """`l` on the selected row (the claimed task with the big log: the table's first row) until
        the log screen shows the log's last line, then escape until the dashboard is back. The
        last line counts only once drawn after the log screen's header: the dashboard's detail
        pane may show the same line for the selected task."""
        assert self.history is not None
        screen = proc.watch(rf"log\s+{re.escape(self.history.big_task)}", proc.mark())
        t0 = time.perf_counter()
        proc.write(b"l")
        proc.wait(screen, 30, f"transcript {k + 1}: the log screen's header")
        last = proc.wait(proc.watch(re.escape(self.history.marker), screen.end), 30,
                         f"transcript {k + 1}: the big log's last line")
        launch.opens.append(last.at - t0)
        launch.opens_screen.append(screen.at - t0)
        time.sleep(0.3)
        back = proc.watch(self.header(self.queued), proc.mark())
        proc.write(b"\x1b")
        proc.wait(back, 30, f"transcript {k + 1}: back on the dashboard")
        time.sleep(0.5 + 0.2 * k)  # another phase of the 1 s tick

    def headless(self, tag: str) -> Launch:
        """One launch of `lanes-tui --no-ui --json`: first byte, supervisor_started, idle CPU, probe latency."""
        proc = self.spawn("--no-ui", "--json")
        try:
            started = proc.wait(proc.watch(r'"event": "supervisor_started"', 0), 120, "supervisor_started")
            assert proc.first_byte is not None
            launch = Launch(proc.first_byte - proc.started, started.at - proc.started, tree_cpu(proc.pid))
            launch.idle, launch.idle_others = self.idle_cpu(proc)
            for k in range(self.changes):
                since = proc.mark()
                t0, task_id = self.create(PROBE_LANE, f"nui-{tag}-{k}", {"depends_on": [self.blocker]})
                # Registered after the fact: the match is timed by the chunk it arrived in.
                item = proc.watch(rf'"event": "task_waiting"[^\n]*"task_id": "{re.escape(task_id)}"', since)
                proc.wait(item, 30, f"task_waiting for probe {k + 1}")
                launch.changes.append(item.at - t0)
                time.sleep(0.6 + 0.1 * k)
        finally:
            launch_quit, notes = proc.stop(None)
            self.notes.extend(notes)
        launch.quit, launch.bytes_read = launch_quit, proc.bytes_read
        return launch


# -- output ----------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def pct(value: float) -> str:
    return f"{value:.1f} %" if value >= 0.1 else f"{value:.2f} %"


def secs(values: list[float]) -> str:
    return ", ".join(f"{v * 1000:.0f}" for v in values)


def met(value: float, target: float) -> str:
    return "yes" if value < target else "**no**"


def render(header: str, rows: list[tuple[str, ...]], notes: list[str]) -> str:
    lines = [
        header,
        "",
        "| Measurement (median) | Tasks | lanes-tui dashboard | lanes-tui --no-ui | agent-lanes 0.1.1 (nearest) "
        "| Target | Met? |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines.append("")
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def build_table(args: argparse.Namespace, runs: dict[str, list[Launch]], cold: dict[str, Launch],
                al_status: list[float], create_times: list[float], bench: Bench, header: str,
                phases: dict[str, float]) -> str:
    n = f"{args.tasks:,}"
    sup, wo, nui = runs["supervisor"], runs["watch-only"], runs["no-ui"]

    def med(launches: list[Launch], pick: Callable[[Launch], float]) -> float:
        return median([pick(x) for x in launches])

    def changes(launches: list[Launch]) -> list[float]:
        return [c for x in launches for c in x.changes]

    def idles(launches: list[Launch]) -> str:
        return ", ".join(f"{pct(x.idle or 0.0)} ({pct(x.idle_others or 0.0)})" for x in launches)

    def opens(launches: list[Launch]) -> list[float]:
        return [o for x in launches for o in x.opens]

    ff_sup, ff_wo = med(sup, lambda x: x.ready), med(wo, lambda x: x.ready)
    op_sup, op_wo = median(opens(sup)), median(opens(wo))
    history = bench.history
    assert history is not None
    ch_sup, ch_wo = median(changes(sup)), median(changes(wo))
    idle_sup, idle_wo = med(sup, lambda x: x.idle or 0.0), med(wo, lambda x: x.idle or 0.0)
    window = f"{args.idle_window:g} s"
    rows = [
        ("first frame: spawn to the loaded table (header `completed N`); --no-ui: to `supervisor_started` "
         "— dashboard embeds the supervisor (lanes external)", n, fmt_value(ff_sup, "s"),
         fmt_value(med(nui, lambda x: x.ready), "s"), f"{fmt_value(median(al_status), 's')} (`status --all`)",
         f"< {FIRST_FRAME_TARGET:g} s", met(ff_sup, FIRST_FRAME_TARGET)),
        ("first frame — `--watch-only`", n, fmt_value(ff_wo, "s"), "-", "-",
         f"< {FIRST_FRAME_TARGET:g} s", met(ff_wo, FIRST_FRAME_TARGET)),
        ("first byte of output — dashboard with supervisor", n, fmt_value(med(sup, lambda x: x.first_byte), "s"),
         fmt_value(med(nui, lambda x: x.first_byte), "s"), "-", "-", "-"),
        ("first byte of output — `--watch-only`", n, fmt_value(med(wo, lambda x: x.first_byte), "s"), "-", "-",
         "-", "-"),
        ("change shown: create_task to header `queued Q+1`; --no-ui: to its `task_waiting` line "
         "— dashboard with supervisor", n, fmt_value(ch_sup, "s"), fmt_value(median(changes(nui)), "s"), "-",
         f"< {CHANGE_TARGET * 1000:.0f} ms", met(ch_sup, CHANGE_TARGET)),
        ("change shown — `--watch-only`", n, fmt_value(ch_wo, "s"), "-", "-",
         f"< {CHANGE_TARGET * 1000:.0f} ms", met(ch_wo, CHANGE_TARGET)),
        (f"idle CPU over {window}, % of one core — dashboard with supervisor", n, pct(idle_sup),
         pct(med(nui, lambda x: x.idle or 0.0)), "-", f"< {IDLE_TARGET:g} %", met(idle_sup, IDLE_TARGET)),
        (f"idle CPU over {window} — `--watch-only`", n, pct(idle_wo), "-", "-", f"< {IDLE_TARGET:g} %",
         met(idle_wo, IDLE_TARGET)),
        (f"transcript opened: `l` on the task whose attempt log is {history.big_log_bytes / (1 << 20):.0f} MB to its "
         "last line on the log screen — dashboard with supervisor", n, fmt_value(op_sup, "s"), "-", "-",
         f"< {TRANSCRIPT_TARGET * 1000:.0f} ms", met(op_sup, TRANSCRIPT_TARGET)),
        ("transcript opened — `--watch-only`", n, fmt_value(op_wo, "s"), "-", "-",
         f"< {TRANSCRIPT_TARGET * 1000:.0f} ms", met(op_wo, TRANSCRIPT_TARGET)),
    ]
    c = history.counts
    notes = [
        f"The store: {n} tasks with a history on disk — {c['completed']:,} completed, {c['failed']:,} failed "
        f"({history.cancelled:,} of them cancelled), {c['queued']:,} queued, {c['claimed']} claimed. Completed tasks "
        "answered by a "
        "lanes-tui supervisor with the run's metadata (vendor, model_used/model_reported, effort_used, tokens, "
        f"cost_usd; {history.answers_with_facts:,} answers), events for every attempt (claimed with its number, "
        "dispatcher_started, headless_started, headless_completed or headless_failed + attempt_failed + released), "
        f"8% completed on a second attempt, failed ones after 3 attempts or cancelled; {history.logs:,} attempt "
        f"logs ({history.log_bytes / (1 << 20):.1f} MB) for {history.tasks_with_logs:,} tasks under the store's "
        f"`.lanes-tui/logs/`. The claimed task (the table's first row, selected at start) is running an attempt "
        f"whose log is {history.big_log_bytes / (1 << 20):.1f} MB of Claude stream-json ({history.big_log_lines:,} "
        "lines, bench/transcript_bench.py's generator, plus a last message carrying a marker).",
        f"Each program launched {args.repeat} time(s) in a pty of {args.cols}x{args.rows} (TERM=xterm-256color) "
        "on the same store; every cell is the median over launches (change rows: over all "
        f"{args.repeat} x {args.changes} samples). Bytecode warm; the store's files in the page cache.",
        f"First frames per launch (ms): with supervisor {secs([x.ready for x in sup])} ms, watch-only "
        f"{secs([x.ready for x in wo])} ms, --no-ui `supervisor_started` {secs([x.ready for x in nui])} ms. "
        f"The untimed first launches on the freshly written store: with supervisor "
        f"{fmt_value(cold['supervisor'].ready, 's')}, watch-only {fmt_value(cold['watch-only'].ready, 's')}. "
        f"CPU used until the first frame: {med(sup, lambda x: x.ready_cpu):.2f} s (supervisor), "
        f"{med(wo, lambda x: x.ready_cpu):.2f} s (watch-only), {med(nui, lambda x: x.ready_cpu):.2f} s (--no-ui).",
        f"Change samples (ms): with supervisor {secs(changes(sup))}; watch-only {secs(changes(wo))}; --no-ui "
        f"{secs(changes(nui))}. They include create_task itself (median {fmt_value(median(create_times), 's')}, "
        f"fsyncs included) and the dashboard's {COALESCE_SECONDS * 1000:.0f} ms coalescing of redraws. Dashboard changes: a queued task "
        f"on an external lane ({', '.join(LANES)}); --no-ui changes: a task on the internal `{PROBE_LANE}` lane that "
        "depends on a queued task (its supervisor plans it and reports `task_waiting`; nothing is run).",
        f"Idle CPU: {args.settle:g} s after the first frame, utime+stime from /proc of the program and all its "
        f"descendants over {window} (10 ms clock ticks); the dashboard redraws ages once a second, when they change (output per launch: "
        f"{med(sup, lambda x: x.bytes_read) / 1024:.0f} KiB with supervisor, "
        f"{med(wo, lambda x: x.bytes_read) / 1024:.0f} KiB watch-only). Per launch: with supervisor "
        f"{idles(sup)}; watch-only {idles(wo)}; --no-ui {idles(nui)} (in brackets: what all other processes on "
        f"the machine used meanwhile, % of one core, {os.cpu_count()} cores).",
        f"Transcript samples (ms, {bench.opens} per launch, each on a fresh log screen: `l` written to the pty until "
        f"the chunk holding the log's last line arrived): with supervisor {secs(opens(sup))}; watch-only "
        f"{secs(opens(wo))}. The log screen's header (`log <task id>`, before the read) showed after "
        f"{secs([o for x in sup + wo for o in x.opens_screen])} ms. The screen reads the log's last "
        f"{TAIL_BYTES >> 20} MB in a thread and writes the lines into Textual's `Log`; that read alone "
        f"(TaskTranscript.update in this process, {phases['transcript_lines']:,.0f} display lines) takes "
        f"{fmt_value(phases['transcript_read'], 's')} (median of 5). The last line counts once drawn after the "
        "log screen's header (the dashboard's detail pane may show the selected task's last transcript lines too).",
        f"First frame, by phase (bytecode warm): first byte {fmt_value(med(sup, lambda x: x.first_byte), 's')} "
        f"(supervisor) / {fmt_value(med(wo, lambda x: x.first_byte), 's')} (watch-only); "
        f"`python -c 'import lanes_tui.ui.app'` takes {fmt_value(phases['import_app'], 's')} against "
        f"{fmt_value(phases['python'], 's')} for `python -c pass`; the index scan of this store in this process "
        f"(TaskIndex.rescan, listing cache warm) {fmt_value(phases['scan'], 's')}"
        f". "
        + (f"The answers' run facts (the header's `tokens {history.expected_tokens}`: the "
           f"{getattr(service, 'ANSWER_FACTS_LOADED_AT_START', 0):,} newest answers, read after the first frame "
           "in a thread) were all shown after "
           f"{', '.join(fmt_value(x.history, 's') if x.history is not None else 'not seen' for x in sup)} "
           f"(supervisor) and {', '.join(fmt_value(x.history, 's') if x.history is not None else 'not seen' for x in wo)} "
           "(watch-only) from spawn." if history.expected_tokens else ""),
        f"Quit: `q` on the pty, exit after {fmt_value(med(sup, lambda x: x.quit or 0.0), 's')} (supervisor) and "
        f"{fmt_value(med(wo, lambda x: x.quit or 0.0), 's')} (watch-only); --no-ui: SIGTERM, exit after "
        f"{fmt_value(med(nui, lambda x: x.quit or 0.0), 's')}. agent-lanes `status --all` (human output, "
        f"through a pipe): median of {len(al_status)} runs after a warm-up.",
    ]
    if any(x.quit is None for x in sup + wo + nui):
        notes.append("Some launches did not exit when asked and were killed (see below).")
    notes += bench.notes
    return render(header, rows, notes)


# -- main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,000 tasks, 1 launch each, 5 s idle window")
    parser.add_argument("--tasks", type=int, help="tasks in the store (default 10000; --quick: 1000)")
    parser.add_argument("--repeat", type=int, help="launches of each program (default 3; --quick: 1)")
    parser.add_argument("--changes", type=int, default=5, help="change-latency samples per launch (default 5)")
    parser.add_argument("--idle-window", type=float, help="seconds of idle CPU sampling (default 10; --quick: 5)")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after the first frame before sampling")
    parser.add_argument("--opens", type=int, default=3, help="transcript openings per dashboard launch (default 3)")
    parser.add_argument("--log-mb", type=int, default=20, help="size of the big attempt log in MB (default 20)")
    parser.add_argument("--size", default="120x40", help="terminal COLSxROWS (default 120x40)")
    parser.add_argument("--markdown-out", type=Path, help="also write the table to this file")
    parser.add_argument("--tmpdir", help="where to create the workspace and store (default: the system temp dir)")
    args = parser.parse_args(argv)
    args.tasks = args.tasks or (1000 if args.quick else 10_000)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.idle_window = args.idle_window or (5.0 if args.quick else 10.0)
    try:
        args.cols, args.rows = (int(x) for x in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size: expected COLSxROWS, got {args.size!r}")
    if args.tasks < 20 or args.repeat < 1 or args.changes < 1 or args.opens < 1 or args.log_mb < 1:
        parser.error("--tasks must be at least 20, --repeat, --changes, --opens and --log-mb at least 1")
    return args


def child_env(base: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "LANES_TUI_DEBUG", "NO_COLOR", "TEXTUAL",
                 "COLUMNS", "LINES"):
        env.pop(name, None)
    env.update(TERM="xterm-256color", PYTHONPYCACHEPREFIX=str(base / "pycache"))
    return env


def write_settings(ws: Workspace) -> None:
    (ws.config.parent / "lanes-tui.yaml").write_text(
        "# ui_bench: the supervisor only watches the generated lanes; `probe` is for the --no-ui latency probe.\n"
        "lane_defaults: {mode: external}\n"
        f"lanes:\n  {PROBE_LANE}: {{mode: internal}}\n",
        encoding="utf-8",
    )


def warm_bytecode(base: Path, env: dict[str, str], args: argparse.Namespace) -> None:
    """One launch of each program on a small store with history (the dashboards open the log
    screen once), so every module is compiled before timing; the history generator is checked there."""
    ws = make_workspace(base / "warm")
    write_settings(ws)
    store_root = ws.config.parent / "state"
    shape = generate_store(store_root, 20, ws)
    history = add_history(store_root, shape, ws, 1)
    check_history(store_root, history, base / "warm" / "check", ws)
    bench = Bench(ws, FileBackend(store_root), env, history.counts["completed"], history.counts["queued"],
                  shape.ids_by_lane[LANES[0]][0], args.rows, args.cols, 0.0, 0.0, 1, 1, history)
    bench.dashboard((), "warm", full=False)
    bench.dashboard(("--watch-only",), "warm", full=False)
    proc = bench.spawn("--no-ui", "--json")
    try:
        proc.wait(proc.watch(r'"event": "supervisor_started"', 0), 120, "supervisor_started (warm-up)")
    finally:
        proc.stop(None)
    shutil.rmtree(base / "warm")


def timed_median(run: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return median(times)


def phases_of(store_root: Path, history: History, env: dict[str, str]) -> dict[str, float]:
    """What goes into the first frame and the transcript's opening, measured apart (in this
    process, or a bare interpreter with the same bytecode cache)."""
    def python(code: str) -> None:
        subprocess.run([sys.executable, "-c", code], env=env, check=True)

    phases = {"python": timed_median(lambda: python("pass"), 5),
              "import_app": timed_median(lambda: python("import lanes_tui.ui.app"), 5),
              "scan": timed_median(lambda: TaskIndex(FileBackend(store_root)).rescan(), 3)}
    path = FileBackend(store_root).attempt_log_path(history.big_task, 1)
    phases["transcript_read"] = timed_median(lambda: TaskTranscript(path).update(), 5)
    phases["transcript_lines"] = float(len(TaskTranscript(path).update()))
    return phases


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    load_before = os.getloadavg()
    base = Path(tempfile.mkdtemp(prefix="lanes-ui-bench-", dir=args.tmpdir))
    try:
        env = child_env(base)
        queue_bench.CHILD_ENV.clear()
        queue_bench.CHILD_ENV.update(env)
        warm_bytecode(base, env, args)
        log("bytecode warm (one launch of each program on a 20-task store)")
        ws = make_workspace(base)
        write_settings(ws)
        store_root = ws.config.parent / "state"  # where handoff.yaml's queue_root points
        t0 = time.monotonic()
        shape = generate_store(store_root, args.tasks, ws)
        history = add_history(store_root, shape, ws, args.log_mb)
        log(f"generated {args.tasks:,} tasks with history ({', '.join(f'{v:,} {k}' for k, v in history.counts.items())}; "
            f"{history.logs:,} attempt logs, {history.log_bytes / (1 << 20):.1f} MB) in {time.monotonic() - t0:.1f} s "
            f"under {base}")
        bench = Bench(ws, FileBackend(store_root), env, history.counts["completed"], history.counts["queued"],
                      shape.ids_by_lane[LANES[0]][0], args.rows, args.cols, args.settle, args.idle_window,
                      args.changes, args.opens, history)

        cold = {"supervisor": bench.dashboard((), "cold", full=False, opens=0),
                "watch-only": bench.dashboard(("--watch-only",), "cold", full=False, opens=0)}
        log(f"first launches: first frame {cold['supervisor'].ready:.2f} s (supervisor), "
            f"{cold['watch-only'].ready:.2f} s (watch-only)")
        runs: dict[str, list[Launch]] = {"supervisor": [], "watch-only": [], "no-ui": []}
        for i in range(args.repeat):
            for name, launch in (("supervisor", lambda: bench.dashboard((), f"s{i}")),
                                 ("watch-only", lambda: bench.dashboard(("--watch-only",), f"w{i}")),
                                 ("no-ui", lambda: bench.headless(f"h{i}"))):
                result = launch()
                runs[name].append(result)
                log(f"launch {i + 1}/{args.repeat} {name}: first byte {result.first_byte:.2f} s, ready "
                    f"{result.ready:.2f} s, idle {pct(result.idle or 0.0)} (others "
                    f"{pct(result.idle_others or 0.0)}), changes {secs(result.changes)} ms"
                    + (f", transcript {secs(result.opens)} ms" if result.opens else ""))

        create_times = []
        for k in range(args.changes):  # create_task alone, for the notes
            t0 = time.perf_counter()
            bench.create(LANES[k % len(LANES)], f"create-only-{k}")
            create_times.append(time.perf_counter() - t0)
        run_cli(ws.al(store_root, "status", "--all"), ws)  # warm-up
        al_status = [run_cli(ws.al(store_root, "status", "--all"), ws)[0] for _ in range(max(3, args.repeat))]
        log(f"agent-lanes status --all: {fmt_value(median(al_status), 's')}")
        phases = phases_of(store_root, history, env)
        log("phases: " + ", ".join(f"{k} {v * 1000:.0f} ms" if k != "transcript_lines" else f"{k} {v:.0f}"
                                   for k, v in phases.items()))
    finally:
        shutil.rmtree(base, ignore_errors=True)

    header = machine_line(Path(args.tmpdir or tempfile.gettempdir()))
    load_after = os.getloadavg()
    header += (f". Run {time.strftime('%Y-%m-%d %H:%M %Z')}: {args.tasks:,} tasks, {args.repeat} launch(es) of each "
               f"program, total {time.monotonic() - started:.0f} s; load average (1/5/15 min) "
               f"{'/'.join(f'{x:.2f}' for x in load_before)} at the start, "
               f"{'/'.join(f'{x:.2f}' for x in load_after)} at the end.")
    table = build_table(args, runs, cold, al_status, create_times, bench, header, phases)
    bench_common.publish(table, args.markdown_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
