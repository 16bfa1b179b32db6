"""The PostgreSQL backend's supervisor registry: one supervisor per host on a queue.

It holds a session advisory lock keyed by its host on a connection of its own for its
lifetime. PostgreSQL drops the lock when that connection ends, which the death of the
process (SIGKILL included) does, so a newcomer on the same host that gets the lock knows
its predecessor there is gone (G2 per host: `is_dead_supervisor_claim` reclaims claims by
other supervisors of this host only). Supervisors on other hosts share the queue; their
claims are left to their leases. `supervisors.record` holds this host's record of workers
(G9: a newcomer kills the ones a dead predecessor left behind). The lock can also go while
its process lives, with a session the server ended (a restart, pg_terminate_backend): the
holder takes it again at its next beat, and meanwhile a newcomer that finds the lock free
still refuses while the process the row names runs (pid and start time, as below).

While it holds the lock it heartbeats (`heartbeat_at`, the database's clock) every
HEARTBEAT_SECONDS from a thread of its own. A task whose lease ran out is taken from its
holder only once the holder's heartbeat is DEAD_AFTER_SECONDS old (backend.py): a live
supervisor that cannot renew stops its own worker before the lease runs out, so a task never
has two live workers. A host's row is replaced by its next supervisor and outlives the rescue
of its tasks: a live supervisor removes a row silent for FORGET_AFTER_SECONDS only once no task
is claimed in its name (procrastinate#1518 deleted dead workers' rows before their jobs were
rescued). Each beat also ends the sessions a cut-off host left stuck in the middle of a
transaction (stuck_sessions.py), whose row locks would otherwise hold up the rescue of its tasks.

Behind a transaction-mode pooler there is no session to hold a lock for a lifetime, so the
row is the lock (`session_lock` False): a newcomer takes the host's row, locked FOR UPDATE in
one transaction, only when the process it names is gone (pid and start time, checked on this
host, where that process ran) or stopped cleanly; that is as prompt after a SIGKILL as the
session lock.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from psycopg.types.json import Json

from lanes_tui.core import procinfo
from lanes_tui.core.errors import ConflictError
from lanes_tui.core.hosts import this_host
from lanes_tui.core.supervisors import (
    DEAD,
    LATE,
    RUNNING,
    STOPPED,
    SupervisorRecord,
    SupervisorStatus,
    WorkerRecord,
    this_supervisor,
)
from lanes_tui.storage.postgres.coordination import lock_key
from lanes_tui.storage.postgres.schema import SCHEMA
from lanes_tui.storage.postgres.stuck_sessions import end_stuck_transactions

HEARTBEAT_SECONDS = 5.0
DEAD_AFTER_SECONDS = 30.0  # six missed heartbeats; about what TCP keepalives take to notice a partition
LATE_AFTER_SECONDS = 2 * HEARTBEAT_SECONDS + 1  # two beats missed: shown as late, not yet dead
# A host gone this long (and holding no task) leaves the hosts view; one that comes back
# writes its row again at its next beat.
FORGET_AFTER_SECONDS = 3600.0


def forget_gone_supervisors(conn: Any, this: str) -> int:
    """Remove the rows of other hosts' supervisors silent for FORGET_AFTER_SECONDS, only once no
    task is claimed in their name any more (their tasks rescued first: a rescuer reads the
    holder's row, and a row gone before its tasks would hide whose they were). Returns how many."""
    return conn.execute(
        f"DELETE FROM {SCHEMA}.supervisors s WHERE s.host <> %s "
        "AND s.heartbeat_at < clock_timestamp() - make_interval(secs => %s) "
        f"AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.tasks t WHERE t.state = 'claimed' "
        "AND t.task ->> 'claim_owner' = s.owner)", (this, FORGET_AFTER_SECONDS)).rowcount


def status(pool: Any) -> list[SupervisorStatus]:
    """Every host's supervisor as its row says, judged by the age of its heartbeat on the
    database's clock (a host's own clock plays no part)."""
    with pool.connection() as conn:
        rows = conn.execute(f"SELECT host, record, extract(epoch FROM clock_timestamp() - heartbeat_at) "
                            f"FROM {SCHEMA}.supervisors ORDER BY host").fetchall()
    found = []
    for host, raw, age in rows:
        record = SupervisorRecord.from_json(raw)
        if record is None:
            continue  # a row this lanes-tui cannot read: nothing to show of it
        age = max(0.0, float(age))
        if record.stopped:
            state = STOPPED
        else:
            state = DEAD if age >= DEAD_AFTER_SECONDS else LATE if age >= LATE_AFTER_SECONDS else RUNNING
        found.append(SupervisorStatus(host, record, state, age, DEAD_AFTER_SECONDS))
    return found


class PostgresSupervisorRegistry:
    def __init__(self, connect: Any, pool: Any, location: str, *, session_lock: bool = True) -> None:
        self._session_lock = session_lock
        self._held = False
        self._connect = connect
        self._pool = pool
        self._location = location
        self.host = this_host()
        self._key = lock_key(f"supervisor:{self.host}")
        self.record = this_supervisor()
        self.owner = self.record.owner
        self._conn: Any = None
        self._stop_beating = threading.Event()
        self._beating: threading.Thread | None = None

    def claim(self) -> SupervisorRecord | None:
        self.record.stopped = False
        if self._session_lock:
            previous = self._claim_by_session_lock()
        else:
            previous = self._claim_by_row()
        self._held = True
        self._stop_beating.clear()
        self._beating = threading.Thread(target=self._beat, daemon=True, name="lanes-tui-heartbeat")
        self._beating.start()
        return previous if previous is not None and previous.owner != self.owner else None

    def _claim_by_session_lock(self) -> SupervisorRecord | None:
        conn = self._connect()
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()[0]
        if not got:
            conn.close()
            self._refuse(self._read_record())
        try:
            previous = self._read_record()
            # The lock is free, but the process its row names still runs: its lock's session was
            # ended under it (a server restart, pg_terminate_backend, an idle timeout), not the
            # process; it takes the lock again at its next beat. Taking over would kill its workers.
            if previous is not None and previous.owner != self.owner and not previous.stopped \
                    and procinfo.is_same_process(previous.pid, previous.start_time):
                self._refuse(previous)
        except BaseException:
            with contextlib.suppress(Exception):
                conn.close()  # (the lock goes with the session)
            raise
        self._conn = conn
        self._write()
        return previous

    def _keep_session_lock(self) -> None:
        """Each beat: the lock's session still answers, or the lock is taken again on a new one
        (the server ended the session, and the lock with it: a restart, an administrator)."""
        if not self._session_lock:
            return
        try:
            self._conn.execute("SELECT 1")
            return
        except Exception:  # noqa: BLE001 - any failure of that session: it and its lock are gone
            with contextlib.suppress(Exception):
                self._conn.close()
        conn = self._connect()  # StoreError while the server is away: the next beat tries again
        try:
            if conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()[0]:
                self._conn = conn
                return
        except BaseException:
            conn.close()
            raise
        conn.close()  # (held by another: a newcomer refuses while this process lives, so not for long)

    def _claim_by_row(self) -> SupervisorRecord | None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(f"INSERT INTO {SCHEMA}.supervisors (host, owner, record, heartbeat_at) "
                         "VALUES (%s, '', '{}', '-infinity') ON CONFLICT (host) DO NOTHING", (self.host,))
            row = conn.execute(f"SELECT record FROM {SCHEMA}.supervisors WHERE host = %s FOR UPDATE",
                               (self.host,)).fetchone()
            previous = SupervisorRecord.from_json(row[0])
            if previous is not None and previous.owner != self.owner and not previous.stopped \
                    and procinfo.is_same_process(previous.pid, previous.start_time):
                self._refuse(previous)
            self._write(conn)
        return previous

    def _refuse(self, other: SupervisorRecord | None) -> None:
        who = f" (pid {other.pid})" if other else ""
        raise ConflictError(f"another lanes-tui supervisor{who} on this host is already running on "
                            f"{self._location}; use the dashboard with --watch-only to watch it")

    def _beat(self) -> None:
        while not self._stop_beating.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(Exception):  # the database is away: the next beat tries again
                with self._pool.connection() as conn:
                    beaten = conn.execute(f"UPDATE {SCHEMA}.supervisors SET heartbeat_at = clock_timestamp() "
                                          "WHERE host = %s AND owner = %s RETURNING 1",
                                          (self.host, self.owner)).fetchone()
                    if beaten is None:  # forgotten while silent (a long partition, a host asleep): back
                        conn.execute(f"INSERT INTO {SCHEMA}.supervisors (host, owner, record) VALUES (%s, %s, %s) "
                                     "ON CONFLICT (host) DO NOTHING",  # (a newer supervisor of this host's stays)
                                     (self.host, self.owner, Json(self.record.to_json())))
            with contextlib.suppress(Exception):  # (apart: a refusal must not cost the heartbeat)
                with self._pool.connection() as conn:
                    end_stuck_transactions(conn)
                    forget_gone_supervisors(conn, self.host)
            with contextlib.suppress(Exception):
                self._keep_session_lock()

    @property
    def holds_lock(self) -> bool:
        return self._held

    def release(self) -> None:
        self._stop_beating.set()
        if self._beating is not None:
            self._beating.join(HEARTBEAT_SECONDS + 35)
            self._beating = None
        self.record.workers.clear()
        self.record.stopped = True
        with contextlib.suppress(Exception):
            self._write()
        self._held = False
        if self._conn is not None:
            with contextlib.suppress(Exception):
                # Unlocked before closing: the server ends a closed session a moment later, and a
                # successor claiming at once must not find the lock still held.
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def record_worker(self, worker: WorkerRecord) -> None:
        self.record.workers[worker.task_id] = worker
        self._write()

    def forget_worker(self, task_id: str) -> None:
        if self.record.workers.pop(task_id, None) is not None:
            with contextlib.suppress(Exception):
                self._write()

    def set_capacity(self, capacity: int) -> None:
        self.record.capacity = capacity
        if self._held:
            with contextlib.suppress(Exception):  # the hosts view is told at the next write
                self._write()

    def _read_record(self) -> SupervisorRecord | None:
        with self._pool.connection() as conn:
            row = conn.execute(f"SELECT record FROM {SCHEMA}.supervisors WHERE host = %s", (self.host,)).fetchone()
        return None if row is None else SupervisorRecord.from_json(row[0])

    def _write(self, conn: Any = None) -> None:
        if conn is None:
            with self._pool.connection() as conn:
                self._write(conn)
            return
        conn.execute(f"INSERT INTO {SCHEMA}.supervisors (host, owner, record) VALUES (%s, %s, %s) "
                     "ON CONFLICT (host) DO UPDATE SET owner = EXCLUDED.owner, record = EXCLUDED.record, "
                     "heartbeat_at = clock_timestamp()", (self.host, self.owner, Json(self.record.to_json())))
