"""The dashboard on a PostgreSQL queue (issue 14), as on files: it supervises (stand-in agents,
real subprocesses), its table follows the tasks through LISTEN/NOTIFY, and the locks view
follows a lock another process takes. The server is a real one the tests start."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from helpers.supervisor import make_settings, standins  # noqa: F401 (fixture)

from lanes_tui.core.locks import lock_key_for_name
from lanes_tui.ui.screens.locks_screen import LocksScreen
from lanes_tui.ui.widgets.task_table import TaskTable

from .conftest import make_app, shown
from .test_on_memory_backend import submit


async def test_the_dashboard_runs_on_a_postgres_queue(workspace, standins, postgres_url, tmp_path):  # noqa: F811
    from lanes_tui.storage.postgres import PostgresBackend

    store = PostgresBackend(postgres_url, logs_dir=tmp_path / "logs")
    try:
        settings = make_settings(workspace)
        ids = [submit(store, workspace, prompt=f"task {n}", name=f"out{n}")["id"] for n in range(2)]
        app = make_app(workspace, settings, store=store)
        async with app.run_test(size=(120, 36)) as pilot:
            await asyncio.wait_for(app.loaded.wait(), 20)
            table = app.query_one(TaskTable)
            await shown(app, pilot, lambda: all(table.row(i) and table.row(i).state == "completed" for i in ids),
                        "both completed in the table")
            await pilot.press("L")
            screen = await shown(app, pilot, lambda: isinstance(app.screen, LocksScreen) and app.screen, "locks")
            await shown(app, pilot, lambda: screen.loaded.is_set(), "the locks listed")
            taken = subprocess.run(  # another process, as another host would
                [sys.executable, "-c", (
                    "from lanes_tui.storage.postgres import PostgresBackend\n"
                    f"PostgresBackend({postgres_url!r}).locks().acquire({lock_key_for_name('deploy')!r}, "
                    "owner='alice', ttl_seconds=600, reason='release')\n")],
                capture_output=True, text=True, timeout=60)
            assert taken.returncode == 0, taken.stderr
            await shown(app, pilot, lambda: screen.query_one("DataTable").row_count == 1, "alice's lock, followed")
        assert app.engine.location() == store.location
        assert all(store.read_task(i)["state"] == "completed" for i in ids)
    finally:
        store.close()
