"""What only the PostgreSQL backend has (issue 14): its schema's migrations, the database's clock,
the per-host supervisor lock that dies with its process, feeds across processes, and how a bad
URL is reported. The verbs themselves are the storage contract's (test_contract.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta

import pytest

from lanes_tui.core.clock import parse_ts
from lanes_tui.core.errors import ConfigError, ConflictError, StoreError
from lanes_tui.core.supervisors import WorkerRecord
from lanes_tui.storage.files.backend import FileBackend

from .test_contract import submit

psycopg = pytest.importorskip("psycopg")


@pytest.fixture
def backend(postgres_url, tmp_path):
    from lanes_tui.storage.postgres import PostgresBackend

    opened = PostgresBackend(postgres_url, logs_dir=tmp_path / "logs")
    yield opened
    opened.close()


def versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT version FROM lanes_tui.schema_version ORDER BY version")]


def test_a_new_database_is_migrated_once_even_by_several_openers_at_once(postgres_url):
    from lanes_tui.storage.postgres import PostgresBackend
    from lanes_tui.storage.postgres.schema import MIGRATIONS

    opened, errors = [], []
    barrier = threading.Barrier(4)

    def open_it() -> None:
        barrier.wait()
        try:
            opened.append(PostgresBackend(postgres_url))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for backend in opened:
        backend.close()
    assert errors == [] and len(opened) == 4
    assert versions(postgres_url) == list(range(1, len(MIGRATIONS) + 1))


def test_a_schema_newer_than_this_lanes_tui_is_refused_and_left_alone(backend, postgres_url, workspace):
    from lanes_tui.storage.postgres import PostgresBackend

    task = submit(backend, workspace)
    with psycopg.connect(postgres_url) as conn:
        conn.execute("INSERT INTO lanes_tui.schema_version (version) VALUES (99)")
    with pytest.raises(ConfigError, match="schema is version 99, newer than this lanes-tui knows"):
        PostgresBackend(postgres_url)
    assert 99 in versions(postgres_url)
    assert backend.read_task(task["id"])["id"] == task["id"]  # nothing was changed


def test_a_task_reads_back_as_the_file_store_writes_it(backend, workspace):
    """Keys in the file store's order at every level (`json` keeps the text as written; `jsonb`
    would reorder it), so every output built from a task is the same on both backends."""
    files = FileBackend(workspace.store_root)
    metadata = {"zeta": 1, "alpha": {"b": 2, "a": 1}, "text": "caf\u00e9 \u2603"}
    from_files = files.read_task(submit(files, workspace, metadata=metadata)["id"])
    from_postgres = backend.read_task(submit(backend, workspace, metadata=metadata)["id"])
    assert list(from_postgres) == list(from_files)
    assert list(from_postgres["metadata"]["alpha"]) == list(from_files["metadata"]["alpha"])
    assert from_postgres["metadata"] == from_files["metadata"] == metadata


def test_leases_run_on_the_databases_clock(backend, postgres_url, workspace):
    def database_now():
        with psycopg.connect(postgres_url) as conn:
            return conn.execute("SELECT clock_timestamp()").fetchone()[0]

    task = submit(backend, workspace)
    before = database_now()
    claimed = backend.claim(task["id"], owner="w", lease_seconds=600)
    after = database_now()
    expires = parse_ts(claimed["lease_expires_at"])
    assert before + timedelta(seconds=600) <= expires <= after + timedelta(seconds=600)


def supervisor_in_another_process(url: str, *, heartbeat_seconds: float | None = None) -> subprocess.Popen:
    """A process that holds this host's supervisor lock with one worker recorded (task t-1), and
    prints `held` once it does; it holds on until killed or its stdin closes."""
    return subprocess.Popen(
        [sys.executable, "-c", (
            "import sys\n"
            + (f"import lanes_tui.storage.postgres.registry as r; r.HEARTBEAT_SECONDS = {heartbeat_seconds!r}\n"
               if heartbeat_seconds is not None else "")
            + "from lanes_tui.core.supervisors import WorkerRecord\n"
            "from lanes_tui.storage.postgres import PostgresBackend\n"
            f"registry = PostgresBackend({url!r}).supervisor_registry()\n"
            "registry.claim()\n"
            "registry.record_worker(WorkerRecord('t-1', 999999, 999999, None, 'tok', 1))\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_one_supervisor_per_host_and_its_lock_dies_with_its_process(backend, postgres_url):
    holder = supervisor_in_another_process(postgres_url)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConflictError, match="another lanes-tui supervisor .* on this host"):
            backend.supervisor_registry().claim()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(30)
        # The server ends the dead process's session (and its lock) once it notices the closed
        # socket, which a Unix socket makes immediate; claim until then is refused.
        registry = backend.supervisor_registry()
        previous = _claim_when_free(registry)
        assert previous is not None and set(previous.workers) == {"t-1"}  # G9: its workers, to kill
        assert registry.holds_lock
        registry.record_worker(WorkerRecord("t-2", 1, 1, None, "tok2", 1))
        registry.release()
        assert not registry.holds_lock
        again = backend.supervisor_registry()
        assert again.claim() is None  # released cleanly, by this process: nothing left to kill
        again.release()
    finally:
        holder.kill()
        holder.wait(30)


def test_a_supervisor_whose_lock_session_is_ended_keeps_its_host_and_takes_the_lock_again(backend, postgres_url):
    """A server restart or an administrator ends the session holding the host's lock while its
    supervisor lives: a newcomer finding the lock free must still refuse (taking over would kill
    the live one's workers), and the holder takes the lock again at its next beat."""
    import time

    def lock_holders() -> list[int]:
        with psycopg.connect(postgres_url) as conn:
            return [row[0] for row in conn.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted").fetchall()]

    holder = supervisor_in_another_process(postgres_url, heartbeat_seconds=0.1)
    try:
        assert holder.stdout.readline().strip() == "held"
        [ended] = lock_holders()
        with psycopg.connect(postgres_url) as conn:
            assert conn.execute("SELECT pg_terminate_backend(%s)", (ended,)).fetchone()[0]
        deadline = time.monotonic() + 30
        while True:  # until the holder has the lock on a session of its own again (a bound, not a pace)
            now_held = [pid for pid in lock_holders() if pid != ended]
            if now_held:
                break
            with pytest.raises(ConflictError, match=rf"another lanes-tui supervisor \(pid {holder.pid}\)"):
                backend.supervisor_registry().claim()  # the lock may be free: the process is not gone
            assert time.monotonic() < deadline, "the holder did not take its lock again"
        with pytest.raises(ConflictError, match=rf"\(pid {holder.pid}\)"):
            backend.supervisor_registry().claim()
        assert holder.poll() is None
    finally:
        holder.kill()
        holder.wait(30)


def test_hosts_told_apart_by_their_host_id_each_run_a_supervisor_on_one_queue(backend, postgres_url, monkeypatch):
    """LANES_TUI_HOST_ID names the host (containers sharing a hostname, simulated hosts): a
    supervisor per host id, each owning its claims under its own name."""
    monkeypatch.setenv("LANES_TUI_HOST_ID", "host-a")
    first = backend.supervisor_registry()
    first.claim()
    try:
        monkeypatch.setenv("LANES_TUI_HOST_ID", "host-b")
        second = backend.supervisor_registry()
        assert second.claim() is None
        second.release()
        monkeypatch.setenv("LANES_TUI_HOST_ID", "host-a")
        with pytest.raises(ConflictError, match="on this host"):
            backend.supervisor_registry().claim()
    finally:
        first.release()
    assert first.owner.startswith("lanes-tui@host-a:") and second.owner.startswith("lanes-tui@host-b:")


def _claim_when_free(registry):
    import time

    deadline = time.monotonic() + 30
    while True:
        try:
            return registry.claim()
        except ConflictError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # polling the server's view of a closed session, bounded


async def test_a_feed_hears_writes_of_another_process_and_closes_at_once(backend, postgres_url, workspace):
    feed = backend.task_feed()
    try:
        assert await feed.changes(0.05) == set()
        made = subprocess.run(
            [sys.executable, "-c", (
                "import sys\n"
                "from lanes_tui.storage.postgres import PostgresBackend\n"
                f"store = PostgresBackend({postgres_url!r})\n"
                f"task = store.create_task(workspace_id='ws', correlation_id='c', source_agent='t', lane='default', "
                f"workspace_root={str(workspace.root)!r}, request_path={str(workspace.request)!r}, "
                f"response_path={str(workspace.root / 'out.md')!r}, prompt='p')\n"
                "print(task['id'])\n")],
            capture_output=True, text=True, timeout=60, check=True)
        assert await feed.changes(30) == {made.stdout.strip()}
        waiting = asyncio.ensure_future(feed.changes(600))
        await asyncio.sleep(0)
        feed.close()
        assert await asyncio.wait_for(waiting, 30) is None  # woken by close, long before its 600 s
    finally:
        feed.close()


def test_a_server_that_is_not_there_is_one_line_without_the_password(tmp_path):
    from lanes_tui.storage.postgres import PostgresBackend

    url = f"postgresql://lanes:s3cret@/queue?host={tmp_path}&connect_timeout=5"
    with pytest.raises(StoreError) as caught:
        PostgresBackend(url)
    message = str(caught.value)
    assert "s3cret" not in message and "\n" not in message and "cannot open the queue at" in message


async def test_a_feed_whose_connection_is_killed_reconnects_and_reconciles(backend, postgres_url, workspace):
    """A notification sent while the listener was gone is lost: after reconnecting, the feed names
    every task (its reader loads the changed ones), then hears new writes again."""
    feed, locks = backend.task_feed(), backend.record_feed("locks")
    try:
        first = submit(backend, workspace, correlation_id="a")["id"]
        assert await feed.changes(30) == {first}
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            for listener in (feed._listener, locks._listener):
                admin.execute("SELECT pg_terminate_backend(%s)", (listener._conn.info.backend_pid,))
        missed = submit(backend, workspace, correlation_id="b")["id"]  # its NOTIFY reaches nobody
        backend.locks().acquire("name:x", owner="alice", ttl_seconds=60)
        assert await feed.changes(30) == {first, missed}
        assert await locks.changed(30) is True and locks._listener.degraded is None
        later = submit(backend, workspace, correlation_id="c")["id"]
        assert await feed.changes(30) == {later}
    finally:
        feed.close()
        locks.close()


def test_next_claims_in_queue_order_skipping_a_row_another_claimer_holds(backend, postgres_url, workspace):
    first, second = (submit(backend, workspace, correlation_id=name)["id"] for name in ("a", "b"))
    with psycopg.connect(postgres_url) as other:  # another host, mid-claim of the first task
        other.execute("SELECT 1 FROM lanes_tui.tasks WHERE id = %s FOR UPDATE", (first,))
        got = backend.next_task("default", candidates=[], claim_owner="w", lease_seconds=60)
        assert got.task["id"] == second and got.claim_token  # not blocked behind the held row
        other.rollback()
    got = backend.next_task("default", candidates=[], claim_owner="w", lease_seconds=60)
    assert got.task["id"] == first
    assert backend.next_task("default", candidates=[], claim_owner="w", lease_seconds=60).task is None


def test_an_expired_lease_is_rescued_only_once_its_supervisors_heartbeat_is_dead(postgres_url, expired_own_claim):
    store, _registry, task = expired_own_claim
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # its host died: no more heartbeats
        conn.execute("UPDATE lanes_tui.supervisors SET heartbeat_at = clock_timestamp() - interval '31 s'")
    rescued = store.next_task("default", candidates=[], claim_owner="rescuer", lease_seconds=30)
    assert rescued.task["id"] == task["id"] and rescued.task["claim_owner"] == "rescuer"


def test_a_supervisor_heartbeats_while_it_holds_the_lock(backend, postgres_url, monkeypatch):
    import time

    from lanes_tui.storage.postgres import registry as registry_module

    monkeypatch.setattr(registry_module, "HEARTBEAT_SECONDS", 0.1)

    def beat() -> object:
        with psycopg.connect(postgres_url) as conn:
            return conn.execute("SELECT heartbeat_at FROM lanes_tui.supervisors").fetchone()[0]

    registry = backend.supervisor_registry()
    registry.claim()
    try:
        first = beat()
        deadline = time.monotonic() + 30
        while beat() == first:  # a bound, not a pace: the thread beats every 0.1 s
            assert time.monotonic() < deadline, "no heartbeat"
    finally:
        registry.release()


def test_the_time_readers_get_needs_no_connection(backend, postgres_url):
    """`now()` is asked on the event loop: it is this host's clock corrected by the offset measured
    at the last transaction, so it answers with every connection closed (a frozen server too)."""
    with psycopg.connect(postgres_url) as conn:
        database = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    backend.close()
    assert abs((backend.now() - database).total_seconds()) < 60  # the database's time, not a stale one


async def test_a_feed_whose_notifications_stop_notices_by_its_ping_and_reconciles(backend, workspace, monkeypatch):
    """The connection stays up but nothing reaches it (what a transaction-mode pooler does to
    LISTEN): the listener's ping does not come back, so it reconnects and names every task."""
    from lanes_tui.storage.postgres import feeds

    monkeypatch.setattr(feeds, "PING_AFTER_SECONDS", 0.2)
    monkeypatch.setattr(feeds, "PING_TIMEOUT_SECONDS", 0.5)
    feed = backend.task_feed()
    try:
        first = submit(backend, workspace, correlation_id="a")["id"]
        assert await feed.changes(30) == {first}
        feed._listener._conn.execute("UNLISTEN *")
        missed = submit(backend, workspace, correlation_id="b")["id"]
        assert await feed.changes(30) == {first, missed}  # the reconcile, not the lost notification
        later = submit(backend, workspace, correlation_id="c")["id"]
        assert await feed.changes(30) == {later}
        assert await feed.changes(1) == set()  # quiet again: its pings come back, nothing is reported
    finally:
        feed.close()


async def test_a_feed_whose_notifications_never_come_back_stays_degraded_and_polls(backend, workspace, monkeypatch):
    """Behind a transaction-mode pooler LISTEN is accepted and nothing ever arrives: every
    reconnect is as deaf as the last. The feed says it is degraded and, meanwhile, reports a
    reconcile every POLL_SECONDS, so a new task is still seen; once notifications are heard
    again (a listener that works), it is not degraded any more."""
    from lanes_tui.storage.postgres import feeds

    monkeypatch.setattr(feeds, "PING_AFTER_SECONDS", 0.2)
    monkeypatch.setattr(feeds, "PING_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(feeds, "POLL_SECONDS", 0.3)
    feed = backend.task_feed()
    listener = feed._listener
    listening = listener._listen

    def deaf():  # LISTEN undone at once, as a pooler's next transaction on another session
        conn = listening()
        conn.execute("UNLISTEN *")
        return conn

    try:
        listener._listen = deaf
        listener._conn.execute("UNLISTEN *")
        before = submit(backend, workspace, correlation_id="a")["id"]
        assert before in await feed.changes(30)  # the first lost ping's reconcile
        assert feed.degraded and "ping" in feed.degraded and feed.mode.startswith("degraded, polling every 0.3 s")
        for n in range(3):  # every reconnect is deaf too: still degraded, still polling
            task_id = submit(backend, workspace, correlation_id=f"p{n}")["id"]
            assert task_id in await feed.changes(30)
            assert feed.degraded
        listener._listen = listening  # notifications reach a new connection again
        heard = None
        for _ in range(200):  # bounded: each round is one wait of the feed, not a sleep
            await feed.changes(0.5)
            if feed.degraded is None:
                heard = True
                break
        assert heard and feed.mode == "LISTEN/NOTIFY"
        after = submit(backend, workspace, correlation_id="z")["id"]
        assert await feed.changes(30) == {after}  # by its notification again, not a poll of every task
    finally:
        feed.close()


def pooled(url: str) -> str:
    return url + ("&" if "?" in url else "?") + "lanes_pooler=transaction"


async def test_behind_a_transaction_pooler_the_feeds_poll_without_a_listening_connection(
        postgres_url, workspace, tmp_path, monkeypatch):
    """`?lanes_pooler=transaction` in the queue URL: libpq never sees it, other processes get it
    with the address, changes are found by polling, and no statement is prepared."""
    from lanes_tui.storage.postgres import PostgresBackend, feeds

    monkeypatch.setattr(feeds, "POLL_SECONDS", 0.3)
    url = pooled(postgres_url)
    backend = PostgresBackend(url, logs_dir=tmp_path / "logs")
    feed = backend.task_feed()
    try:
        assert backend.address == url  # a worker's MCP server polls too
        assert feed._listener._conn is None and feed.mode == "polling every 0.3 s (lanes_pooler=transaction)"
        task_id = submit(backend, workspace, correlation_id="a")["id"]
        assert task_id in await feed.changes(30)
        assert not feed.degraded
        with backend._pool.connection() as conn:
            assert conn.prepare_threshold is None
        with backend.watch((), new_tasks=True) as watch:  # what `wait --lane` waits on
            later = submit(backend, workspace, correlation_id="b")["id"]
            woke = set()
            for _ in range(50):  # bounded: each round is one wait of the watch
                woke = watch.wait(1)
                if woke:
                    break
            assert later in woke  # by a poll, not at the end of the caller's timeout
    finally:
        feed.close()
        backend.close()


def test_behind_a_transaction_pooler_the_host_lock_is_the_row_and_a_dead_holder_frees_it_at_once(
        postgres_url, tmp_path):
    """No session outlives a transaction there, so no session lock: a newcomer on the host takes
    the row only when the process it names is gone, and gets its workers to kill (G9)."""
    from lanes_tui.storage.postgres import PostgresBackend

    url = pooled(postgres_url)
    holder = supervisor_in_another_process(url)
    backend = PostgresBackend(url, logs_dir=tmp_path / "logs")
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConflictError, match=f"another lanes-tui supervisor \\(pid {holder.pid}\\) on this host"):
            backend.supervisor_registry().claim()
        holder.kill()
        holder.wait(30)
        registry = backend.supervisor_registry()
        previous = registry.claim()  # at once: the process the row names is gone
        assert previous is not None and set(previous.workers) == {"t-1"}
        assert registry.holds_lock and registry._conn is None  # no session held
        registry.release()
        (row,) = backend.supervisors()
        assert row.state == "stopped" and not row.record.workers
        again = backend.supervisor_registry()
        assert again.claim() is None  # released cleanly, by this process: nothing left to kill
        again.release()
    finally:
        holder.kill()
        holder.wait(30)
        backend.close()


def test_an_unknown_queue_url_option_is_refused_in_one_line(postgres_url, tmp_path):
    from lanes_tui.storage.postgres import PostgresBackend

    with pytest.raises(ConfigError, match="lanes_poolr='transaction' is not one lanes-tui knows .*"
                                          "lanes_pooler=session\\|transaction"):
        PostgresBackend(postgres_url + ("&" if "?" in postgres_url else "?") + "lanes_poolr=transaction")


def test_a_silent_hosts_row_is_forgotten_only_once_no_task_is_claimed_in_its_name(
        backend, postgres_url, workspace, monkeypatch):
    """Dead supervisors' rows go only after their tasks were rescued (issue 14; the bug of
    procrastinate#1518), and a host forgotten while it was silent writes its row again."""
    import time

    from lanes_tui.storage.postgres import registry as registry_module

    monkeypatch.setattr(registry_module, "HEARTBEAT_SECONDS", 0.1)
    monkeypatch.setattr(registry_module, "FORGET_AFTER_SECONDS", 3600.0)
    gone = "lanes-tui@host-gone:1"
    task = submit(backend, workspace)
    token = backend.claim(task["id"], owner=gone, lease_seconds=600)["claim_token"]

    def rows() -> dict[str, tuple]:
        with psycopg.connect(postgres_url) as conn:
            return {host: (owner, beat) for host, owner, beat in
                    conn.execute("SELECT host, owner, heartbeat_at FROM lanes_tui.supervisors").fetchall()}

    def until(condition, what: str):
        deadline = time.monotonic() + 30
        while not condition():
            assert time.monotonic() < deadline, what
            time.sleep(0.02)  # polling the table, bounded

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO lanes_tui.supervisors (host, owner, record, heartbeat_at) VALUES "
                     "('host-gone', %s, '{}', clock_timestamp() - interval '2 hours')", (gone,))
    live = backend.supervisor_registry()
    live.claim()
    try:
        beats = {rows()[live.host][1]}
        until(lambda: beats.add(rows()[live.host][1]) or len(beats) >= 4, "three heartbeats of the live host")
        assert "host-gone" in rows()  # its task is still claimed in its name: kept
        backend.release(task["id"], claim_token=token)  # (rescued)
        until(lambda: "host-gone" not in rows(), "the silent host forgotten")
        with psycopg.connect(postgres_url, autocommit=True) as conn:  # this host forgotten meanwhile
            conn.execute("DELETE FROM lanes_tui.supervisors WHERE host = %s", (live.host,))
        until(lambda: rows().get(live.host, ("",))[0] == live.owner, "the live host's row written again")
    finally:
        live.release()
