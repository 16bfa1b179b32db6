"""The lease fence covers a worker from its fork on (found by the multi-host chaos run, where a
partitioned host's event loop was held by a store call between a worker's fork and the spawn's
return, and that worker, never fenced and never fed its stdin, outlived its lease by half a
minute while another host ran the task). With real processes and signals:

- a fence that fires before it was told the worker's pid finds it by its LANES_AGENT_ID and
  stops its group, leaving this process's other children alone;
- one told the pid after it fired stops the worker at once;
- an attempt whose event loop is held right after the spawn, past the lease, finds its worker
  gone when the loop comes back, and the attempt ends as a lost claim.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from helpers.supervisor import make_settings, supervising

from lanes_tui.core import procinfo
from lanes_tui.engine import events as ev
from lanes_tui.engine.lease_fence import LeaseFence
from lanes_tui.vendors.process import WorkerProcess

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
BOUND = 30.0  # an upper bound on each wait, never a pace


def spawn(marker: str) -> subprocess.Popen:
    return subprocess.Popen(SLEEPER, env={**os.environ, "LANES_AGENT_ID": marker}, start_new_session=True)


def finder(marker: str):
    return lambda: procinfo.children_with_environ(os.getpid(), f"LANES_AGENT_ID={marker}")


def test_a_fence_that_fires_before_it_knows_the_worker_finds_it_by_its_agent_id():
    worker, bystander = spawn("sup/task-a"), spawn("sup/task-b")
    try:
        fence = LeaseFence(None, None, None, 1.0, find=finder("sup/task-a"))
        fence.arm(time.monotonic())  # the lease is over before the spawn's return was heard
        assert worker.wait(BOUND) == -signal.SIGTERM
        fence.disarm()
        assert fence.fired and bystander.poll() is None  # another task's worker is not touched
    finally:
        for proc in (worker, bystander):
            proc.kill()
            proc.wait(BOUND)


def test_a_fence_told_the_worker_after_it_fired_stops_it_at_once():
    fence = LeaseFence(None, None, None, 1.0, find=finder("sup/task-c"))
    fence.arm(time.monotonic())
    deadline = time.monotonic() + BOUND
    while not fence.fired:  # (polled: the fence's thread sets it)
        assert time.monotonic() < deadline, "the fence did not fire"
        time.sleep(0.01)
    worker = spawn("sup/task-c")  # forked only now: nothing was there to find
    try:
        fence.bind(worker.pid, worker.pid, procinfo.start_time(worker.pid))
        assert worker.wait(BOUND) == -signal.SIGTERM
        fence.disarm()
    finally:
        worker.kill()
        worker.wait(BOUND)


async def test_an_attempt_whose_loop_is_held_after_the_spawn_finds_its_worker_fenced(
        workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "slow")
    monkeypatch.setenv("STANDIN_DELAY", "1")  # an agent that outlives the lease by far
    lease = 3.0
    settings = make_settings(workspace, lane={"lease_seconds": lease, "renew_seconds": 1, "max_attempts": 1},
                             kill_grace_seconds=0.5)
    seen: list[tuple[int, bool]] = []
    start = WorkerProcess.start

    async def start_then_hold_the_loop(self, stdin_data: bytes) -> None:
        await start(self, stdin_data)
        # What a store call that does not answer does to the loop: nothing else of this
        # process runs (the renewals, the stdin feed) until the lease is well over.
        time.sleep(lease + 2)
        seen.append((self.pgid, procinfo.group_alive(self.pgid)))

    monkeypatch.setattr(WorkerProcess, "start", start_then_hold_the_loop)
    task = workspace.submit()
    store = workspace.store()
    async with supervising(store, settings) as h:
        await h.events.wait_for(ev.WorkerAbandoned, task["id"])
    assert seen and seen[0][1] is False, seen  # gone before the loop came back
    assert "claim lost" in h.events.of(ev.WorkerAbandoned, task["id"])[0].reason
