"""Claim race between both libraries on one store (fault-injection row 14).

Eight long-lived forked processes, four claiming through agent-lanes'
`HandoffStore.claim_task` and four through our `FileBackend.claim`, meet at a
barrier and then all claim the same queued task. Exactly one may win each round,
and the task on disk must name that winner. The workers are reused across the
200 rounds so the test measures the lock, not process start-up.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections import Counter

import pytest
from agent_lanes.errors import StoreError as AgentLanesStoreError
from agent_lanes.store import HandoffStore

from lanes_tui.core.errors import ConflictError
from lanes_tui.storage.files.backend import FileBackend

WORKERS_PER_LIBRARY = 4
ROUNDS = 200
REPLY_TIMEOUT = 30.0


def _worker(kind: str, index: int, store_root: str, barrier, conn) -> None:
    owner = f"{kind}-{index}"
    if kind == "agent-lanes":
        al_store = HandoffStore(store_root)

        def claim(task_id: str) -> str:
            return al_store.claim_task(task_id, owner=owner, lease_seconds=600)["claim_token"]

        refusal: tuple[type[BaseException], ...] = (AgentLanesStoreError,)
    else:
        lt_store = FileBackend(store_root)

        def claim(task_id: str) -> str:
            return lt_store.claim(task_id, owner=owner, lease_seconds=600)["claim_token"]

        refusal = (ConflictError,)
    while True:
        task_id = conn.recv()
        if task_id is None:
            break
        try:
            barrier.wait(timeout=REPLY_TIMEOUT)
        except Exception as exc:  # a broken barrier must fail the round, not hang it
            conn.send(("error", owner, f"barrier: {exc!r}"))
            continue
        try:
            conn.send(("won", owner, claim(task_id)))
        except refusal as exc:
            conn.send(("lost", owner, str(exc)))
        except BaseException as exc:
            conn.send(("error", owner, repr(exc)))


def test_mixed_library_claim_race_has_exactly_one_winner_per_round(workspace):
    ctx = multiprocessing.get_context("fork")
    kinds = ["agent-lanes"] * WORKERS_PER_LIBRARY + ["lanes-tui"] * WORKERS_PER_LIBRARY
    barrier = ctx.Barrier(len(kinds))
    store = workspace.store()
    workers = []
    try:
        for index, kind in enumerate(kinds):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(kind, index, str(store.root), barrier, child_end), daemon=True)
            proc.start()
            child_end.close()
            workers.append((proc, parent_end))

        started = time.monotonic()
        wins: Counter[str] = Counter()
        for round_no in range(ROUNDS):
            task_id = workspace.submit(lane="race", name=f"race-{round_no}")["id"]
            for _, conn in workers:
                conn.send(task_id)
            results = []
            for proc, conn in workers:
                if not conn.poll(REPLY_TIMEOUT):
                    pytest.fail(f"round {round_no}: worker {proc.pid} did not answer (alive={proc.is_alive()})")
                results.append(conn.recv())
            errors = [r for r in results if r[0] == "error"]
            assert not errors, (round_no, errors)
            winners = [r for r in results if r[0] == "won"]
            assert len(winners) == 1, (round_no, results)
            _, owner, token = winners[0]
            for _, loser, message in (r for r in results if r[0] == "lost"):
                assert "active lease held by" in message, (round_no, loser, message)
            on_disk = json.loads((store.tasks_dir / task_id / "task.json").read_text(encoding="utf-8"))
            assert on_disk["state"] == "claimed"
            assert (on_disk["claim_owner"], on_disk["claim_token"]) == (owner, token), round_no
            claimed_events = [e for e in store.read_events(task_id).events if e["type"] == "claimed"]
            assert [e["data"]["owner"] for e in claimed_events] == [owner], round_no
            wins[owner.rsplit("-", 1)[0]] += 1
        elapsed = time.monotonic() - started
    finally:
        for _, conn in workers:
            try:
                conn.send(None)
            except OSError:
                pass
        for proc, conn in workers:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
            conn.close()

    assert sum(wins.values()) == ROUNDS
    # Both libraries really contended: each won some rounds.
    assert wins["agent-lanes"] > 0 and wins["lanes-tui"] > 0, wins
    assert not list(store.tasks_dir.glob("*/.*.tmp"))
    print(f"{ROUNDS} rounds in {elapsed:.1f}s; wins: {dict(wins)}")
