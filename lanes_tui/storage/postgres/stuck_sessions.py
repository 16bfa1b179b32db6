"""Ending the sessions a cut-off host left in the middle of a pipelined transaction.

A verb's transaction is pipelined (database.py): while its client waits for the answer to a
read (the task's row, locked FOR UPDATE), the server has been sent no Sync, so the session is
`active`, waiting to read from its client, not `idle in transaction`. The server's
idle_in_transaction_session_timeout never fires for it, nor does statement_timeout (the server
ignores a cancel while it reads a command). If the host is cut off there, that session keeps
its row locks until the server hears the connection is gone: never on a Unix socket, hours on
TCP, and every other host's verb on those tasks (their rescue included) waits behind it.
PostgreSQL 17's transaction_timeout would end it; lanes-tui supports older servers.

So every live supervisor, at each heartbeat, ends the sessions of the database that have held
a transaction with locks on lanes-tui's tables for STUCK_TRANSACTION_SECONDS while waiting for
their client. No verb of lanes-tui takes that long (they are a few round trips), and the
session's host stopped its own workers by then (its leases could not be renewed), so what is
rolled back is a write nobody is waiting for. PostgreSQL shows the state of a session only to
its own role (or a member of pg_read_all_stats), and lets only those end it: a supervisor ends
its own role's sessions, no one else's.
"""

from __future__ import annotations

from typing import Any

from lanes_tui.storage.postgres.schema import SCHEMA

# Longer than any verb's transaction, shorter than the 30 s after which another host may take a
# silent host's tasks (registry.DEAD_AFTER_SECONDS), heartbeat interval included.
STUCK_TRANSACTION_SECONDS = 15.0

_STUCK = (
    "SELECT a.pid, pg_terminate_backend(a.pid) FROM pg_stat_activity a "
    "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() "
    "AND a.state IN ('active', 'idle in transaction') "
    "AND a.wait_event_type = 'Client' AND a.wait_event = 'ClientRead' "
    "AND a.xact_start < clock_timestamp() - make_interval(secs => %s) "
    "AND EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
    "            WHERE l.pid = a.pid AND l.granted AND c.relnamespace = %s::regnamespace)"
)


def end_stuck_transactions(conn: Any, older_than: float | None = None) -> list[int]:
    """End the sessions stuck as described above; returns their server pids."""
    seconds = STUCK_TRANSACTION_SECONDS if older_than is None else older_than
    rows = conn.execute(_STUCK, (seconds, SCHEMA)).fetchall()
    return [pid for pid, ended in rows if ended]
