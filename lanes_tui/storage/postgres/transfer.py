"""Whole tasks out of and into the PostgreSQL backend, for `store copy` (storage/copying.py).

In: one transaction per task, the row with its archived flag and every event in order, and
the notification that tells live dashboards and supervisors of it (a new id, `+<id>`); a
task is there whole or not at all. The row is locked by its insert, and an id already taken
is compared, never overwritten.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from psycopg.types.json import Json

from lanes_tui.storage.postgres.feeds import TASKS_CHANNEL
from lanes_tui.storage.postgres.schema import SCHEMA
from lanes_tui.storage.results import WholeTask
from lanes_tui.storage.task_records import already_here, record_id

if TYPE_CHECKING:
    from lanes_tui.storage.postgres.backend import PostgresBackend

_BATCH = 200  # tasks read per round trip: memory stays bounded at any queue size


def export_tasks(backend: PostgresBackend) -> Iterator[WholeTask]:
    with backend._pool.connection() as conn:
        ids = [row[0] for row in conn.execute(f"SELECT id FROM {SCHEMA}.tasks ORDER BY archived, id")]
    for start in range(0, len(ids), _BATCH):
        batch = ids[start:start + _BATCH]
        with backend._pool.connection() as conn:
            rows = {row[0]: row[1:] for row in conn.execute(
                f"SELECT id, task, response, archived FROM {SCHEMA}.tasks WHERE id = ANY(%s)", (batch,))}
            events: dict[str, list[dict[str, Any]]] = {task_id: [] for task_id in batch}
            for task_id, event in conn.execute(f"SELECT task_id, event FROM {SCHEMA}.task_events "
                                               "WHERE task_id = ANY(%s) ORDER BY task_id, seq", (batch,)):
                events[task_id].append(event)
        for task_id in batch:
            if task_id in rows:  # removed meanwhile: not a task any more
                task, response, archived = rows[task_id]
                yield WholeTask(task, response, events[task_id], archived)


def import_task(backend: PostgresBackend, record: WholeTask) -> bool:
    from lanes_tui.storage.postgres.backend import _dumps, store_request

    task_id = record_id(record)
    task = record.task
    with backend._pool.connection() as conn, conn.transaction():
        inserted = conn.execute(
            f"INSERT INTO {SCHEMA}.tasks (id, lane, state, created_at, task, response, archived) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
            (task_id, task["lane"], task["state"], task["created_at"], Json(task, dumps=_dumps),
             None if record.response is None else Json(record.response, dumps=_dumps), record.archived))
        if inserted.rowcount == 0:
            already_here(_existing(conn, task_id), record, backend.location)
            return False
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {SCHEMA}.task_events (task_id, event) VALUES (%s, %s)",
                            [(task_id, Json(event, dumps=_dumps)) for event in record.events])
        store_request(conn, task, required=False)  # from this host's file, if it is still the one submitted
        conn.execute("SELECT pg_notify(%s, %s)", (TASKS_CHANNEL, f"+{task_id}"))
    return True


def _existing(conn: Any, task_id: str) -> WholeTask:
    task, response, archived = conn.execute(f"SELECT task, response, archived FROM {SCHEMA}.tasks WHERE id = %s",
                                            (task_id,)).fetchone()
    events = [row[0] for row in conn.execute(f"SELECT event FROM {SCHEMA}.task_events WHERE task_id = %s "
                                             "ORDER BY seq", (task_id,))]
    return WholeTask(task, response, events, archived)
