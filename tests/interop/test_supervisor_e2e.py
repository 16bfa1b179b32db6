"""End to end: agent-lanes submits, `lanes-tui --no-ui --drain` runs the agents, agent-lanes waits.

Everything crosses a process boundary the way it does for a user: tasks go in
through the real agent-lanes 0.1.1 `submit` CLI, the supervisor is a real
`lanes-tui --no-ui --drain --json` subprocess with stand-in `claude`/`codex`
executables first on PATH, and the answers come back through agent-lanes'
own `wait <id> --json`, which also writes each task's response file.

The crash test SIGKILLs the supervisor while workers run (the moment is chosen
from the supervisor's own --json event lines, never by sleeping), restarts it,
and checks that every task ends answered exactly once. The last test pins the
one crash window that test avoids on purpose (SIGKILL inside a respond, between
response.json and task.json); the restarted supervisor rolls such a task
forward (G8) before anything else.

Each stand-in answer names the prompt it read (its length and sha256), so the
tests can tell that every task got the answer to *its own* prompt.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import standins as standin

from lanes_tui.core import fsio
from lanes_tui.core.supervisors import owner_prefix
from lanes_tui.storage.files.backend import FileBackend
from lanes_tui.vendors.prompting import build_input

TESTS = Path(__file__).resolve().parents[1]
LANES_TUI = [sys.executable, "-m", "lanes_tui"]
RUN_TIMEOUT = 60.0




# (lane, metadata.required_vendor or None for no metadata at all)
TASKS = [
    ("alpha", "claude"),
    ("alpha", "codex"),
    ("alpha", "any"),
    ("beta", "claude"),
    ("beta", "codex"),
    ("beta", None),
]


# -- helpers -------------------------------------------------------------------------------


def ok_json(proc: subprocess.CompletedProcess) -> Any:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return json.loads(proc.stdout)


def write_settings(ws, *, global_max: int) -> Path:
    """lanes-tui.yaml next to handoff.yaml; workers only get STANDIN_* because it is allowed here."""
    path = ws.config.parent / "lanes-tui.yaml"
    path.write_text(
        "environment:\n"
        "  allow: [\"STANDIN_*\"]\n"
        "concurrency:\n"
        f"  global: {global_max}\n"
        "  vendors: {claude: 2, codex: 2}\n",
        encoding="utf-8",
    )
    return path


def submit_all(ws) -> dict[str, dict[str, Any]]:
    """Submit TASKS with the real agent-lanes CLI; returns {task_id: {lane, vendor, response_path}}."""
    submitted = {}
    for n, (lane, vendor) in enumerate(TASKS):
        response = ws.root / "answers" / f"{lane}-{n}.md"
        args = [
            "submit", "--lane", lane, "--request-from", str(ws.request), "--response-to", str(response),
            "--prompt", f"Task {n} on lane {lane}: review request.md", "--json",
        ]
        if vendor is not None:
            args += ["--metadata", f"required_vendor={vendor}"]
        out = ok_json(ws.run_agent_lanes(*args))
        assert out["task"]["state"] == "queued"
        submitted[out["task_id"]] = {"lane": lane, "vendor": vendor, "response_path": response}
    return submitted


def supervisor_argv(ws, settings: Path, summary: Path) -> list[str]:
    return [*LANES_TUI, "--config", str(ws.config), "--no-ui", "--drain", "--json",
            "--summary", str(summary), "--settings", str(settings)]


def expected_answer(store: FileBackend, task_id: str, vendor: str) -> str:
    """The stand-in's answer to the stdin lanes-tui gives this task (see tests/standin/agent_standin.py)."""
    prompt = build_input(store, store.read_task(task_id))  # effort is a flag now, never a prompt hint
    first = prompt.decode("utf-8", "replace").strip().splitlines()
    return (f"Stand-in {vendor} answer.\nprompt: {len(prompt)} bytes, sha256 {hashlib.sha256(prompt).hexdigest()}\n"
            f"first line: {first[0][:200] if first else ''}")


def vendor_of(body: str) -> str:
    for vendor in ("claude", "codex"):
        if body.startswith(f"Stand-in {vendor} answer."):
            return vendor
    raise AssertionError(f"not a stand-in answer: {body[:200]!r}")


def check_answers(ws, submitted: dict[str, dict[str, Any]]) -> dict[str, str]:
    """agent-lanes `wait <id> --json` returns each task's own stand-in answer and writes the file."""
    store = ws.store()
    vendors = {}
    for task_id, info in submitted.items():
        waited = ok_json(ws.run_agent_lanes("wait", task_id, "--timeout", "5", "--json", "--quiet"))
        assert waited["status"] == "completed" and waited["task_id"] == task_id
        response = waited["response"]
        assert response["status"] == "completed"
        body = response["body"]
        vendor = vendor_of(body)
        if info["vendor"] in ("claude", "codex"):
            assert vendor == info["vendor"], f"{task_id} wanted {info['vendor']}, answered by {vendor}"
        assert body == expected_answer(store, task_id, vendor), f"{task_id} got someone else's answer"
        assert waited["response_path"] == str(info["response_path"])
        assert info["response_path"].read_text(encoding="utf-8") == body
        vendors[task_id] = vendor
    status = ok_json(ws.run_agent_lanes("status", "--all", "--json"))
    assert status["count"] == len(submitted)
    assert status["summary"]["completed"] == len(submitted), status["summary"]
    assert status["summary"]["missing_response"] == 0, status["summary"]
    return vendors


def answered_exactly_once(ws, task_ids) -> None:
    for task_id in task_ids:
        folder = ws.store_root / "tasks" / task_id
        assert [p.name for p in folder.glob("response*.json")] == ["response.json"], sorted(os.listdir(folder))
        events = [json.loads(line) for line in (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()]
        responses = [e for e in events if e["type"] == "response"]
        assert len(responses) == 1, f"{task_id}: {len(responses)} response events: {[e['type'] for e in events]}"


class EventLines:
    """The supervisor's --json stdout, one parsed line at a time, with bounded waits."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.lines.put(json.loads(line))
        self.lines.put(None)  # end of output

    def next(self, deadline: float) -> dict[str, Any] | None:
        try:
            event = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no supervisor event within the deadline; seen: {self.seen[-5:]}") from None
        if event is not None:
            self.seen.append(event)
        return event

    def rest(self, timeout: float) -> list[dict[str, Any]]:
        """Every remaining event up to end of output (after the process ended)."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "supervisor stdout still open"
        while (event := self.lines.get_nowait()) is not None:
            self.seen.append(event)
        return self.seen


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 (pgrp); fields[0] is the state
            members.append(int(entry))
    return members


def wait_all_exit(pids: list[int], timeout: float) -> list[int]:
    """Block (poll on pidfds, no sleeping) until every pid has exited; returns those still alive."""
    fds = {}
    for pid in pids:
        try:
            fds[os.pidfd_open(pid)] = pid
        except ProcessLookupError:
            pass  # already gone
    deadline = time.monotonic() + timeout
    try:
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        alive = set(fds)
        while alive and (left := deadline - time.monotonic()) > 0:
            for fd, _ in poller.poll(left * 1000):
                alive.discard(fd)
                poller.unregister(fd)
        return [fds[fd] for fd in alive]
    finally:
        for fd in fds:
            os.close(fd)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    return standin.install_standins(tmp_path / "bin")


# -- tests ------------------------------------------------------------------------------------


def test_agent_lanes_submit_supervisor_drains_agent_lanes_wait_gets_each_answer(workspace, bin_dir, tmp_path):
    ws = workspace
    settings = write_settings(ws, global_max=3)
    submitted = submit_all(ws)
    summary_path = tmp_path / "summary.json"

    proc = subprocess.run(
        supervisor_argv(ws, settings, summary_path), cwd=ws.root, env=standin.standin_env(bin_dir, "ok"),
        capture_output=True, text=True, timeout=RUN_TIMEOUT,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr}"
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert events[0]["event"] == "supervisor_started"
    assert (events[-1]["event"], events[-1]["reason"]) == ("supervisor_stopped", "drained")
    completed = [e["task_id"] for e in events if e["event"] == "task_completed"]
    assert sorted(completed) == sorted(submitted), "each task completed exactly once"

    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert summary["exit_code"] == 0
    assert sorted(t["id"] for t in summary["tasks"]) == sorted(submitted)
    assert all(t["state"] == "completed" and t["attempts"] == 1 for t in summary["tasks"]), summary["tasks"]
    totals = summary["totals"]
    assert (totals["tasks"], totals["completed"], totals["failed"]) == (len(submitted), len(submitted), 0)
    assert summary["waiting"] == []

    vendors = check_answers(ws, submitted)
    by_id = {t["id"]: t for t in summary["tasks"]}
    for task_id, info in submitted.items():
        assert by_id[task_id]["lane"] == info["lane"]
        assert by_id[task_id]["vendor"] == vendors[task_id]  # the summary names the vendor that answered
    # "any" and no metadata: the built-in preference, claude first (demo is never picked unasked).
    assert {vendors[t] for t, i in submitted.items() if i["vendor"] in ("any", None)} == {"claude"}
    answered_exactly_once(ws, submitted)


def test_sigkill_mid_run_then_restart_answers_every_task_exactly_once(workspace, bin_dir, tmp_path):
    ws = workspace
    settings = write_settings(ws, global_max=2)
    submitted = submit_all(ws)
    # A pause after each stream line: claude (6 lines, 0.2 s) takes about 1.2 s, codex
    # (7 lines, 0.4 s through its own wrapper) about 2.8 s.
    env = standin.standin_env(bin_dir, "slow", delay=0.2)
    codex = bin_dir / "codex"
    wrapper = codex.read_text(encoding="utf-8")
    assert wrapper.count("\nexec ") == 1
    codex.write_text(wrapper.replace("\nexec ", "\nSTANDIN_DELAY=0.4 exec "), encoding="utf-8")

    with open(tmp_path / "stderr-1.txt", "w") as stderr_1:
        first = subprocess.Popen(
            supervisor_argv(ws, settings, tmp_path / "summary-1.json"), cwd=ws.root, env=env,
            stdout=subprocess.PIPE, stderr=stderr_1, text=True,
        )
    workers: dict[str, dict[str, Any]] = {}  # running task id -> its worker_started event
    completed_first: list[str] = []
    try:
        reader = EventLines(first)
        deadline = time.monotonic() + 30
        # Kill once a task is completed and the worker that took its slot has started. Lane
        # alpha's claude and codex tasks start together; the claude one ends first, so at the
        # kill the codex worker is mid-stream (about 1.6 s from its end) and the new one starts:
        # no answer is being written at that moment.
        while True:
            event = reader.next(deadline)
            assert event is not None, f"supervisor ended before the kill; stderr: {(tmp_path / 'stderr-1.txt').read_text()}"
            kind = event["event"]
            if kind in ("task_failed", "worker_abandoned", "attempt_failed"):
                pytest.fail(f"unexpected {kind} before the kill: {event}")
            if kind == "task_completed":
                workers.pop(event["task_id"])
                completed_first.append(event["task_id"])
            elif kind == "worker_started":
                workers[event["task_id"]] = event
                if completed_first:
                    break
        assert len(workers) >= 2, workers
        # Who is in each worker's process group right now (the guard leads it, the stand-in is its child).
        doomed = [pid for w in workers.values() for pid in group_members(w["pid"])]
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    reader.rest(10)
    # The guard takes each worker's group down when the supervisor dies, even by SIGKILL.
    assert len(doomed) >= len(workers), doomed
    assert wait_all_exit(doomed, timeout=10) == [], "agent processes outlived their SIGKILLed supervisor"

    # On disk: some tasks are answered, the interrupted ones are still claimed by the dead supervisor.
    # (The first run may have answered one more task after the events that triggered the kill.)
    listing = ok_json(ws.run_agent_lanes("list", "--json"))["tasks"]
    states = {t["id"]: t["state"] for t in listing}
    answered_first = {t for t in states if (ws.store_root / "tasks" / t / "response.json").exists()}
    claimed_at_kill = {t for t, s in states.items() if s == "claimed"}
    reported_first = {e["task_id"] for e in reader.seen if e["event"] == "task_completed"}
    assert set(completed_first) <= reported_first <= answered_first
    assert set(workers) <= claimed_at_kill, f"the kill interrupted no running worker: {states}"
    half_written = claimed_at_kill & answered_first
    assert not half_written, (
        f"the kill landed inside a respond (response.json written, task.json still claimed): {half_written}; "
        "see test_restart_rolls_forward_an_answer_its_dead_predecessor_wrote_half"
    )

    second = subprocess.run(
        supervisor_argv(ws, settings, tmp_path / "summary-2.json"), cwd=ws.root, env=env,
        capture_output=True, text=True, timeout=RUN_TIMEOUT,
    )
    assert second.returncode == 0, f"exit {second.returncode}\nstdout: {second.stdout[-3000:]}\nstderr: {second.stderr}"
    events = [json.loads(line) for line in second.stdout.splitlines() if line.strip()]
    started = events[0]
    assert started["event"] == "supervisor_started"
    # The dead supervisor's claims are taken back at once, not after the 900 s lease.
    assert set(started["recovered_tasks"]) == claimed_at_kill
    completed_second = [e["task_id"] for e in events if e["event"] == "task_completed"]
    # Exactly once across both runs: no task answered by both, none left out.
    assert len(completed_second) == len(set(completed_second))
    assert not answered_first & set(completed_second), "a task was answered by both supervisors"
    assert answered_first | set(completed_second) == set(submitted)
    summary = json.loads((tmp_path / "summary-2.json").read_text(encoding="utf-8"))
    assert summary["exit_code"] == 0
    assert sorted(t["id"] for t in summary["tasks"]) == sorted(completed_second)
    assert all(t["state"] == "completed" for t in summary["tasks"]), summary["tasks"]

    check_answers(ws, submitted)
    answered_exactly_once(ws, submitted)


def test_restart_rolls_forward_an_answer_its_dead_predecessor_wrote_half(workspace, tmp_path):
    """SIGKILL inside FileBackend.respond, between response.json and task.json (G8 + G2).

    The state is built directly (the window is milliseconds wide): a task claimed by a
    lanes-tui supervisor that is gone, with its complete answer already in response.json.
    """
    ws = workspace
    out = ok_json(ws.run_agent_lanes(
        "submit", "--lane", "alpha", "--request-from", str(ws.request),
        "--response-to", str(ws.root / "answers" / "half.md"), "--prompt", "answered by a dead supervisor", "--json",
    ))
    task_id = out["task_id"]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    owner = f"{owner_prefix()}{int(dead.stdout)}"  # a lanes-tui supervisor on this host, now exited
    store = ws.store()
    store.claim(task_id, owner=owner, lease_seconds=900)
    body = "Answered just before the SIGKILL.\n"
    response = {
        "task_id": task_id, "reviewer": owner, "status": "completed", "body": body,
        "reviewed_request_sha256": out["task"]["request_sha256"], "request_changed_before_response": False,
        "follow_up_required": False, "verdict": None, "blocking_count": None, "nonblocking_count": None,
        "metadata": {}, "created_at": "2026-11-23T12:00:00.123456Z",
    }
    folder = ws.store_root / "tasks" / task_id
    with fsio.open_dir(folder) as fd:
        fsio.write_atomic("response.json", fsio.dumps_json(response), dir_fd=fd)

    settings = write_settings(ws, global_max=1)
    restart = subprocess.run(
        supervisor_argv(ws, settings, tmp_path / "summary.json"), cwd=ws.root,
        env=standin.standin_env(standin.install_standins(tmp_path / "bin"), "ok"),
        capture_output=True, text=True, timeout=RUN_TIMEOUT,
    )
    assert restart.returncode == 0, restart.stderr
    assert not [l for l in restart.stdout.splitlines() if '"worker_started"' in l], "the answered task ran again"
    # What agent-lanes (and its dispatchers) read: task.json itself.
    view = ok_json(ws.run_agent_lanes("status", task_id, "--json"))["task"]
    assert view["state"] == "completed", f"task.json still says {view['state']} (owner {view['claim_owner']})"
    summary = ok_json(ws.run_agent_lanes("status", "--all", "--json"))["summary"]
    assert summary["claimed"] == 0 and summary["completed"] == 1, summary
    assert json.loads((folder / "response.json").read_text(encoding="utf-8"))["body"] == body
