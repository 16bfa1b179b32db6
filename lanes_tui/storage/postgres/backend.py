"""The queue in PostgreSQL: the same verbs and state machine as the file store, for several hosts.

Every verb is one transaction: the task's row is read `FOR UPDATE`, core/lifecycle.py's rules
are applied to it in Python exactly as the file and memory backends apply them, and the new
row, its event and a notification (feeds.py) are written before the commit. A refusal or an
error rolls everything back. An answer and its task change in the same transaction, so there
is never a recorded answer to roll forward (G8 is the file store's problem alone).

Time: the database's clock decides, not the hosts' (several hosts share the leases), read once
per transaction (`clock_timestamp()`); a `clock` given to the constructor replaces it (tests).

Requests are still files in the workspace (a task names them; the worker reads them), so
submit and claim check them as the file store does.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Hashable, Iterable, Iterator, Mapping

import psycopg
from psycopg.types.json import Json

from lanes_tui.core import lifecycle
from lanes_tui.core.clock import Clock, after, format_ts
from lanes_tui.core.errors import ConflictError, InvalidInput, NotFound, StoreError
from lanes_tui.core.ids import validate_task_id
from lanes_tui.core.journal import Journal
from lanes_tui.core.jsonvalue import json_value
from lanes_tui.core.lifecycle import Event, apply_response
from lanes_tui.core.locks import LockTable
from lanes_tui.core.messages import MessageBox
from lanes_tui.core.presence import Presence
from lanes_tui.core.request_files import MAX_REQUEST_BYTES, read_request, request_problem
from lanes_tui.core.requests import RequestBook
from lanes_tui.core.states import COMPLETED, attempts_of
from lanes_tui.core.supervisors import SupervisorStatus
from lanes_tui.core.views import task_view
from lanes_tui.core.wire import MAX_RESPONSE_BYTES, MAX_TASK_BYTES, EventLog
from lanes_tui.storage import verbs
from lanes_tui.storage.postgres import transfer
from lanes_tui.storage.postgres.coordination import (
    PostgresLogs,
    PostgresMessageLog,
    PostgresRecords,
)
from lanes_tui.storage.postgres.database import Database, reason, redact, split_options
from lanes_tui.storage.postgres.feeds import TASKS_CHANNEL, RecordListener, TaskListener
from lanes_tui.storage.postgres.registry import (
    DEAD_AFTER_SECONDS,
    PostgresSupervisorRegistry,
)
from lanes_tui.storage.postgres.registry import status as supervisor_status
from lanes_tui.storage.postgres.schema import SCHEMA, migrate
from lanes_tui.storage.results import Listing, ListingOutput, Loaded, NextResult, WholeTask

LIVE = ("queued", "claimed")
# A claimable task of a lane (alias t): queued, or claimed with its lease run out and no live
# supervisor heartbeat behind the claim, unless the claimant is that holder itself (see
# _refuse_if_holder_alive). ISO stamps of one format compare as text.
_CLAIMABLE = (
    "NOT t.archived AND t.lane = %(lane)s AND (t.state = 'queued' OR (t.state = 'claimed' "
    "AND t.lease_expires_at < %(now)s AND (t.claim_owner = %(claimant)s::text OR NOT EXISTS (SELECT 1 FROM "
    f"{SCHEMA}.supervisors s WHERE s.owner = t.claim_owner AND s.heartbeat_at > clock_timestamp() - "
    "make_interval(secs => %(dead_after)s)))))"
)


class _Row:
    """One task's row inside a transaction."""

    def __init__(self, task: dict[str, Any], response: dict[str, Any] | None, events: list[dict[str, Any]],
                 request_carried: bool = False) -> None:
        self.task = task
        self.request_carried = request_carried
        self.response = response
        self.events = events


class PostgresBackend:
    def __init__(self, url: str, *, clock: Clock | None = None, logs_dir: Path | None = None) -> None:
        self.url = url  # with lanes-tui's options: what another process opens this queue with
        libpq_url, options = split_options(url)
        # Behind a transaction-mode pooler no session outlives a transaction: no LISTEN (the feeds
        # poll), no prepared statements, and the supervisor's per-host lock is its row, not a
        # session's advisory lock.
        self._pooled = options.get("lanes_pooler") == "transaction"
        self._listens = not self._pooled
        self._fixed_clock = clock
        self.clock: Clock = clock or self._database_clock
        self._logs_dir = logs_dir
        self._pool = Database(libpq_url, transaction_pooler=self._pooled)
        self._where = redact(libpq_url)
        self._offset = timedelta(0)  # the database's clock minus this host's, as last measured
        conn = self._pool.connect()
        try:
            migrate(conn)
            self._now(conn)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the queue at {redact(url)}: {reason(exc)}") from None
        finally:
            conn.close()

    def _connect(self) -> Any:
        return self._pool.connect()

    def close(self) -> None:
        self._pool.close()

    @property
    def location(self) -> str:
        return redact(self.url)

    @property
    def archive_location(self) -> str:
        return f"{redact(self.url)} (archived rows)"

    @property
    def address(self) -> str | None:
        return self.url

    def now(self) -> datetime:
        return self.clock()

    def _database_clock(self) -> datetime:
        """The database's time without asking it: this host's clock plus the offset measured at the
        last transaction (readers on the event loop must not wait on the network for the time;
        every write reads the database's own inside its transaction)."""
        return datetime.now(timezone.utc) + self._offset

    def _now(self, conn: Any) -> datetime:
        """The time of this transaction's change: the database's, unless a clock was given."""
        if self._fixed_clock is not None:
            return self._fixed_clock()
        asked = datetime.now(timezone.utc)
        database = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        self._offset = database - (asked + (datetime.now(timezone.utc) - asked) / 2)
        return database

    # -- reads ------------------------------------------------------------------------------

    def task_ids(self) -> list[str]:
        with self._pool.connection() as conn:
            return [row[0] for row in conn.execute(f"SELECT id FROM {SCHEMA}.tasks WHERE NOT archived ORDER BY id")]

    def read_task(self, task_id: str) -> dict[str, Any]:
        return self._select(task_id)[0]

    def effective_task(self, task_id: str) -> dict[str, Any]:
        return self.read_task(task_id)  # the answer and the task change together: nothing to roll forward

    def read_response(self, task_id: str) -> dict[str, Any] | None:
        return self._select(task_id)[1]

    def response_exists(self, task_id: str) -> bool:
        validate_task_id(task_id)
        with self._pool.connection() as conn:
            row = conn.execute(f"SELECT response IS NOT NULL FROM {SCHEMA}.tasks WHERE id = %s AND NOT archived",
                               (task_id,)).fetchone()
        return bool(row and row[0])

    def read_events(self, task_id: str, *, limit: int | None = None) -> EventLog:
        validate_task_id(task_id)
        with self._pool.connection() as conn:
            self._require(conn, task_id)
            if limit is not None and limit <= 0:
                return EventLog([])
            if limit is None:
                rows = conn.execute(f"SELECT event FROM {SCHEMA}.task_events WHERE task_id = %s ORDER BY seq",
                                    (task_id,)).fetchall()
            else:
                rows = conn.execute(f"SELECT event FROM (SELECT seq, event FROM {SCHEMA}.task_events "
                                    "WHERE task_id = %s ORDER BY seq DESC LIMIT %s) t ORDER BY seq",
                                    (task_id, limit)).fetchall()
        return EventLog([row[0] for row in rows])

    def last_event(self, task_id: str) -> dict[str, Any] | None:
        events = self.read_events(task_id, limit=1).events
        return events[-1] if events else None

    def attempts(self, task_id: str) -> int:
        return attempts_of(self.read_events(task_id).events).claims

    def is_archived(self, task_id: str) -> bool:
        with self._pool.connection() as conn:
            row = conn.execute(f"SELECT archived FROM {SCHEMA}.tasks WHERE id = %s", (task_id,)).fetchone()
        return bool(row and row[0])

    def request_problem(self, task: dict[str, Any]) -> str | None:
        """None once the database holds the request the task was submitted with (every task
        submitted here): it runs on that, on any host, whatever became of the file since. Only
        a task without it (copied in from a host that had not the file, or submitted before
        schema 2) goes by the file, as on a file store."""
        with self._pool.connection() as conn:
            held = conn.execute(f"SELECT 1 FROM {SCHEMA}.requests WHERE sha256 = %s",
                                (task.get("request_sha256"),)).fetchone()
        return None if held else request_problem(task)

    def request_content(self, task: dict[str, Any]) -> bytes | None:
        with self._pool.connection() as conn:
            row = conn.execute(f"SELECT content FROM {SCHEMA}.requests WHERE sha256 = %s",
                               (task.get("request_sha256"),)).fetchone()
        return bytes(row[0]) if row else read_request(task)

    # -- results that cross hosts ---------------------------------------------------------------

    @property
    def results_travel(self) -> bool:
        return True

    def keep_result_bundle(self, task_id: str, *, claim_token: str, head: str, content: bytes) -> str:
        sha = hashlib.sha256(content).hexdigest()
        with self._pool.transaction() as conn:
            row = self._lock_row(conn, task_id)
            # Under the task's row lock, by the claim's holder only: a stale holder's bundle never
            # replaces the one that goes with the recorded answer.
            if row.task.get("state") != "claimed" or row.task.get("claim_token") != claim_token:
                raise ConflictError(f"claim token does not match active lease: {task_id} is {row.task.get('state')}")
            conn.execute(f"INSERT INTO {SCHEMA}.result_bundles (task_id, head, sha256, content) "
                         "VALUES (%s, %s, %s, %s) ON CONFLICT (task_id) DO UPDATE SET head = EXCLUDED.head, "
                         "sha256 = EXCLUDED.sha256, content = EXCLUDED.content", (task_id, head, sha, content))
        return sha

    def result_bundle(self, task_id: str) -> tuple[str, bytes] | None:
        with self._pool.connection() as conn:
            row = conn.execute(f"SELECT head, content FROM {SCHEMA}.result_bundles WHERE task_id = %s",
                               (task_id,)).fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    # -- verbs ------------------------------------------------------------------------------

    def create_task(self, *, workspace_id: str, correlation_id: str, source_agent: str, lane: str,
                    workspace_root: Path | str, request_path: Path | str, response_path: Path | str,
                    prompt: str, worktree_path: Path | str | None = None, expected_branch: str | None = None,
                    supporting_paths: Iterable[Any] = (), metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        definition = dict(workspace_id=workspace_id, correlation_id=correlation_id, source_agent=source_agent,
                          lane=lane, workspace_root=workspace_root, request_path=request_path,
                          response_path=response_path, prompt=prompt, worktree_path=worktree_path,
                          expected_branch=expected_branch, supporting_paths=supporting_paths, metadata=metadata)
        with self._pool.transaction() as conn:
            moment = self._now(conn)
            task, created = verbs.build_task(lambda: moment, **definition)
            verbs.check_size(task, MAX_TASK_BYTES, "task")
            store_request(conn, task)
            inserted = conn.execute(
                f"INSERT INTO {SCHEMA}.tasks (id, lane, state, created_at, task) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO NOTHING RETURNING id", (task["id"], task["lane"], task["state"],
                                                              task["created_at"], Json(task, dumps=_dumps)))
            if inserted.fetchone() is None:  # (not rowcount: in a pipeline it is known only once synced)
                raise ConflictError(f"task already exists: {task['id']}")
            self._write_event(conn, task["id"], created, moment)
            conn.execute("SELECT pg_notify(%s, %s)", (TASKS_CHANNEL, f"+{task['id']}"))
        return task

    def claim(self, task_id: str, *, owner: str, lease_seconds: float) -> dict[str, Any]:
        lifecycle.check_lease(lease_seconds)
        with self._pool.transaction() as conn:
            row = self._lock_row(conn, task_id, with_events=True)
            now = self._now(conn)
            self._refuse_if_holder_alive(conn, row.task, now, claimant=owner)
            self._commit(conn, task_id, row, lifecycle.claim(row.task, owner=owner, lease_seconds=lease_seconds,
                                                             now=now, events=row.events,
                                                             request_carried=row.request_carried), now)
        return row.task

    def next_task(self, lane: str, *, candidates: Iterable[str], vendor: str | None = None,
                  claim_owner: str | None = None, lease_seconds: float | None = None) -> NextResult:
        """The lane's first claimable task, found by the database (`candidates` is not needed): one
        statement picks and locks it, skipping rows other claimers hold (`SKIP LOCKED`), and with
        `claim_owner` the claim is written in the same transaction. A task whose request cannot be
        claimed as it stands is reported stale and passed over; one for another vendor is
        reported skipped; neither blocks the ones behind it."""
        if claim_owner is not None:
            lifecycle.check_lease(lease_seconds or 0)
        stale: list[tuple[str, str]] = []
        passed: list[str] = []
        with self._pool.transaction() as conn:
            now = self._now(conn)
            while True:
                picked = conn.execute(
                    f"SELECT id FROM {SCHEMA}.tasks t WHERE {_CLAIMABLE} "
                    "AND (%(vendor)s::text IS NULL OR required_vendor IN ('any', %(vendor)s)) "
                    "AND id <> ALL(%(passed)s) ORDER BY id LIMIT 1 "
                    + ("FOR UPDATE SKIP LOCKED" if claim_owner is not None else ""),
                    {**self._claimable_params(lane, now, claim_owner), "vendor": vendor, "passed": passed}).fetchone()
                skipped = self._skipped_for_vendor(conn, lane, now, vendor, before=picked[0] if picked else None,
                                                   claimant=claim_owner)
                if picked is None:
                    return NextResult(None, None, tuple(stale), skipped)
                row = self._lock_row(conn, picked[0], with_events=claim_owner is not None)
                problem = None if row.request_carried else request_problem(row.task)
                if problem is not None:
                    stale.append((picked[0], problem))
                    passed.append(picked[0])
                    continue
                if claim_owner is None:
                    return NextResult(row.task, None, tuple(stale), skipped)
                event = lifecycle.claim(row.task, owner=claim_owner, lease_seconds=lease_seconds or 0, now=now,
                                        events=row.events, request_carried=row.request_carried)
                self._commit(conn, picked[0], row, event, now)
                return NextResult(row.task, row.task["claim_token"], tuple(stale), skipped)

    def _claimable_params(self, lane: str, now: datetime, claimant: str | None) -> dict[str, Any]:
        return {"lane": lane, "now": format_ts(now), "dead_after": DEAD_AFTER_SECONDS, "claimant": claimant}

    def _skipped_for_vendor(self, conn: Any, lane: str, now: datetime, vendor: str | None,
                            before: str | None, claimant: str | None) -> tuple[str, ...]:
        if vendor is None:
            return ()
        rows = conn.execute(f"SELECT id FROM {SCHEMA}.tasks t WHERE {_CLAIMABLE} AND required_vendor NOT IN "
                            "('any', %(vendor)s) AND (%(before)s::text IS NULL OR id < %(before)s) ORDER BY id",
                            {**self._claimable_params(lane, now, claimant), "vendor": vendor,
                             "before": before}).fetchall()
        return tuple(row[0] for row in rows)

    def _refuse_if_holder_alive(self, conn: Any, task: dict[str, Any], now: datetime, claimant: str) -> None:
        """A claimed task whose lease ran out stays its holder's while the holder's supervisor
        heartbeats: that supervisor stops its own worker (self-fencing), so two never run.

        The holder itself may claim it again: a supervisor claims only a task it runs no worker
        for, and its own expired claim is one it let go of without the store hearing it (a release
        that failed, a claim whose answer was lost with the connection). Refused, that task would
        stay claimed for as long as its supervisor lives, by nobody."""
        if task.get("state") != "claimed" or not lifecycle.lease_expired(task, now):
            return
        if task.get("claim_owner") == claimant:
            return
        row = conn.execute(f"SELECT host, extract(epoch FROM clock_timestamp() - heartbeat_at) FROM "
                           f"{SCHEMA}.supervisors WHERE owner = %s", (task.get("claim_owner"),)).fetchone()
        if row is not None and float(row[1]) < DEAD_AFTER_SECONDS:
            raise ConflictError(
                f"task {task['id']}: the lease of {task.get('claim_owner')} ran out, but its supervisor on {row[0]} "
                f"is alive (heartbeat {max(0.0, float(row[1])):.0f} s ago) and stops its own worker; the task can "
                f"be claimed once that heartbeat is {DEAD_AFTER_SECONDS:.0f} s old, or break the claim")

    def renew(self, task_id: str, *, claim_token: str, lease_seconds: float) -> dict[str, Any]:
        lifecycle.check_lease(lease_seconds)

        def change(row: _Row, now: datetime) -> Event:
            lifecycle.require_holder(row.task, claim_token, "renew")
            return lifecycle.apply_renew(row.task, lease_seconds=lease_seconds, now=now)

        return self._update(task_id, change).task

    def release(self, task_id: str, *, claim_token: str, reason: str | None = None) -> dict[str, Any]:
        def change(row: _Row, now: datetime) -> Event:
            lifecycle.require_holder(row.task, claim_token, "release")
            return lifecycle.apply_release(row.task, now=now, reason=reason)

        return self._update(task_id, change).task

    def append_event(self, task_id: str, event_type: str, message: str, data: dict[str, Any] | None = None,
                     *, claim_token: str | None = None) -> None:
        event = Event(event_type, message, json_value(dict(data or {}), "event data"))
        with self._pool.transaction() as conn:
            row = self._lock_row(conn, task_id)
            if claim_token is not None:
                lifecycle.require_holder(row.task, claim_token, "add an event to")
            self._write_event(conn, task_id, event, self._now(conn))
            conn.execute(f"UPDATE {SCHEMA}.tasks SET version = version + 1 WHERE id = %s", (task_id,))
            conn.execute("SELECT pg_notify(%s, %s)", (TASKS_CHANNEL, task_id))

    def respond(self, task_id: str, *, body: str, reviewer: str, claim_token: str | None = None,
                status: str = COMPLETED, follow_up_required: bool = False, verdict: str | None = None,
                blocking_count: int | None = None, nonblocking_count: int | None = None,
                expect_sha256: str | None = None, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = lifecycle.Reply(body, reviewer, status, follow_up_required, verdict, blocking_count,
                                nonblocking_count, expect_sha256, metadata)

        def change(row: _Row, now: datetime) -> Event:
            response = lifecycle.answer(row.task, reply, claim_token=claim_token, now=now,
                                        request_carried=row.request_carried)
            verbs.check_size(response, MAX_RESPONSE_BYTES, "response")
            apply_response(row.task, response)
            row.response = response
            return lifecycle.response_event(reviewer)

        return self._update(task_id, change).response  # type: ignore[return-value]

    def cancel(self, task_id: str, *, by: str, reason: str | None = None) -> dict[str, Any]:
        def change(row: _Row, now: datetime) -> Event:
            lifecycle.check_cancel(row.task)
            return lifecycle.apply_cancel(row.task, now=now, by=by, reason=reason)

        return self._update(task_id, change).task

    def break_claim(self, task_id: str, *, by: str, reason: str) -> dict[str, Any]:
        def change(row: _Row, now: datetime) -> Event:
            lifecycle.check_break(row.task)
            return lifecycle.apply_break(row.task, now=now, by=by, reason=reason)

        return self._update(task_id, change).task

    def requeue(self, task_id: str, *, by: str, metadata_overrides: dict[str, Any] | None = None,
                source_agent: str | None = None) -> dict[str, Any]:
        return verbs.requeue(self, task_id, by=by, metadata_overrides=metadata_overrides, source_agent=source_agent)

    def archive(self, *, older_than_days: float, dry_run: bool = False) -> list[str]:
        lifecycle.check_archive_age(older_than_days)
        with self._pool.transaction() as conn:
            cutoff = after(self._now(conn), -older_than_days * 86400)
            rows = conn.execute(f"SELECT id, task FROM {SCHEMA}.tasks WHERE NOT archived AND state <> ALL(%s) "
                                "ORDER BY id FOR UPDATE", (list(LIVE),)).fetchall()
            moved = [task_id for task_id, task in rows if lifecycle.finished_before(task, cutoff)]
            if moved and not dry_run:
                conn.execute(f"UPDATE {SCHEMA}.tasks SET archived = true, version = version + 1 WHERE id = ANY(%s)",
                             (moved,))
                for task_id in moved:
                    conn.execute("SELECT pg_notify(%s, %s)", (TASKS_CHANNEL, task_id))
        return moved

    def recover(self, task_id: str) -> dict[str, Any]:
        return self.read_task(task_id)

    # -- finding tasks ------------------------------------------------------------------------

    def live_tasks(self, *, lane: str | None = None) -> Listing:
        return self.all_tasks(lane=lane, include_terminal=False)

    def all_tasks(self, *, lane: str | None = None, include_terminal: bool = True) -> Listing:
        where, params = self._filter(lane, include_terminal)
        with self._pool.connection() as conn:
            rows = conn.execute(f"SELECT task FROM {SCHEMA}.tasks WHERE {where} ORDER BY created_at, id",
                                params).fetchall()
        return Listing([row[0] for row in rows])

    def listing_output(self, *, status: bool, lane: str | None = None,
                       include_terminal: bool = True) -> ListingOutput:
        where, params = self._filter(lane, include_terminal, alias="t")
        with self._pool.connection() as conn:
            now = self._now(conn)
            rows = conn.execute(
                f"SELECT t.task, t.response IS NOT NULL, e.event FROM {SCHEMA}.tasks t LEFT JOIN LATERAL "
                f"(SELECT event FROM {SCHEMA}.task_events WHERE task_id = t.id ORDER BY seq DESC LIMIT 1) e "
                f"ON true WHERE {where} ORDER BY t.created_at, t.id", params).fetchall()
        shown = [task_view(task, response_exists=answered, last_event=event, now=now) for task, answered, event in rows]
        return verbs.listing_output(shown, status=status)

    def lane_candidates(self, lane: str | None, corrupt: list[tuple[str, str]] | None = None) -> list[str]:
        where, params = self._filter(lane, include_terminal=False)
        with self._pool.connection() as conn:
            return [row[0] for row in conn.execute(f"SELECT id FROM {SCHEMA}.tasks WHERE {where} ORDER BY id", params)]

    def read_new_tasks(self, task_ids: list[str], corrupt: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
        with self._pool.connection() as conn:
            rows = conn.execute(f"SELECT id, task FROM {SCHEMA}.tasks WHERE id = ANY(%s) AND NOT archived",
                                (list(task_ids),)).fetchall()
        found = dict(rows)
        return [found[task_id] for task_id in task_ids if task_id in found]

    def lane_has_tasks(self, lane: str) -> bool:
        with self._pool.connection() as conn:
            return conn.execute(f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.tasks WHERE lane = %s)", (lane,)).fetchone()[0]

    def load(self, task_ids: Iterable[str], known: Mapping[str, Hashable] | None = None) -> Iterator[Loaded]:
        known = known or {}
        wanted = list(task_ids)
        with self._pool.connection() as conn:
            versions = dict(conn.execute(f"SELECT id, version FROM {SCHEMA}.tasks WHERE id = ANY(%s) AND NOT archived",
                                         (wanted,)).fetchall())
            changed = [task_id for task_id in wanted if task_id in versions and known.get(task_id) != versions[task_id]]
            tasks = dict(conn.execute(f"SELECT id, task FROM {SCHEMA}.tasks WHERE id = ANY(%s)", (changed,)).fetchall())
        for task_id in wanted:
            if task_id not in versions:
                yield Loaded(task_id, None)
            elif task_id not in tasks:
                yield Loaded(task_id, versions[task_id], unchanged=True)
            else:
                yield Loaded(task_id, versions[task_id], task=tasks[task_id])

    def summary_cache(self) -> None:
        return None  # a scan is one query; nothing to keep between runs

    # -- moving a queue ---------------------------------------------------------------------------

    def export_tasks(self) -> Iterator[WholeTask]:
        return transfer.export_tasks(self)

    def import_task(self, record: WholeTask) -> bool:
        return transfer.import_task(self, record)

    # -- noticing changes ---------------------------------------------------------------------

    def task_feed(self) -> TaskListener:
        return TaskListener(self._connect, self.task_ids, listen=self._listens)

    def watch(self, task_ids: Iterable[str] = (), *, new_tasks: bool = True) -> TaskListener:
        return TaskListener(self._connect, self.task_ids, task_ids, new_tasks, listen=self._listens)

    # -- coordination (core's rules over rows) ----------------------------------------------------

    def locks(self) -> LockTable:
        return LockTable(PostgresRecords(self._pool, "locks"), self.presence(), clock=self.clock)

    def presence(self) -> Presence:
        return Presence(PostgresRecords(self._pool, "agents"), clock=self.clock)

    def messages(self) -> MessageBox:
        return MessageBox(PostgresMessageLog(self._pool), self.presence(), clock=self.clock)

    def journal(self) -> Journal:
        return Journal(PostgresLogs(self._pool, "journal:"), clock=self.clock)

    def requests(self) -> RequestBook:
        return RequestBook(PostgresRecords(self._pool, "requests"), clock=self.clock, task_events=self._request_event)

    def _request_event(self, task_id: str, kind: str, message: str, data: dict[str, Any]) -> None:
        self.append_event(task_id, kind, message, data)

    def record_feed(self, kind: str) -> RecordListener:
        return RecordListener(self._connect, kind, listen=self._listens)

    def record_watch(self, kind: str) -> RecordListener:
        return RecordListener(self._connect, kind, listen=self._listens)

    # -- the supervisor and its workers' logs --------------------------------------------------

    def supervisor_registry(self) -> PostgresSupervisorRegistry:
        return PostgresSupervisorRegistry(self._connect, self._pool, self.location, session_lock=not self._pooled)

    def supervisors(self) -> list[SupervisorStatus]:
        return supervisor_status(self._pool)

    def attempt_log_path(self, task_id: str, attempt: int) -> Path:
        """Worker output is a file on the host that ran it: under `logs_dir`, else this user's state
        folder, one subfolder per database."""
        validate_task_id(task_id)
        if self._logs_dir is None:
            base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
            digest = hashlib.sha256(self._where.encode("utf-8")).hexdigest()[:16]
            self._logs_dir = base / "lanes-tui" / "postgres" / digest
        return self._logs_dir / task_id / f"attempt-{attempt}.log"

    # -- upkeep ---------------------------------------------------------------------------------

    def sweep_temp_files(self) -> int:
        return 0  # nothing is ever half-written here

    # -- inside ---------------------------------------------------------------------------------

    def _filter(self, lane: str | None, include_terminal: bool, alias: str = "") -> tuple[str, tuple[Any, ...]]:
        prefix = f"{alias}." if alias else ""
        where = [f"NOT {prefix}archived"]
        params: list[Any] = []
        if lane is not None:
            where.append(f"{prefix}lane = %s")
            params.append(lane)
        if not include_terminal:
            where.append(f"{prefix}state = ANY(%s)")
            params.append(list(LIVE))
        return " AND ".join(where), tuple(params)

    def _select(self, task_id: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        validate_task_id(task_id)
        with self._pool.connection() as conn:
            row = conn.execute(f"SELECT task, response FROM {SCHEMA}.tasks WHERE id = %s AND NOT archived",
                               (task_id,)).fetchone()
        if row is None:
            raise NotFound(f"unknown task: {task_id}")
        return row[0], row[1]

    def _require(self, conn: Any, task_id: str) -> None:
        if conn.execute(f"SELECT 1 FROM {SCHEMA}.tasks WHERE id = %s AND NOT archived", (task_id,)).fetchone() is None:
            raise NotFound(f"unknown task: {task_id}")

    def _lock_row(self, conn: Any, task_id: str, with_events: bool = False) -> _Row:
        validate_task_id(task_id)
        # The events in the same round trip (a claim counts the attempts in them).
        events = (f"(SELECT coalesce(json_agg(event ORDER BY seq), '[]') FROM {SCHEMA}.task_events "
                  "WHERE task_id = t.id)") if with_events else "'[]'::json"
        # And whether the database holds the task's request (a claim runs on that, not on a file).
        carried = f"EXISTS (SELECT 1 FROM {SCHEMA}.requests r WHERE r.sha256 = t.task ->> 'request_sha256')"
        row = conn.execute(f"SELECT task, response, {events}, {carried} FROM {SCHEMA}.tasks t WHERE id = %s "
                           "AND NOT archived FOR UPDATE OF t", (task_id,)).fetchone()
        if row is None:
            raise NotFound(f"unknown task: {task_id}")
        return _Row(row[0], row[1], row[2], row[3])

    def _update(self, task_id: str, change: Callable[[_Row, datetime], Event], *, with_events: bool = False) -> _Row:
        """One read-modify-write of a task: `change` edits the locked row (raising to refuse),
        and the new row and its event are written in the same transaction."""
        with self._pool.transaction() as conn:
            row = self._lock_row(conn, task_id, with_events)
            now = self._now(conn)
            self._commit(conn, task_id, row, change(row, now), now)
        return row

    def _commit(self, conn: Any, task_id: str, row: _Row, event: Event, now: datetime) -> None:
        """Write a changed row, its event and its notification (sent when the transaction commits)."""
        conn.execute(f"UPDATE {SCHEMA}.tasks SET task = %s, state = %s, response = %s, version = version + 1 "
                     "WHERE id = %s", (Json(row.task, dumps=_dumps), row.task["state"],
                                       None if row.response is None else Json(row.response, dumps=_dumps), task_id))
        self._write_event(conn, task_id, event, now)
        conn.execute("SELECT pg_notify(%s, %s)", (TASKS_CHANNEL, task_id))

    def _write_event(self, conn: Any, task_id: str, event: Event, now: datetime) -> None:
        conn.execute(f"INSERT INTO {SCHEMA}.task_events (task_id, event) VALUES (%s, %s)",
                     (task_id, Json(event.to_wire(now), dumps=_dumps)))


def _dumps(value: Any) -> str:
    """Sorted keys, as agent-lanes writes a task: a task reads back as the file store's does."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def store_request(conn: Any, task: dict[str, Any], *, required: bool = True) -> None:
    """Keep the request file's content with a task, read once more and checked against the hash
    the task records (a file changed meanwhile is refused, not carried half-changed). Not
    `required` (a task copied in), a file that is gone or changed is left behind instead."""
    problem = None
    try:
        with open(task["request_path"], "rb") as handle:
            content = handle.read(MAX_REQUEST_BYTES + 1)
    except OSError as exc:
        problem = f"request file could not be read: {task['request_path']} ({exc.strerror})"
    else:
        if len(content) > MAX_REQUEST_BYTES:
            problem = (f"request file is over {MAX_REQUEST_BYTES >> 20} MiB, more than a shared queue carries: "
                       f"{task['request_path']}")
        elif hashlib.sha256(content).hexdigest() != task.get("request_sha256"):
            problem = f"request file changed while it was submitted: {task['request_path']}"
    if problem is not None:
        if required:
            raise InvalidInput(problem)
        return
    conn.execute(f"INSERT INTO {SCHEMA}.requests (sha256, content) VALUES (%s, %s) ON CONFLICT (sha256) DO NOTHING",
                 (task["request_sha256"], content))
