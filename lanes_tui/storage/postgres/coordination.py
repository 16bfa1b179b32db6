"""The coordination records in PostgreSQL: `core/records` shapes as rows (locks, presence and
requests as keyed records; the journal as logs; messages with per-reader cursors).

An exclusive transaction is a database transaction holding a transaction-scoped advisory
lock on its kind, so two processes on two hosts never interleave a read-modify-write of
the same kind, and a crash mid-way rolls the whole change back. Every change notifies the
records channel with its kind (feeds.py), delivered when it commits.
"""

from __future__ import annotations

import contextlib
import zlib
from typing import Any, Callable, Iterator

from psycopg.types.json import Json

from lanes_tui.storage.postgres.feeds import RECORDS_CHANNEL
from lanes_tui.storage.postgres.schema import SCHEMA


def lock_key(what: str) -> int:
    """A stable 63-bit advisory lock key for a name (crc32 is enough: distinct names, few of them)."""
    return (0x6C74 << 32) | zlib.crc32(what.encode("utf-8"))


class PostgresRecords:
    def __init__(self, pool: Any, kind: str) -> None:
        self._pool = pool
        self.kind = kind

    def get(self, key: str) -> Any | None:
        with self._pool.connection() as conn:
            row = conn.execute(f"SELECT value FROM {SCHEMA}.records WHERE kind = %s AND key = %s",
                               (self.kind, key)).fetchone()
        return None if row is None else row[0]

    def values(self) -> list[Any]:
        with self._pool.connection() as conn:
            rows = conn.execute(f"SELECT value FROM {SCHEMA}.records WHERE kind = %s ORDER BY key",
                                (self.kind,)).fetchall()
        return [row[0] for row in rows]

    @contextlib.contextmanager
    def exclusive(self) -> Iterator["_RecordTxn"]:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(f"records:{self.kind}"),))
            txn = _RecordTxn(conn, self.kind)
            yield txn
            if txn.changed:
                conn.execute("SELECT pg_notify(%s, %s)", (RECORDS_CHANNEL, self.kind))


class _RecordTxn:
    def __init__(self, conn: Any, kind: str) -> None:
        self._conn = conn
        self._kind = kind
        self.changed = False

    def get(self, key: str) -> Any | None:
        row = self._conn.execute(f"SELECT value FROM {SCHEMA}.records WHERE kind = %s AND key = %s",
                                 (self._kind, key)).fetchone()
        return None if row is None else row[0]

    def put(self, key: str, record: dict[str, Any]) -> None:
        self._conn.execute(f"INSERT INTO {SCHEMA}.records (kind, key, value) VALUES (%s, %s, %s) "
                           "ON CONFLICT (kind, key) DO UPDATE SET value = EXCLUDED.value",
                           (self._kind, key, Json(record)))
        self.changed = True

    def remove(self, key: str) -> None:
        gone = self._conn.execute(f"DELETE FROM {SCHEMA}.records WHERE kind = %s AND key = %s",
                                  (self._kind, key))
        if gone.rowcount:
            self.changed = True

    def log(self, entry: dict[str, Any]) -> None:
        self._conn.execute(f"INSERT INTO {SCHEMA}.record_log (kind, entry) VALUES (%s, %s)", (self._kind, Json(entry)))

    def next_number(self, recover: Callable[[], int]) -> int:
        # A counter in a transactional table cannot be torn: `recover` is never needed.
        row = self._conn.execute(f"INSERT INTO {SCHEMA}.counters (kind, value) VALUES (%s, 1) "
                                 "ON CONFLICT (kind) DO UPDATE SET value = counters.value + 1 RETURNING value",
                                 (self._kind,)).fetchone()
        return int(row[0])


class PostgresLogs:
    def __init__(self, pool: Any, prefix: str) -> None:
        self._pool = pool
        self._prefix = prefix

    def append(self, log: str, entry: dict[str, Any]) -> None:
        with self._pool.connection() as conn:
            conn.execute(f"INSERT INTO {SCHEMA}.logs (log, entry) VALUES (%s, %s)",
                         (f"{self._prefix}{log}", Json(entry)))

    def tail(self, log: str, limit: int) -> list[Any]:
        with self._pool.connection() as conn:
            rows = conn.execute(f"SELECT entry FROM {SCHEMA}.logs WHERE log = %s ORDER BY seq DESC LIMIT %s",
                                (f"{self._prefix}{log}", limit)).fetchall()
        return [row[0] for row in reversed(rows)]


class PostgresMessageLog:
    def __init__(self, pool: Any) -> None:
        self._pool = pool

    def append(self, make: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("messages"),))
            row = conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {SCHEMA}.messages").fetchone()
            entry = make(int(row[0]))
            conn.execute(f"INSERT INTO {SCHEMA}.messages (id, entry) VALUES (%s, %s)", (row[0], Json(entry)))
            conn.execute("SELECT pg_notify(%s, %s)", (RECORDS_CHANNEL, "messages"))
        return entry

    def all(self) -> Iterator[Any]:
        with self._pool.connection() as conn:
            rows = conn.execute(f"SELECT entry FROM {SCHEMA}.messages ORDER BY id").fetchall()
        return iter([row[0] for row in rows])

    @contextlib.contextmanager
    def reading(self, reader: str, *, exclusive: bool) -> Iterator["_MessageReader"]:
        with self._pool.connection() as conn, conn.transaction():
            if exclusive:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(f"reader:{reader}"),))
            yield _MessageReader(conn, reader)


class _MessageReader:
    def __init__(self, conn: Any, reader: str) -> None:
        self._conn = conn
        self._reader = reader
        row = conn.execute(f"SELECT high_water, next_id FROM {SCHEMA}.message_cursors WHERE reader = %s",
                           (reader,)).fetchone()
        self.high_water, self._next = (int(row[0]), int(row[1])) if row else (0, 1)

    def since(self) -> Iterator[tuple[Any, int]]:
        rows = self._conn.execute(f"SELECT id, entry FROM {SCHEMA}.messages WHERE id >= %s ORDER BY id",
                                  (self._next,)).fetchall()
        for message_id, entry in rows:
            yield entry, int(message_id) + 1

    def advance(self, high_water: int, cursor: int | None) -> None:
        self._conn.execute(f"INSERT INTO {SCHEMA}.message_cursors (reader, high_water, next_id) VALUES (%s, %s, %s) "
                           "ON CONFLICT (reader) DO UPDATE SET high_water = EXCLUDED.high_water, "
                           "next_id = EXCLUDED.next_id",
                           (self._reader, high_water, self._next if cursor is None else cursor))
