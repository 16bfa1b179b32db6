"""Self-fencing on a shared queue (issue 14): a supervisor that cannot reach the database stops
its own worker before the lease it holds runs out, so the rescuer another host starts once the
lease has lapsed is never a second live worker on the task.

The database is a real PostgreSQL server of this test's own, frozen with SIGSTOP (every
process of it): what a partition looks like to a client, whose calls hang without an error.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from helpers.supervisor import make_settings, supervising

from lanes_tui.core import procinfo
from lanes_tui.core.clock import parse_ts
from lanes_tui.engine import events as ev


@pytest.fixture
def frozen_server():
    from helpers.postgres import REQUIRE_ENV, PostgresServer, unavailable

    reason = unavailable()
    if reason:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer()
    stopped: list[int] = []

    def freeze() -> None:
        postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
        members = [int(name) for name in os.listdir("/proc")
                   if name.isdigit() and procinfo.parent_of(int(name)) == postmaster] + [postmaster]
        for pid in members:
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)

    def thaw() -> None:
        while stopped:
            try:
                os.kill(stopped.pop(), signal.SIGCONT)
            except ProcessLookupError:
                pass

    server.freeze, server.thaw = freeze, thaw
    try:
        yield server
    finally:
        thaw()
        server.stop()


async def test_a_supervisor_cut_off_from_the_database_stops_its_worker_before_the_lease_runs_out(
        workspace, standins, monkeypatch, frozen_server, tmp_path):
    from lanes_tui.storage.postgres import PostgresBackend

    monkeypatch.setenv("STANDIN_MODE", "hang")  # an agent that works until it is stopped
    settings = make_settings(workspace, lane={"timeout_seconds": 120, "lease_seconds": 8, "renew_seconds": 0.5},
                             kill_grace_seconds=0.5)
    store = PostgresBackend(frozen_server.database(), logs_dir=tmp_path / "logs")
    task = store.create_task(workspace_id="ws", correlation_id="c", source_agent="t", lane="default",
                             workspace_root=workspace.root, request_path=workspace.request,
                             response_path=workspace.root / "out.md", prompt="p",
                             metadata={"required_vendor": "claude"})
    async with supervising(store, settings) as h:
        started = await h.events.wait_for(ev.WorkerStarted, task["id"])
        await h.events.wait_for(ev.LeaseRenewed, task["id"], count=2)
        granted = parse_ts(h.events.of(ev.LeaseRenewed, task["id"])[-1].lease_expires_at).timestamp()
        died = _watch_group(started.pid)  # from a thread: this event loop may stall with the database
        frozen_server.freeze()
        assert died.wait(60), "the worker outlived the frozen database"
        # The last lease the database granted was still running when the worker was gone: a
        # rescuer, which waits for it to lapse, never finds a worker of ours alive.
        assert died.at < granted, (died.at, granted)
        frozen_server.thaw()  # the supervisor's own shutdown then reaches the database again
        abandoned = await h.events.wait_for(ev.WorkerAbandoned, task["id"], timeout=90)
        assert abandoned.reason.startswith("claim lost: ") and "lease would" in abandoned.reason
        assert h.events.of(ev.AttemptFailed, task["id"]) == []  # not the agent's failure: no attempt used


class _GroupDeath(threading.Event):
    at = 0.0


def _watch_group(pgid: int) -> _GroupDeath:
    died = _GroupDeath()

    def watch() -> None:
        deadline = time.monotonic() + 120
        while procinfo.group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.01)  # sampling the group's end; the assertion is on the time it is seen gone
        if not procinfo.group_alive(pgid):
            died.at = time.time()
            died.set()

    threading.Thread(target=watch, daemon=True).start()
    return died
