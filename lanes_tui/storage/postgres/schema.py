"""The PostgreSQL backend's own schema (`lanes_tui`), created and upgraded by numbered migrations.

Each migration runs once, in order, in one transaction with the version row, under an
advisory lock, so several supervisors starting at once against a new database migrate it
once. A database whose schema is newer than this lanes-tui knows is refused: an older
program writing rows it does not understand could lose what a newer one relies on.

Payloads (tasks, answers, events, records) are `json`, not `jsonb`: `json` keeps the text
as written (sorted keys, as agent-lanes writes a task file), so a task reads back as the
file store's does, and every output made from it is the same.
"""

from __future__ import annotations

from typing import Any

from lanes_tui.core.errors import ConfigError

SCHEMA = "lanes_tui"
MIGRATION_LOCK = 0x6C616E6573  # pg_advisory_xact_lock key: "lanes"

MIGRATIONS: tuple[str, ...] = (
    # 1: the queue, the coordination records, the journal, messages and the supervisors.
    f"""
    CREATE TABLE {SCHEMA}.tasks (
        id text PRIMARY KEY,
        lane text NOT NULL,
        state text NOT NULL,
        created_at text NOT NULL,
        task json NOT NULL,
        response json,
        version bigint NOT NULL DEFAULT 1,  -- grows with every change: an in-memory index's version
        archived boolean NOT NULL DEFAULT false,
        -- What a claim in one statement filters on (backend.py next_task), kept by the database.
        lease_expires_at text GENERATED ALWAYS AS (task ->> 'lease_expires_at') STORED,
        claim_owner text GENERATED ALWAYS AS (task ->> 'claim_owner') STORED,
        required_vendor text GENERATED ALWAYS AS
            (coalesce(nullif(task -> 'metadata' ->> 'required_vendor', ''), 'any')) STORED
    );
    CREATE INDEX tasks_live ON {SCHEMA}.tasks (lane, id) WHERE state IN ('queued', 'claimed') AND NOT archived;
    CREATE INDEX tasks_lane ON {SCHEMA}.tasks (lane);
    CREATE TABLE {SCHEMA}.task_events (
        task_id text NOT NULL REFERENCES {SCHEMA}.tasks (id),
        seq bigint GENERATED ALWAYS AS IDENTITY,
        event json NOT NULL,
        PRIMARY KEY (task_id, seq)
    );
    CREATE TABLE {SCHEMA}.records (
        kind text NOT NULL,
        key text NOT NULL,
        value json NOT NULL,
        PRIMARY KEY (kind, key)
    );
    CREATE TABLE {SCHEMA}.record_log (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind text NOT NULL,
        entry json NOT NULL
    );
    CREATE TABLE {SCHEMA}.counters (
        kind text PRIMARY KEY,
        value bigint NOT NULL
    );
    CREATE TABLE {SCHEMA}.logs (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        log text NOT NULL,
        entry json NOT NULL
    );
    CREATE INDEX logs_by_log ON {SCHEMA}.logs (log, seq);
    CREATE TABLE {SCHEMA}.messages (
        id bigint PRIMARY KEY,
        entry json NOT NULL
    );
    CREATE TABLE {SCHEMA}.supervisors (
        host text PRIMARY KEY,  -- one supervisor per host holds its advisory lock (registry.py)
        owner text NOT NULL,  -- its claim owner, lanes-tui@<host>:<pid>
        record json NOT NULL,
        heartbeat_at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE TABLE {SCHEMA}.message_cursors (
        reader text PRIMARY KEY,
        high_water bigint NOT NULL,
        next_id bigint NOT NULL  -- the reader has looked at every message before this id
    );
    """,
    # 2: requests travel with their tasks (backend.py create_task): a host that runs a task needs
    # no copy of the submitter's file. By content, so tasks submitted on one artifact share a row.
    f"""
    CREATE TABLE {SCHEMA}.requests (
        sha256 text PRIMARY KEY,
        content bytea NOT NULL
    );
    """,
    # 3: a worktree task's branch travels back as a git bundle (gitwork/bundles.py): the host that
    # ran it keeps it here with the answer, the lead's host fetches it into its own clone.
    f"""
    CREATE TABLE {SCHEMA}.result_bundles (
        task_id text PRIMARY KEY REFERENCES {SCHEMA}.tasks (id),
        head text NOT NULL,
        sha256 text NOT NULL,
        content bytea NOT NULL
    );
    """,
)


def migrate(conn: Any) -> int:
    """Bring the schema up to date on `conn` (autocommit); the version it is at."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_version (version integer NOT NULL)")
        row = conn.execute(f"SELECT max(version) FROM {SCHEMA}.schema_version").fetchone()
        current = row[0] or 0
        if current > len(MIGRATIONS):
            raise ConfigError(f"the database's lanes-tui schema is version {current}, newer than this lanes-tui "
                              f"knows ({len(MIGRATIONS)}): upgrade lanes-tui; nothing was changed")
        for number, statements in enumerate(MIGRATIONS[current:], start=current + 1):
            conn.execute(statements)
            conn.execute(f"INSERT INTO {SCHEMA}.schema_version (version) VALUES (%s)", (number,))
        return len(MIGRATIONS)
