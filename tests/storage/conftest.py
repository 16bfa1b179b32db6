"""Fixtures of the storage tests: every backend behind the seam (PostgreSQL on a real server the
tests start, tests/helpers/postgres.py), on one hand-moved clock."""

from __future__ import annotations

import pytest
from helpers.clock import ManualClock

from lanes_tui.storage.files.backend import FileBackend
from lanes_tui.storage.memory import MemoryBackend

BACKENDS = ("files", "memory", "postgres")


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture(params=BACKENDS)
def store(request, workspace, clock, tmp_path):
    if request.param == "files":
        return FileBackend(workspace.store_root, clock=clock)
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")  # skips (or fails in CI) without a server or psycopg
        from lanes_tui.storage.postgres import PostgresBackend

        backend = PostgresBackend(url, clock=clock, logs_dir=tmp_path / "logs")
        request.addfinalizer(backend.close)
        return backend
    return MemoryBackend(clock=clock)


@pytest.fixture
def expired_own_claim(postgres_url, workspace, clock):
    """A PostgreSQL store on the hand-moved clock (leases on it, heartbeats on the database's),
    its supervisor registered and beating, and a task it claimed whose lease has run out: a
    rescuer may not take it while that supervisor is alive. Yields (store, registry, task)."""
    from lanes_tui.core.errors import ConflictError
    from lanes_tui.storage.postgres import PostgresBackend

    from .test_contract import submit

    store = PostgresBackend(postgres_url, clock=clock)
    registry = store.supervisor_registry()
    registry.claim()
    try:
        task = submit(store, workspace)
        store.claim(task["id"], owner=registry.owner, lease_seconds=30)
        clock.advance(31)
        with pytest.raises(ConflictError, match="is alive .* stops its own worker"):
            store.claim(task["id"], owner="rescuer", lease_seconds=30)
        assert store.next_task("default", candidates=[], claim_owner="rescuer", lease_seconds=30).task is None
        yield store, registry, task
    finally:
        registry.release()
        store.close()
