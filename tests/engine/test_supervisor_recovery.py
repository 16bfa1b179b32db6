"""Supervisor deaths, restarts and rivals: fault rows 2-5 of reliability.md (G2, G7, G9).

The supervisors under test are real `lanes-tui --no-ui` processes where a
signal has to hit them (SIGKILL, SIGSTOP), and in-process ones where the test
needs their events.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from helpers.supervisor import (
    BOUND,
    event_types,
    events_of,
    headless_argv,
    json_event,
    make_settings,
    pid_alive,
    processes_with_env,
    supervising,
    until,
    wait_sync,
)

from lanes_tui.core import fsio, procinfo
from lanes_tui.core.errors import ConflictError
from lanes_tui.core.model import COMPLETED, FAILED
from lanes_tui.core.requests import CLOSED, QUESTION
from lanes_tui.engine import events as ev
from lanes_tui.engine.supervisor import Supervisor


def all_threads_stopped(pid: int) -> bool:
    states = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat", "rb") as handle:
            states.append(handle.read().rsplit(b")", 1)[1].split()[0])
    return all(state in (b"T", b"t") for state in states)


def task_pids(task_id: str) -> list[int]:
    return processes_with_env("LANES_TASK_ID", task_id)


async def test_sigkilled_supervisor_takes_its_worker_along_and_the_next_one_requeues_at_once(
        workspace, standins, headless, monkeypatch):
    """Row 2 + G2 + G9: the guard kills the orphaned group; a new supervisor re-queues without waiting for the lease."""
    settings = make_settings(workspace, lane={"timeout_seconds": 60, "lease_seconds": 60, "renew_seconds": 5})
    task = workspace.submit()
    store = workspace.store()
    proc, out = headless.start(workspace, "--json", env={"STANDIN_MODE": "hang"})
    started = json.loads(out.wait_for(json_event("worker_started", task["id"])))
    pgid = started["pid"]
    # The agent itself (the guard's child) is up and has printed its first line.
    await until(lambda: b'"subtype":"init"' in (store.root / ".lanes-tui/logs" / task["id"] / "attempt-1.log").read_bytes())
    agent_pids = task_pids(task["id"])
    assert pgid in agent_pids and len(agent_pids) >= 2
    recorded = json.loads((store.root / ".lanes-tui" / "supervisor.json").read_text())
    assert recorded["workers"][task["id"]]["pgid"] == pgid
    # Its agent waits for a person (issue 13): the question must not outlive the attempt. (Its
    # waiter here is this test, alive, so only the recovery can close it.)
    question = store.requests().open(kind=QUESTION, agent="w", text="go on?", task_id=task["id"], lane="default",
                                     timeout_seconds=600, pid=os.getpid())

    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(BOUND)
    killed_at = time.monotonic()
    await until(lambda: not procinfo.group_alive(pgid), 5, what="worker group gone after the supervisor died")
    assert not any(pid_alive(p) for p in agent_pids)
    assert time.monotonic() - killed_at < 5
    assert store.read_task(task["id"])["state"] == "claimed"  # nobody released it: the lease is still 60 s

    monkeypatch.setenv("STANDIN_MODE", "ok")
    async with supervising(store, settings) as h:
        began = await h.events.wait_for(ev.SupervisorStarted)
        assert began.recovered_tasks == (task["id"],)
        done = await h.events.wait_for(ev.TaskCompleted, task["id"], timeout=10)  # far less than the 60 s lease
        assert done.attempts == 2
    types = event_types(store, task["id"])
    assert types.count("claimed") == 2 and types.count("response") == 1
    failed = events_of(store, task["id"], "attempt_failed")
    assert len(failed) == 1 and "died while the task ran" in failed[0]["message"]
    released = events_of(store, task["id"], "released")
    assert len(released) == 1 and "recovery" in released[0]["data"]["reason"]
    assert store.read_response(task["id"])["metadata"]["attempt"] == 2
    closed = store.requests().get(question.id)
    assert closed.state == CLOSED and "died while the agent waited; the task was queued again" in closed.reply


async def test_restart_kills_a_recorded_leftover_group_but_not_a_decoy_with_a_reused_pid(workspace, standins):
    """Row 3 + G9: only groups whose leader still has the recorded start time are killed."""
    store = workspace.store()
    workspace.submit()  # creates the store
    spawn = dict(start_new_session=True, stdin=subprocess.DEVNULL)
    decoy = subprocess.Popen(["sleep", "300"], **spawn)
    leftover = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, time; subprocess.Popen(['sleep', '300']); time.sleep(300)"], **spawn)
    headless_leader = subprocess.Popen(["sh", "-c", "sleep 300 & echo started"], stdout=subprocess.PIPE, **spawn)
    procs = [decoy, leftover, headless_leader]
    try:
        assert headless_leader.stdout.readline() == b"started\n"
        headless_leader.wait(BOUND)  # the leader exited (and is reaped); its child lives on in the group
        await until(lambda: len(procinfo.group_members(leftover.pid)) == 2, what="leftover has its child")
        member_of_leftover = [p for p, _, _ in procinfo.group_members(leftover.pid) if p != leftover.pid][0]
        assert procinfo.group_alive(headless_leader.pid)

        dead_pid = _a_dead_pid()
        folder = store.root / ".lanes-tui"
        folder.mkdir(mode=0o700, exist_ok=True)

        def worker(task_id, proc, start_time):
            return {"task_id": task_id, "pid": proc.pid, "pgid": proc.pid, "start_time": start_time,
                    "claim_token": "0" * 32, "attempt": 1}

        record = {
            "owner": f"lanes-tui@{socket.gethostname()}:{dead_pid}", "pid": dead_pid, "start_time": 12345,
            "workers": {
                "decoy": worker("decoy", decoy, procinfo.start_time(decoy.pid) + 7),  # pid reused by someone else
                "leftover": worker("leftover", leftover, procinfo.start_time(leftover.pid)),
                "leader-gone": worker("leader-gone", headless_leader, 4242),
            },
        }
        with fsio.open_dir(folder) as fd:
            fsio.write_atomic("supervisor.json", fsio.dumps_json(record), dir_fd=fd)

        async with supervising(store, make_settings(workspace)) as h:
            began = await h.events.wait_for(ev.SupervisorStarted)
            assert sorted(began.killed_leftover_workers) == ["leader-gone", "leftover"]
            assert leftover.wait(5) == -signal.SIGKILL
            await until(lambda: not procinfo.group_alive(leftover.pid), 5)
            await until(lambda: not procinfo.group_alive(headless_leader.pid), 5)
            assert not pid_alive(member_of_leftover)
            assert decoy.poll() is None and pid_alive(decoy.pid), "the decoy was killed"
            # The new supervisor's own record replaced the dead one's.
            mine = json.loads((folder / "supervisor.json").read_text())
            assert mine["pid"] == os.getpid() and mine["workers"] == {}
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(BOUND)
            if proc.stdout:
                proc.stdout.close()
        for pgid in (leftover.pid, headless_leader.pid):
            if procinfo.group_alive(pgid):
                os.killpg(pgid, signal.SIGKILL)


def _a_dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


async def test_a_second_supervisor_on_the_same_store_refuses_to_start(workspace, standins):
    """Row 4: one clear line, a non-zero exit, nothing run; the lock frees when the first stops."""
    settings = make_settings(workspace)
    task = workspace.submit()
    store = workspace.store()
    first = Supervisor(store, settings)
    await first.start()  # holds the lifetime lock; not scheduling, so the task stays queued
    try:
        result = await asyncio.to_thread(workspace.run, "--no-ui", "--drain", timeout=BOUND)
        assert result.returncode == 1, (result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0] == (f"lanes-tui: another lanes-tui supervisor (pid {os.getpid()}) is already running on "
                            f"{store.root}; use the dashboard with --watch-only to watch it")
        assert "Traceback" not in result.stderr and result.stdout == ""
        as_json = await asyncio.to_thread(workspace.run, "--no-ui", "--json", timeout=BOUND)
        assert as_json.returncode == 1 and json.loads(as_json.stdout)["error"] == "conflict"
        second = Supervisor(store, settings)
        try:
            await second.start()
        except ConflictError:
            pass
        else:
            raise AssertionError("a second in-process supervisor started")
        assert event_types(store, task["id"]) == ["created"]
    finally:
        first.request_stop()
        await asyncio.wait_for(first.run(), BOUND)
    async with supervising(store, settings) as h:  # the lock was released with the first
        await h.events.wait_for(ev.TaskCompleted, task["id"])


async def test_paused_supervisor_is_fenced_and_stops_its_worker(workspace, standins, headless):
    """Row 5 + G7: SIGSTOP past the lease; another client claims and answers; after SIGCONT the first
    supervisor's renew/respond are refused, it stops its still-running worker, one response exists."""
    make_settings(workspace, lane={"timeout_seconds": 60, "lease_seconds": 1.5, "renew_seconds": 0.5})
    task = workspace.submit()
    store = workspace.store()
    proc, out = headless.start(workspace, "--json", "--drain", env={"STANDIN_MODE": "hang"})
    started = json.loads(out.wait_for(json_event("worker_started", task["id"])))
    pgid = started["pid"]
    await until(lambda: "headless_started" in event_types(store, task["id"]))
    first_token = store.read_task(task["id"])["claim_token"]

    # Pause it while *we* hold the store lock, so that it is never paused inside a store verb: a
    # stopped process holding the store's flock blocks every client (this test included).
    try:
        with store.locked():
            os.kill(proc.pid, signal.SIGSTOP)
            wait_sync(lambda: all_threads_stopped(proc.pid), 10, what="the supervisor is stopped")

        def claim_when_expired():
            try:
                return store.claim(task["id"], owner="second-holder", lease_seconds=60)
            except ConflictError:
                return None

        second = await until(claim_when_expired, 10, step=0.05, what="lease of the paused supervisor expired")
        assert procinfo.group_alive(pgid)  # its worker still runs meanwhile (its supervisor lives)
        store.respond(task["id"], body="the second holder's answer", reviewer="second-holder",
                      claim_token=second["claim_token"])
        claimed_again = len(store.read_events(task["id"]).events)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    out.wait_for(json_event("worker_abandoned", task["id"]))
    await until(lambda: not procinfo.group_alive(pgid), 5, what="the fenced supervisor stopped its worker")
    assert proc.wait(BOUND) == 0  # --drain: nothing left to do
    later = [e["type"] for e in store.read_events(task["id"]).events[claimed_again:]]
    assert later == [], f"the fenced supervisor wrote {later}"
    types = event_types(store, task["id"])
    assert types.count("response") == 1
    response = store.read_response(task["id"])
    assert response["reviewer"] == "second-holder" and response["body"] == "the second holder's answer"
    assert store.read_task(task["id"])["state"] == COMPLETED
    for verb in (lambda: store.renew(task["id"], claim_token=first_token, lease_seconds=5),
                 lambda: store.respond(task["id"], body="late", reviewer="x", claim_token=first_token)):
        try:
            verb()
        except ConflictError:
            pass
        else:
            raise AssertionError("a stale token was accepted")
    abandoned = [json.loads(line) for line in out.lines if json_event("worker_abandoned")(line)]
    assert "claim lost" in abandoned[0]["reason"]


NON_REAPING_PARENT = r"""
import ctypes, json, os, subprocess, sys
# Like a container's PID 1 that never reaps: adopt orphans (PR_SET_CHILD_SUBREAPER) and leave them as zombies.
assert ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
supervisor = subprocess.Popen(sys.argv[1:])
code = supervisor.wait()  # reaps the supervisor only
zombies = []
for name in os.listdir("/proc"):
    if name.isdigit():
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            zombies.append([int(name), fields[0].decode()])
print(json.dumps({"code": code, "children_left": zombies}), flush=True)
"""


@pytest.mark.parametrize("mode", ["ignore_sigterm", "grandchild_holds_stdout"])
async def test_no_zombie_is_left_for_a_parent_that_never_reaps(workspace, standins, tmp_path, mode):
    """Row 7/8 in a container whose PID 1 does not reap: the supervisor adopts and reaps what its
    workers leave (an agent killed with its guard, a grandchild that held stdout)."""
    make_settings(workspace, lane={"timeout_seconds": 1 if mode == "ignore_sigterm" else 20, "max_attempts": 1},
                  kill_grace_seconds=0.5)
    task = workspace.submit()
    env = dict(os.environ, STANDIN_MODE=mode, STANDIN_GRANDCHILD_SECONDS="120")
    script = tmp_path / "non_reaping_parent.py"
    script.write_text(NON_REAPING_PARENT, encoding="utf-8")
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, str(script), *headless_argv(workspace, "--drain")],
        cwd=workspace.root, env=env, capture_output=True, text=True, timeout=BOUND)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["code"] == (10 if mode == "ignore_sigterm" else 0), result.stdout + result.stderr
    assert report["children_left"] == [], f"processes left to a parent that never reaps: {report}"
    state = workspace.store().read_task(task["id"])["state"]
    assert state == (FAILED if mode == "ignore_sigterm" else COMPLETED)


async def test_an_attempt_its_supervisor_did_not_survive_counts_toward_max_attempts(workspace, standins):
    """G3: a task that takes its supervisor down is not claimed again for ever (issue 10's soak:
    26 claims with max_attempts 12). The dead supervisor's attempt is the last one allowed here."""
    from lanes_tui.core.supervisors import owner_prefix

    store = workspace.store()
    task = workspace.submit()
    dead = f"{owner_prefix()}999999"  # a lanes-tui supervisor on this host that is gone
    first = store.claim(task["id"], owner=dead, lease_seconds=600)
    store.append_event(task["id"], "attempt_failed", "agent exited with status 1",
                       {"attempt": 1, "reason": "agent exited with status 1"}, claim_token=first["claim_token"])
    store.release(task["id"], claim_token=first["claim_token"], reason="retry")
    store.claim(task["id"], owner=dead, lease_seconds=600)  # attempt 2: its supervisor dies during it
    settings = make_settings(workspace, lane={"max_attempts": 2})
    async with supervising(store, settings) as h:
        failed = await h.events.wait_for(ev.TaskFailed, task["id"])
        assert failed.attempts == 2
        assert not h.events.of(ev.WorkerStarted, task["id"])  # not claimed a third time
    response = store.read_response(task["id"])
    assert response["status"] == FAILED
    assert response["body"] == ("failed after 2 attempt(s):\n1. agent exited with status 1\n"
                                f"2. supervisor {dead} died while the task ran")
    assert event_types(store, task["id"]).count("claimed") == 2


async def test_a_dead_supervisors_attempt_below_the_cap_is_run_again(workspace, standins):
    from lanes_tui.core.supervisors import owner_prefix

    store = workspace.store()
    task = workspace.submit()
    store.claim(task["id"], owner=f"{owner_prefix()}999999", lease_seconds=600)
    async with supervising(store, make_settings(workspace, lane={"max_attempts": 2})) as h:
        done = await h.events.wait_for(ev.TaskCompleted, task["id"])
        assert done.attempts == 2
    assert store.read_response(task["id"])["status"] == COMPLETED
