"""The hosts view and the notifier's state (issue 14), on a real PostgreSQL queue shared with a
supervisor of another (simulated) host: `H` lists every host's supervisor with its heartbeat,
capacity and tasks; breaking a claim that host holds says who runs it and when it will notice;
the header says when changes are found by polling because notifications stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest
from helpers.supervisor import make_settings

from lanes_tui.core.errors import ConflictError
from lanes_tui.core.hosts import this_host
from lanes_tui.ui.screens.break_modal import BreakModal
from lanes_tui.ui.screens.hosts_screen import HostsScreen
from lanes_tui.ui.widgets.header_bar import HeaderBar

from .conftest import make_app, shown
from .test_on_memory_backend import submit

FAR_HOST = (
    "import sys\n"
    "from lanes_tui.core.supervisors import WorkerRecord\n"
    "from lanes_tui.storage.postgres import PostgresBackend\n"
    "store = PostgresBackend(sys.argv[1])\n"
    "registry = store.supervisor_registry()\n"
    "registry.record.capacity = 3\n"
    "registry.claim()\n"
    "token = store.claim(sys.argv[2], owner=registry.owner, lease_seconds=600)['claim_token']\n"
    "registry.record_worker(WorkerRecord(sys.argv[2], 1, 1, None, token, 1))\n"
    "print(token, flush=True)\n"
    "sys.stdin.read()\n"  # until the test lets go
    "registry.release()\n"
)


@pytest.fixture
def pg_store(postgres_url, tmp_path):
    from lanes_tui.storage.postgres import PostgresBackend

    store = PostgresBackend(postgres_url, logs_dir=tmp_path / "logs")
    yield store
    store.close()


@pytest.fixture
def far_host(pg_store, postgres_url, workspace):
    """A supervisor of host `far-1` (another process, its own host id) running one task."""
    task_id = submit(pg_store, workspace, prompt="runs elsewhere")["id"]
    far = subprocess.Popen([sys.executable, "-c", FAR_HOST, postgres_url, task_id], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, env={**os.environ, "LANES_TUI_HOST_ID": "far-1"})
    token = far.stdout.readline().strip()
    assert token, "the far host did not start"
    try:
        yield task_id, token, far
    finally:
        os.kill(far.pid, signal.SIGCONT)  # (if a test froze it)
        far.stdin.close()
        far.wait(60)


def cells(screen: HostsScreen) -> dict[str, list[str]]:
    table = screen.query_one("DataTable")
    return {str(row[0]).removesuffix(" (this host)"): [str(c) for c in row]
            for row in (table.get_row_at(n) for n in range(table.row_count))}


async def test_every_host_with_its_heartbeat_and_a_break_of_its_claim_says_when_it_notices(
        workspace, pg_store, far_host):
    task_id, far_token, far = far_host
    settings = make_settings(workspace, lane={"renew_seconds": 20, "lease_seconds": 120})
    app = make_app(workspace, settings, store=pg_store)
    async with app.run_test(size=(120, 36)) as pilot:
        await asyncio.wait_for(app.loaded.wait(), 20)
        await pilot.press("H")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, HostsScreen) and app.screen, "hosts")
        await shown(app, pilot, lambda: len(cells(screen)) == 2, "both hosts listed")
        rows = cells(screen)
        assert rows["far-1"][1:2] == ["running"] and rows["far-1"][3] == "1/3"
        assert rows["far-1"][5].endswith(task_id[-4:])  # its task, by its short id
        assert rows[this_host()][1] == "running" and rows[this_host()][0].endswith("(this host)")
        # Once the dashboard's feed is armed (after its first frame): the title follows at a re-read.
        await shown(app, pilot, lambda: "changes: LISTEN/NOTIFY" in str(screen.query_one("#hosts-title").render()),
                    "how changes arrive")
        os.kill(far.pid, signal.SIGSTOP)  # far-1 freezes: its heartbeats stop coming
        with pg_store._pool.connection() as conn:  # (and the last one is 15 s old)
            conn.execute("UPDATE lanes_tui.supervisors SET heartbeat_at = clock_timestamp() - interval '15 seconds' "
                         "WHERE host = 'far-1'")
        await shown(app, pilot, lambda: cells(screen)["far-1"][1] == "late", "far-1 late", timeout=30)
        assert "counted dead once its heartbeat is 30 s old" in str(screen.query_one("#hosts-note").render())
        await pilot.press("escape")

        await shown(app, pilot, lambda: app.table.selected_id == task_id, "far-1's task selected")
        await pilot.press("b")
        modal = await shown(app, pilot, lambda: isinstance(app.screen, BreakModal) and app.screen, "break dialog")
        (info,) = modal._infos
        assert info.elsewhere.startswith("far-1 runs it (late, heartbeat ") and "within about 20 s" in info.elsewhere
        assert "elsewhere" in str(modal.query_one(".info").render())
        await pilot.press("enter")
        await shown(app, pilot, lambda: any("within about 20 s" in str(n.message) for n in app._notifications),
                    "told when far-1 notices")
    assert pg_store.read_task(task_id)["state"] == "queued"
    with pytest.raises(ConflictError):  # what far-1's next renewal meets
        pg_store.renew(task_id, claim_token=far_token, lease_seconds=600)


async def test_the_header_says_when_changes_are_found_by_polling(workspace, pg_store, monkeypatch):
    from lanes_tui.storage.postgres import feeds

    monkeypatch.setattr(feeds, "PING_AFTER_SECONDS", 0.2)
    monkeypatch.setattr(feeds, "PING_TIMEOUT_SECONDS", 0.5)
    app = make_app(workspace, make_settings(workspace), store=pg_store, watch_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await asyncio.wait_for(app.loaded.wait(), 20)
        header = app.query_one(HeaderBar)
        feed = await shown(app, pilot, app.engine._task_feed, "the feed armed")
        listener = feed._listener
        listening = listener._listen

        def deaf():  # what a transaction-mode pooler does to LISTEN
            conn = listening()
            conn.execute("UNLISTEN *")
            return conn

        listener._listen = deaf
        listener._conn.execute("UNLISTEN *")
        await shown(app, pilot, lambda: "notifier degraded: polling (H)" in str(header.render()), "degraded shown")
        task_id = submit(pg_store, workspace, prompt="found by a poll")["id"]
        await shown(app, pilot, lambda: app.table.row(task_id) is not None, "a new task found meanwhile")
        listener._listen = listening
        await shown(app, pilot, lambda: "degraded" not in str(header.render()), "recovered", timeout=30)
