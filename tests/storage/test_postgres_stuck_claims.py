"""Claims that nobody could take any more (found by the multi-host chaos run,
tests/chaos/test_postgres_hosts.py), on a real PostgreSQL server:

- a supervisor's own expired claim (a release of its that failed, a claim whose answer was lost
  with its connection) is claimable by that supervisor again; only others wait for its heartbeat
  to be DEAD_AFTER_SECONDS old;
- a session left in the middle of a transaction (its host cut off) is ended by the server, so its
  row locks do not hold every other host's verb on those tasks for as long as TCP takes to notice;
  one left in the middle of a pipelined verb, which the server's timeout does not reach, is ended
  by the live supervisors' heartbeat (lanes_tui/storage/postgres/stuck_sessions.py).
"""

from __future__ import annotations

import threading

from .test_contract import submit


def test_a_supervisor_claims_its_own_expired_claim_again_while_others_wait(expired_own_claim, clock):
    store, registry, task = expired_own_claim  # (its release failed, or the claim's answer was lost)
    again = store.claim(task["id"], owner=registry.owner, lease_seconds=30)
    assert again["claim_owner"] == registry.owner and again["claim_token"] != task.get("claim_token")
    clock.advance(31)
    picked = store.next_task("default", candidates=[], claim_owner=registry.owner, lease_seconds=30)
    assert picked.task["id"] == task["id"] and store.attempts(task["id"]) == 3


def test_a_transaction_its_client_stopped_in_is_ended_and_its_row_locks_go_with_it(
        postgres_url, workspace, monkeypatch):
    import psycopg

    from lanes_tui.storage.postgres import PostgresBackend, database

    monkeypatch.setattr(database, "IDLE_IN_TRANSACTION_SECONDS", 1)
    cut_off = PostgresBackend(postgres_url)
    try:
        task = submit(cut_off, workspace)
        stalled = threading.Event()
        release = threading.Event()

        def a_verb_whose_host_is_cut_off_midway() -> None:
            try:
                with cut_off._pool.connection() as conn, conn.transaction():
                    conn.execute("SELECT 1 FROM lanes_tui.tasks WHERE id = %s FOR UPDATE", (task["id"],))
                    stalled.set()
                    release.wait(30)  # nothing more reaches the server from here
            except Exception:
                pass  # the server ended the session meanwhile: what the cut-off host finds on its return

        holder = threading.Thread(target=a_verb_whose_host_is_cut_off_midway, daemon=True)
        holder.start()
        assert stalled.wait(30)
        with psycopg.connect(postgres_url, autocommit=True) as rescuer:
            # A bound: without the server ending the stalled session this waits for ever; with it,
            # the lock comes long before (a LockNotAvailable error fails the test).
            rescuer.execute("SET lock_timeout = '20s'")
            with rescuer.transaction():
                rescuer.execute("SELECT 1 FROM lanes_tui.tasks WHERE id = %s FOR UPDATE", (task["id"],))
        release.set()
        holder.join(30)
    finally:
        cut_off.close()


def test_a_pipelined_verb_its_client_stopped_in_is_ended_by_a_live_supervisor(
        postgres_url, workspace, monkeypatch):
    """A verb's pipelined transaction that waits for the answer to its row lock is `active` on
    the server, out of the idle-in-transaction timeout's reach: the supervisors' heartbeat ends it."""
    import psycopg

    from lanes_tui.storage.postgres import PostgresBackend, registry, stuck_sessions

    monkeypatch.setattr(stuck_sessions, "STUCK_TRANSACTION_SECONDS", 1.0)
    monkeypatch.setattr(registry, "HEARTBEAT_SECONDS", 0.2)
    cut_off, live = PostgresBackend(postgres_url), PostgresBackend(postgres_url)
    supervisor = live.supervisor_registry()
    try:
        task = submit(cut_off, workspace)
        stalled = threading.Event()
        release = threading.Event()
        ended: list[BaseException] = []

        def a_verb_whose_host_is_cut_off_midway() -> None:
            try:
                with cut_off._pool.transaction() as conn:
                    cut_off._lock_row(conn, task["id"])  # a claim's first read, answered
                    stalled.set()
                    release.wait(60)  # nothing more reaches the server from here
            except Exception as exc:
                ended.append(exc)  # what the cut-off host finds on its return

        holder = threading.Thread(target=a_verb_whose_host_is_cut_off_midway, daemon=True)
        holder.start()
        assert stalled.wait(30)
        with psycopg.connect(postgres_url, autocommit=True) as observer:
            state = observer.execute("SELECT state FROM pg_stat_activity WHERE state <> 'idle' AND "
                                     "query LIKE '%FOR UPDATE OF t%' AND pid <> pg_backend_pid()").fetchall()
            assert state == [("active",)]  # (not `idle in transaction`: the server's own timeout would do)
            supervisor.claim()
            observer.execute("SET lock_timeout = '30s'")  # a bound: without the heartbeat's help, a failure
            with observer.transaction():
                observer.execute("SELECT 1 FROM lanes_tui.tasks WHERE id = %s FOR UPDATE", (task["id"],))
        release.set()
        holder.join(30)
        assert ended and "server closed the connection" in str(ended[0]), ended
        assert live.read_task(task["id"])["state"] == "queued"  # nothing of the stopped verb was written
    finally:
        supervisor.release()
        live.close()
        cut_off.close()
