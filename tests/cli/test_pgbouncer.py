"""A queue behind a real PgBouncer in transaction mode (issue 14): what goes wrong without
`lanes_pooler=transaction` (LISTEN is deaf: the feed says so and polls), and the supervisor
draining tasks through it with the option (stand-in agents and their MCP server, which get the
same URL). The pooler and the server are real ones the tests start, on Unix sockets."""

from __future__ import annotations

import os

import pytest
from helpers.standins import install_standins
from helpers.supervisor import write_settings

from .test_postgres_queue import ok, postgres, run, submit


@pytest.fixture(scope="module")
def pgbouncer(postgres_server):
    from helpers.pgbouncer import PgBouncer, pgbouncer_bin
    from helpers.postgres import REQUIRE_ENV

    if pgbouncer_bin() is None:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"pgbouncer is not installed (and {REQUIRE_ENV} is set)")
        pytest.skip("pgbouncer is not installed")
    bouncer = PgBouncer(postgres_server)
    yield bouncer
    bouncer.stop()


@pytest.fixture
def pooled_url(pgbouncer, postgres_url) -> str:
    """A fresh database, reached through the pooler."""
    return pgbouncer.url(postgres_url.split("///", 1)[1].split("?", 1)[0])


async def test_without_the_option_listen_is_deaf_behind_the_pooler_and_the_feed_says_so(
        pooled_url, workspace, monkeypatch):
    from lanes_tui.storage.postgres import PostgresBackend, feeds

    from storage.test_contract import submit as submit_task

    monkeypatch.setattr(feeds, "PING_AFTER_SECONDS", 0.2)
    monkeypatch.setattr(feeds, "PING_TIMEOUT_SECONDS", 1.0)
    monkeypatch.setattr(feeds, "POLL_SECONDS", 0.3)
    store = PostgresBackend(pooled_url)
    feed = store.task_feed()
    try:
        seen: set[str] = set()
        for _ in range(100):  # bounded: each round is one wait of the feed
            seen |= await feed.changes(1) or set()
            if feed.degraded:
                break
        assert feed.degraded and "ping" in feed.degraded, "LISTEN through a transaction pooler went unnoticed"
        task_id = submit_task(store, workspace, correlation_id="found")["id"]
        for _ in range(100):
            if task_id in (await feed.changes(1) or set()):
                break
        else:
            raise AssertionError("a new task was not found by polling")
    finally:
        feed.close()
        store.close()


def test_with_lanes_pooler_transaction_the_supervisor_drains_through_the_pooler(workspace, pooled_url, tmp_path):
    url = f"{pooled_url}&lanes_pooler=transaction"
    write_settings(workspace.config.parent / "lanes-tui.yaml")
    bin_dir = install_standins(tmp_path / "bin")
    env = {**os.environ, "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])}
    ids = [submit(workspace, "--store", url, metadata="required_vendor=claude", env=env) for _ in range(3)]
    done = run(workspace, "--store", url, "--no-ui", "--drain", "--json", env=env)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    listed = ok(run(workspace, "--store", url, "--json", "list", env=env))
    assert sorted(t["id"] for t in listed["tasks"]) == sorted(ids)
    store = postgres(url)
    try:
        for task_id in ids:
            assert store.read_task(task_id)["state"] == "completed"
            assert store.attempts(task_id) == 1
        (supervisor,) = store.supervisors()
        assert supervisor.state == "stopped"  # its row was the lock, let go at the end
    finally:
        store.close()
