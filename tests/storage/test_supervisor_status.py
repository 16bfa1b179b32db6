"""What the hosts view reads (`Backend.supervisors`): each supervisor of the queue with its
capacity, its workers and whether it is running, on every backend; on PostgreSQL, several
hosts, judged by their heartbeats on the database's clock."""

from __future__ import annotations

import pytest

from lanes_tui.core.supervisors import DEAD, LATE, RUNNING, STOPPED, WorkerRecord, host_of


def test_a_running_supervisor_shows_its_capacity_and_workers_then_a_clean_stop(store):
    assert store.supervisors() == []
    registry = store.supervisor_registry()
    registry.record.capacity = 4
    registry.claim()
    registry.record_worker(WorkerRecord("t-1", 11, 11, None, "tok", 1))
    registry.set_capacity(6)
    (shown,) = store.supervisors()
    assert (shown.state, shown.record.capacity, set(shown.record.workers)) == (RUNNING, 6, {"t-1"})
    assert shown.here and shown.record.owner == registry.owner and host_of(registry.owner) == shown.host
    registry.release()
    after = store.supervisors()
    if after:  # the memory backend forgets a supervisor that let go; the others keep its row
        assert [(s.state, dict(s.record.workers)) for s in after] == [(STOPPED, {})]


def test_owners_name_their_host():
    assert host_of("lanes-tui@build-1:42") == "build-1"
    assert host_of("lanes-tui@a.b.example:7") == "a.b.example"
    assert host_of("bob") is None and host_of("lanes-tui@x:notapid") is None and host_of(None) is None


def test_every_host_of_a_postgres_queue_with_its_heartbeat(postgres_url, tmp_path, monkeypatch):
    from lanes_tui.storage.postgres import PostgresBackend
    from lanes_tui.storage.postgres.registry import DEAD_AFTER_SECONDS, LATE_AFTER_SECONDS

    backend = PostgresBackend(postgres_url, logs_dir=tmp_path / "logs")
    registries = []
    try:
        for host in ("host-a", "host-b", "host-c"):
            monkeypatch.setenv("LANES_TUI_HOST_ID", host)
            registry = backend.supervisor_registry()
            registry.claim()
            registries.append(registry)
        registries[2].release()
        with backend._pool.connection() as conn:  # host-b's beats stopped coming a while ago
            conn.execute("UPDATE lanes_tui.supervisors SET heartbeat_at = clock_timestamp() - make_interval(secs => %s)"
                         " WHERE host = 'host-b'", (LATE_AFTER_SECONDS + 1,))
        states = {s.host: s for s in backend.supervisors()}
        assert {h: s.state for h, s in states.items()} == {"host-a": RUNNING, "host-b": LATE, "host-c": STOPPED}
        assert states["host-b"].heartbeat_age == pytest.approx(LATE_AFTER_SECONDS + 1, abs=5)
        assert states["host-a"].dead_after == DEAD_AFTER_SECONDS and not states["host-a"].here
        with backend._pool.connection() as conn:
            conn.execute("UPDATE lanes_tui.supervisors SET heartbeat_at = clock_timestamp() - make_interval(secs => %s)"
                         " WHERE host = 'host-b'", (DEAD_AFTER_SECONDS,))
        assert {s.host: s.state for s in backend.supervisors()}["host-b"] == DEAD
    finally:
        for registry in registries:
            registry.release()
        backend.close()
