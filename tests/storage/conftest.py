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
