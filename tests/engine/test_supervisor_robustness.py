"""The supervisor keeps its promises when things around an attempt go wrong.

A full disk when recording a worker, an observer that raises, a cancelled
attempt, a log terminal that went away, a request file changed before or
while a task runs: no agent is left running unsupervised (G9), no task is
left silently stuck, every reason is visible.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import subprocess
import time

from helpers.supervisor import (
    BOUND,
    event_types,
    events_of,
    make_settings,
    processes_with_env,
    supervising,
    until,
)

from lanes_tui.core import fsio, procinfo
from lanes_tui.core.clock import parse_ts
from lanes_tui.core.errors import StoreError
from lanes_tui.core.model import COMPLETED, FAILED, QUEUED
from lanes_tui.engine import events as ev
from lanes_tui.engine.headless import run_headless
from lanes_tui.storage.files.backend import FileBackend
from lanes_tui.storage.files.registry import FileSupervisorRegistry
from lanes_tui.wiring import Queue, build_engine


async def test_a_worker_that_cannot_be_recorded_is_stopped_not_left_running(workspace, standins, monkeypatch):
    """supervisor.json cannot be written (disk full): the agent would be invisible to a successor (G9),
    so it is stopped at once; the attempt fails with the reason, retries never overlap."""
    monkeypatch.setenv("STANDIN_MODE", "hang")

    def disk_full(self, worker):
        raise StoreError("cannot write supervisor.json: No space left on device")

    monkeypatch.setattr(FileSupervisorRegistry, "record_worker", disk_full)
    task = workspace.submit()
    store = workspace.store()
    leftovers: list[list[int]] = []
    settings = make_settings(workspace, lane={"timeout_seconds": 30, "max_attempts": 3, "backoff_seconds": 0.1})
    async with supervising(store, settings) as h:
        h.events.listeners.append(
            lambda e: isinstance(e, ev.AttemptFailed) and leftovers.append(processes_with_env("LANES_TASK_ID", task["id"])))
        failed = await h.events.wait_for(ev.TaskFailed, task["id"])
    assert leftovers == [[], [], []], "an attempt's agent outlived it"
    assert failed.reason.count("could not start the agent: cannot write supervisor.json") == 3
    assert store.read_task(task["id"])["state"] == FAILED


async def test_an_observer_that_raises_does_not_leak_the_worker(workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "hang")
    task = workspace.submit()
    store = workspace.store()
    settings = make_settings(workspace, lane={"timeout_seconds": 30, "max_attempts": 1})
    async with supervising(store, settings) as h:
        def broken_dashboard(event):
            if isinstance(event, ev.WorkerStarted):
                raise RuntimeError("dashboard bug")

        h.events.listeners.append(broken_dashboard)
        started = await h.events.wait_for(ev.WorkerStarted, task["id"])
        failed = await h.events.wait_for(ev.TaskFailed, task["id"])
        assert not procinfo.group_alive(started.pid)
        assert not processes_with_env("LANES_TASK_ID", task["id"])
    assert "supervisor error: RuntimeError: dashboard bug" in failed.reason


async def test_a_cancelled_attempt_stops_its_worker(workspace, standins, monkeypatch):
    """asyncio.run() tearing down (or a UI cancelling its tasks) must not leave the agent running."""
    monkeypatch.setenv("STANDIN_MODE", "hang")
    task = workspace.submit()
    store = workspace.store()
    async with supervising(store, make_settings(workspace, lane={"timeout_seconds": 30})) as h:
        started = await h.events.wait_for(ev.WorkerStarted, task["id"])
        await until(lambda: "headless_started" in event_types(store, task["id"]))
        job = h.supervisor.running[task["id"]].job
        job.cancel()
        await asyncio.wait([job], timeout=BOUND)
        assert job.cancelled()
        assert not procinfo.group_alive(started.pid)
        assert not processes_with_env("LANES_TASK_ID", task["id"])
        assert task["id"] not in json.loads((store.root / ".lanes-tui" / "supervisor.json").read_text())["workers"]


class GoneTerminal(io.TextIOBase):
    """stdout of a headless run whose terminal went away: every write fails with EIO."""

    def write(self, text: str) -> int:
        raise OSError(5, "Input/output error")


async def test_headless_keeps_supervising_when_its_output_fails(workspace, standins):
    settings = make_settings(workspace)
    task = workspace.submit()
    store = workspace.store()
    engine = build_engine(Queue(store, settings, None, "test"), drain=True)
    code = await asyncio.wait_for(run_headless(engine, as_json=False, out=GoneTerminal()), BOUND)
    assert code == 0
    assert store.read_task(task["id"])["state"] == COMPLETED
    assert not processes_with_env("LANES_TASK_ID", task["id"])


async def test_a_request_changed_before_the_claim_waits_visibly(workspace, standins, tmp_path):
    make_settings(workspace)
    task = workspace.submit()
    workspace.request.write_text("# request, edited after submit\n", encoding="utf-8")
    summary = tmp_path / "summary.json"
    result = await asyncio.to_thread(workspace.run, "--no-ui", "--drain", "--summary", str(summary), timeout=BOUND)
    assert result.returncode == 11, (result.stdout, result.stderr)
    waiting = json.loads(summary.read_text())["waiting"]
    assert [w["id"] for w in waiting] == [task["id"]]
    assert waiting[0]["reason"].startswith(f"request hash mismatch for {task['id']}")
    assert "task_waiting" in result.stdout
    assert event_types(workspace.store(), task["id"]) == ["created"]


async def test_a_request_changed_while_the_agent_runs_releases_the_claim_with_the_reason(workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "slow")
    monkeypatch.setenv("STANDIN_DELAY", "0.1")
    task = workspace.submit()
    store = workspace.store()
    async with supervising(store, make_settings(workspace), drain=True) as h:
        await h.events.wait_for(ev.WorkerStarted, task["id"])
        workspace.request.write_text("# request, edited while the agent ran\n", encoding="utf-8")
        abandoned = await h.events.wait_for(ev.WorkerAbandoned, task["id"])
        waiting = await h.events.wait_for(ev.TaskWaiting, task["id"])
        await asyncio.wait_for(h.job, BOUND)
    assert abandoned.reason.startswith("answer not recorded: request hash mismatch")
    assert waiting.reason.startswith("request hash mismatch")
    assert h.supervisor.waiting == {task["id"]: waiting.reason}
    stored = store.read_task(task["id"])
    assert stored["state"] == QUEUED and stored["claim_owner"] is None  # not held until the lease runs out
    released = events_of(store, task["id"], "released")
    assert len(released) == 1 and released[0]["data"]["reason"].startswith("answer not recorded: request hash mismatch")
    assert store.read_response(task["id"]) is None


async def test_a_renewal_that_fails_to_write_once_does_not_kill_the_agent(workspace, standins, monkeypatch):
    """A transient StoreError (disk full for a moment) is not a lost claim: renew again next time."""
    monkeypatch.setenv("STANDIN_MODE", "slow")
    monkeypatch.setenv("STANDIN_DELAY", "0.2")
    real_renew = FileBackend.renew
    calls: list[int] = []

    def flaky_renew(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise StoreError("cannot renew: No space left on device")
        return real_renew(self, *args, **kwargs)

    monkeypatch.setattr(FileBackend, "renew", flaky_renew)
    task = workspace.submit()
    store = workspace.store()
    async with supervising(store, make_settings(workspace, lane={"lease_seconds": 4, "renew_seconds": 0.2})) as h:
        await h.events.wait_for(ev.TaskCompleted, task["id"])
        assert not h.events.of(ev.WorkerAbandoned)
    assert len(calls) >= 2
    assert store.read_response(task["id"])["status"] == COMPLETED


async def test_renewals_that_keep_failing_stop_the_agent_by_the_lease_end_and_hand_the_claim_back(
        workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "hang")

    def broken_renew(self, *args, **kwargs):
        raise StoreError("cannot renew: Input/output error")

    monkeypatch.setattr(FileBackend, "renew", broken_renew)
    task = workspace.submit()
    store = workspace.store()
    settings = make_settings(workspace, lane={"timeout_seconds": 60, "lease_seconds": 2, "renew_seconds": 0.4})
    async with supervising(store, settings) as h:
        started = await h.events.wait_for(ev.WorkerStarted, task["id"])
        began = time.monotonic()
        abandoned = await h.events.wait_for(ev.WorkerAbandoned, task["id"])
        took = time.monotonic() - began
        assert not procinfo.group_alive(started.pid)
        h.supervisor.request_stop()  # do not start it again: this test is about the first attempt
        released = await until(lambda: events_of(store, task["id"], "released"))
    assert took < 2 + 0.5 + 1, took  # stopped by the time the lease ran out (+ kill grace + slack)
    assert "the lease could not be renewed" in abandoned.reason
    assert "the lease could not be renewed" in released[0]["data"]["reason"]
    assert store.read_task(task["id"])["state"] == QUEUED


async def test_a_leftover_group_that_survives_the_kill_keeps_its_task_until_the_lease_expires(
        workspace, standins, monkeypatch):
    """Reclaim means kill, verify the group is gone, then release: a group still alive after the kill
    grace (a kill that has not taken effect) must not get a second worker on its task at once."""
    task = workspace.submit()
    store = workspace.store()
    dead_pid = 2 ** 22 + 17  # above pid_max's default: never a live pid here
    owner = f"lanes-tui@{socket.gethostname()}:{dead_pid}"
    claimed = store.claim(task["id"], owner=owner, lease_seconds=3)
    expires = parse_ts(claimed["lease_expires_at"]).timestamp()
    old_worker = subprocess.Popen(["sleep", "300"], start_new_session=True, stdin=subprocess.DEVNULL)
    try:
        record = {"owner": owner, "pid": dead_pid, "start_time": 1, "workers": {task["id"]: {
            "task_id": task["id"], "pid": old_worker.pid, "pgid": old_worker.pid,
            "start_time": procinfo.start_time(old_worker.pid), "claim_token": claimed["claim_token"], "attempt": 1}}}
        folder = store.root / ".lanes-tui"
        folder.mkdir(mode=0o700, exist_ok=True)
        with fsio.open_dir(folder) as fd:
            fsio.write_atomic("supervisor.json", fsio.dumps_json(record), dir_fd=fd)
        real_signal_group = procinfo.signal_group

        def kill_not_taking_effect(pgid, sig):
            return True if pgid == old_worker.pid else real_signal_group(pgid, sig)

        monkeypatch.setattr(procinfo, "signal_group", kill_not_taking_effect)
        async with supervising(store, make_settings(workspace), drain=True) as h:
            began = await h.events.wait_for(ev.SupervisorStarted)
            assert began.killed_leftover_workers == (task["id"],) and began.recovered_tasks == ()
            assert store.read_task(task["id"])["claim_owner"] == owner  # not handed on while the old one lives
            old_worker.kill()  # now it is gone; the task comes back when its lease expires
            started_at: list[float] = []
            h.events.listeners.append(lambda e: isinstance(e, ev.WorkerStarted) and started_at.append(time.time()))
            await asyncio.wait_for(h.job, BOUND)
        assert started_at and started_at[0] >= expires
        assert store.read_task(task["id"])["state"] == COMPLETED
    finally:
        if old_worker.poll() is None:
            old_worker.kill()
        old_worker.wait(BOUND)


async def test_a_foreign_expired_claim_nobody_here_can_run_ends_the_drain_as_stuck(workspace, standins):
    """Issue 10's soak: such a task kept `--drain` running for ever, and woke the scheduler every
    10 ms (14% of a core): an expired lease was taken for one about to expire."""
    from lanes_tui.engine.headless import EXIT_STUCK, exit_code

    store = workspace.store()
    task = workspace.submit(metadata={"required_vendor": "gemini"})  # not configured here
    store.claim(task["id"], owner="agent-lanes@laptop:77", lease_seconds=0.001)
    await until(lambda: parse_ts(store.read_task(task["id"])["lease_expires_at"]) <= store.now())
    async with supervising(store, make_settings(workspace), drain=True) as h:
        waiting = await h.events.wait_for(ev.TaskWaiting, task["id"])
        assert "is not configured here" in waiting.reason
        # Nothing to wait for: the scheduler sleeps until its rescan, it does not spin.
        assert h.supervisor._next_timer() > 1.0
        await asyncio.wait_for(h.job, BOUND)
        assert h.supervisor.drained and task["id"] in h.supervisor.waiting
        assert exit_code(h.supervisor, interrupted=False) == EXIT_STUCK
    assert store.read_task(task["id"])["state"] == "claimed"  # left as found


async def test_unreadable_task_files_end_the_drain_with_the_reason(workspace, standins):
    store = workspace.store()
    broken = workspace.submit(name="broken")
    fine = workspace.submit(name="fine")
    events = store.root / "tasks" / broken["id"] / "events.jsonl"
    events.unlink()
    events.mkdir()  # issue 10's soak: events.jsonl a directory
    async with supervising(store, make_settings(workspace), drain=True) as h:
        await h.events.wait_for(ev.TaskCompleted, fine["id"])
        await asyncio.wait_for(h.job, BOUND)
        assert h.supervisor.waiting == {broken["id"]: "events.jsonl is not a regular file"}
