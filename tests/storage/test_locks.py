"""Advisory locks: one winner, TTL and dead owners make a lock stale, fencing after a break,
and one key per file however its path is written (symlinks, linked git worktrees)."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import time
from datetime import timedelta

import pytest
from helpers.clock import ManualClock

from lanes_tui.core.errors import InvalidInput, NotFound
from lanes_tui.core.locks import LockHeld, LockLost, lock_key_for_name, lock_key_for_path
from lanes_tui.storage.files.coordination import LOCKS_DIR, file_locks, file_presence
from lanes_tui.storage.files.records import EVENTS


@pytest.fixture
def table(tmp_path):
    (tmp_path / "store").mkdir()
    clock = ManualClock()
    t = file_locks(tmp_path / "store", clock=clock, host="here")
    t.test_clock = clock
    return t


def events(table) -> list[dict]:
    return [json.loads(line) for line in (table.records.path / EVENTS).read_text().splitlines()]


def test_acquire_conflict_release_and_reacquire(table):
    key = lock_key_for_name("deploy")
    mine = table.acquire(key, owner="alice", ttl_seconds=60, reason="shipping")
    with pytest.raises(LockHeld) as held:
        table.acquire(key, owner="bob", ttl_seconds=60)
    assert held.value.exit_code == 9 and held.value.holder.owner == "alice"
    assert "locked by alice" in str(held.value) and "shipping" in str(held.value)
    again = table.acquire(key, owner="alice", ttl_seconds=120)  # re-entrant: extends, same token
    assert again.token == mine.token and again.expires_at > mine.expires_at
    table.release(key, owner="alice", token=mine.token)
    assert table.get(key) is None
    bob = table.acquire(key, owner="bob", ttl_seconds=60)
    assert bob.token > mine.token  # fencing tokens only grow
    assert [e["type"] for e in events(table)] == ["acquired", "renewed", "released", "acquired"]


def test_an_expired_lock_is_taken_over_with_an_event(table):
    key = lock_key_for_name("db")
    old = table.acquire(key, owner="alice", ttl_seconds=30)
    table.test_clock.now += timedelta(seconds=31)
    assert table.states()[0].stale.startswith("expired")
    new = table.acquire(key, owner="bob", ttl_seconds=30)
    assert new.owner == "bob" and new.token > old.token
    takeover = events(table)[-1]
    assert takeover["type"] == "taken_over" and takeover["previous"]["owner"] == "alice"
    with pytest.raises(LockLost):  # the former holder is fenced out
        table.renew(key, owner="alice", token=old.token, ttl_seconds=30)
    with pytest.raises(LockLost):
        table.release(key, owner="alice", token=old.token)


def test_a_dead_owner_process_makes_the_lock_stale_but_a_live_one_does_not(table):
    gone = subprocess.Popen(["true"])
    gone.wait()
    key = lock_key_for_name("build")
    table.acquire(key, owner="ghost", ttl_seconds=3600, pid=gone.pid)
    (state,) = table.states()
    assert state.alive is False and "is gone" in state.stale
    table.acquire(key, owner="me", ttl_seconds=3600, pid=os.getpid())
    (state,) = table.states()
    assert state.alive is True and state.stale is None
    with pytest.raises(LockHeld):
        table.acquire(key, owner="other", ttl_seconds=60)


def test_break_needs_a_reason_records_who_and_fences_the_holder(table):
    key = lock_key_for_name("x")
    held = table.acquire(key, owner="alice", ttl_seconds=60)
    with pytest.raises(InvalidInput):
        table.break_lock(key, by="operator", reason="")
    table.break_lock(key, by="operator:bob", reason="alice is on holiday")
    assert events(table)[-1] | {"at": None} == {
        "at": None, "type": "broken", "key": key, "owner": "alice", "token": held.token,
        "by": "operator:bob", "reason": "alice is on holiday"}
    with pytest.raises(LockLost):
        table.renew(key, owner="alice", token=held.token, ttl_seconds=60)
    with pytest.raises(NotFound):
        table.break_lock(key, by="operator", reason="again")


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf"), 10 * 86400])
def test_bad_ttls_are_refused(table, ttl):
    with pytest.raises(InvalidInput):
        table.acquire(lock_key_for_name("x"), owner="a", ttl_seconds=ttl)


@pytest.mark.parametrize("owner", ["", "a\x1b[2Jb", "x" * 201, "line\nbreak"])
def test_hostile_owners_are_refused(table, owner):
    with pytest.raises(InvalidInput):
        table.acquire(lock_key_for_name("x"), owner=owner, ttl_seconds=1)


@pytest.mark.parametrize("name", ["", "../etc", "-rf", "a b", "x\x00y", "n" * 201])
def test_bad_names_are_refused(name):
    with pytest.raises(InvalidInput):
        lock_key_for_name(name)


def test_a_corrupt_or_planted_lock_file_neither_crashes_nor_counts(table, tmp_path):
    key = lock_key_for_name("x")
    table.acquire(key, owner="a", ttl_seconds=60)
    (path,) = [p for p in (table.records.path).iterdir() if p.name.endswith(".json")]
    path.write_text("{not json")
    assert table.get(key) is None and table.states() == []
    assert table.acquire(key, owner="b", ttl_seconds=60).owner == "b"
    path.unlink()
    target = tmp_path / "target"
    target.write_text("keep")
    path.symlink_to(target)
    with pytest.raises(Exception) as refused:
        table.acquire(key, owner="c", ttl_seconds=60)
    assert "symlink" in str(refused.value) and target.read_text() == "keep"


def test_one_key_per_file_whatever_the_path(tmp_path):
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "app.py").write_text("x")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "add", "."], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-qm", "x"], check=True)
    worktree = tmp_path / "wt"
    subprocess.run([*git, "-C", str(repo), "worktree", "add", "-q", str(worktree)], check=True)
    (tmp_path / "link").symlink_to(repo / "src")
    expected = "path:src/app.py"
    forms = [
        ("src/app.py", repo), ("./src/../src/app.py", repo), (str(repo / "src" / "app.py"), tmp_path),
        ("app.py", repo / "src"), (str(tmp_path / "link" / "app.py"), tmp_path),
        ("src/app.py", worktree), (str(worktree / "src" / "app.py"), repo),
    ]
    for raw, cwd in forms:
        assert lock_key_for_path(raw, workspace_root=repo, cwd=cwd) == expected, (raw, cwd)
    # From the worktree's point of view too: the workspace root may be the linked worktree.
    assert lock_key_for_path(str(repo / "src" / "app.py"), workspace_root=worktree) == expected
    assert lock_key_for_path("src/new-file.py", workspace_root=repo, cwd=repo) == "path:src/new-file.py"
    for raw in ("/etc/passwd", "../outside.txt", str(tmp_path)):
        with pytest.raises(InvalidInput):
            lock_key_for_path(raw, workspace_root=repo, cwd=repo)


def _race(store: str, key: str, owner: str, barrier, results) -> None:
    barrier.wait()
    try:
        file_locks(store).acquire(key, owner=owner, ttl_seconds=60)
        results.put(owner)
    except LockHeld:
        results.put(None)


def test_eight_processes_behind_a_barrier_one_winner_every_round(tmp_path):
    (tmp_path / "store").mkdir()
    ctx = multiprocessing.get_context("fork")
    rounds, racers = 40, 8
    for round_no in range(rounds):
        barrier, results = ctx.Barrier(racers), ctx.Queue()
        key = lock_key_for_name(f"race-{round_no}")
        procs = [ctx.Process(target=_race, args=(str(tmp_path / "store"), key, f"p{i}", barrier, results))
                 for i in range(racers)]
        for proc in procs:
            proc.start()
        outcomes = [results.get(timeout=30) for _ in procs]
        for proc in procs:
            proc.join(30)
        winners = [o for o in outcomes if o]
        assert len(winners) == 1, (round_no, outcomes)
        assert file_locks(tmp_path / "store").get(key).owner == winners[0]
    assert (tmp_path / "store" / LOCKS_DIR / "fence").read_text().strip() == str(rounds)


def test_an_offline_agents_lock_stops_counting_an_unregistered_owner_is_judged_by_ttl(table):
    presence = file_presence(table.records.store_root, clock=table.test_clock, host="here")
    presence.register("alice")
    key = lock_key_for_name("db")
    table.acquire(key, owner="alice", ttl_seconds=7 * 86400)
    table.acquire(lock_key_for_name("other"), owner="never-registered", ttl_seconds=7 * 86400)
    table.test_clock.now += timedelta(seconds=presence.offline_seconds + 1)  # no heartbeat since
    states = {s.record.owner: s for s in table.states()}
    assert "offline" in states["alice"].stale and states["never-registered"].stale is None
    assert table.acquire(key, owner="bob", ttl_seconds=60).owner == "bob"


def test_a_zombie_owner_holds_nothing(table):
    from lanes_tui.core import procinfo

    # A child that exited but is not reaped yet: its pid and start time are still in /proc.
    zombie = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while _proc_state(zombie.pid) != b"Z":
        assert time.monotonic() < deadline, "the child never became a zombie"
        time.sleep(0.005)
    assert procinfo.start_time(zombie.pid) is not None
    table.acquire(lock_key_for_name("z"), owner="ghost", ttl_seconds=3600, pid=zombie.pid)
    (state,) = table.states()
    assert state.alive is False and "is gone" in state.stale
    zombie.wait()


def _proc_state(pid: int) -> bytes:
    with open(f"/proc/{pid}/stat", "rb") as handle:
        return handle.read().rsplit(b")", 1)[1].split()[0]
