"""Fault row 15 (G2 by lease, G4, G7): many claimers, short leases, crashes.

Four claimer processes work one lane of short-lease (1 s) tasks. They renew
while they work; some claims are abandoned (the holder stops renewing, as a
hung worker would), and one claimer really dies (os._exit) right after
claiming. Abandoned tasks are reclaimed by the others once the lease expires.
Every abandoned holder later tries to answer with its stale token and must be
refused. At the end every task has exactly one answer, from its last holder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

TASKS = 30
CLAIMERS = 4  # the last one crashes on its first claim
CRASH_EXIT = 17

CLAIMER = r"""
import json, os, random, sys, time
from lanes_tui.core.errors import ConflictError
from lanes_tui.storage.files.scan import live_tasks
from lanes_tui.storage.files.backend import FileBackend
from lanes_tui.engine.waiting import wait_for_lane_task

store_root, name, seed, crash_after = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
LEASE = 1.0
rng = random.Random(seed)
store = FileBackend(store_root)
abandoned = []  # (task_id, stale token); a holder may abandon the same task twice
log = {"answered": [], "abandoned": [], "lost": [], "stale_refused": 0, "stale_accepted": [], "claims": 0}
deadline = time.monotonic() + 90
print("READY", flush=True)
sys.stdin.read(1)
while True:
    if time.monotonic() > deadline:
        print("gave up: live tasks left", file=sys.stderr)
        sys.exit(3)
    # Holders that abandoned a task try to answer once someone else took it over.
    for task_id, token in list(abandoned):
        task = store.effective_task(task_id)
        if task["state"] in ("completed", "failed") or task["claim_token"] != token:
            try:
                store.respond(task_id, body="stale " + name, reviewer=name, claim_token=token)
                log["stale_accepted"].append(task_id)
            except ConflictError:
                log["stale_refused"] += 1
            abandoned.remove((task_id, token))
    if not live_tasks(store, lane="l").tasks:
        assert not abandoned
        break
    found = wait_for_lane_task(store, "l", timeout=1.5, claim_owner=name, lease_seconds=LEASE)
    if found.task is None:
        continue
    task_id, token = found.task["id"], found.claim_token
    log["claims"] += 1
    if log["claims"] == crash_after:
        os._exit(17)  # a real crash: no renew, no answer, no goodbye
    if rng.random() < 0.2:
        abandoned.append((task_id, token))  # hung: never renews
        log["abandoned"].append(task_id)
        continue
    lost = False
    for _ in range(rng.randrange(0, 4)):
        time.sleep(0.25)  # the work itself (not synchronisation)
        try:
            store.renew(task_id, claim_token=token, lease_seconds=LEASE)
        except ConflictError:
            lost = True  # we were too slow and someone took it over: fenced (G7)
            break
    if not lost:
        try:
            store.respond(task_id, body="answer by " + name, reviewer=name, claim_token=token)
            log["answered"].append(task_id)
            continue
        except ConflictError:
            pass
    abandoned.append((task_id, token))
    log["lost"].append(task_id)
print(json.dumps(log), flush=True)
"""


def test_every_task_is_answered_exactly_once_by_its_last_holder(workspace):
    store = workspace.store()
    ids = [workspace.submit(lane="l", name=f"t{i}")["id"] for i in range(TASKS)]
    procs = []
    try:
        for n in range(CLAIMERS):
            crash_after = 1 if n == CLAIMERS - 1 else 0
            proc = subprocess.Popen(
                [sys.executable, "-c", CLAIMER, str(store.root), f"c{n}", str(1000 + n), str(crash_after)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            procs.append(proc)
            assert proc.stdout.readline() == "READY\n", proc.stderr.read()
        for proc in procs:  # barrier: all start together
            proc.stdin.write("g")
            proc.stdin.flush()
        logs = []
        for n, proc in enumerate(procs):
            out, err = proc.communicate(timeout=150)
            if n == CLAIMERS - 1:
                assert proc.returncode == CRASH_EXIT, (proc.returncode, err)
            else:
                assert proc.returncode == 0, err
                logs.append(json.loads(out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    answered = Counter(task_id for log in logs for task_id in log["answered"])
    assert sorted(answered) == sorted(ids), "some task was never answered"
    assert set(answered.values()) == {1}, f"answered twice: {[t for t, c in answered.items() if c > 1]}"
    assert [t for log in logs for t in log["stale_accepted"]] == [], "a stale token was accepted (G4/G7)"
    abandoned = sum(len(log["abandoned"]) + len(log["lost"]) for log in logs)
    refused = sum(log["stale_refused"] for log in logs)
    assert refused == abandoned and abandoned >= 1, (refused, abandoned)

    answerer = {task_id: f"c{n}" for n, log in enumerate(logs) for task_id in log["answered"]}
    total_claims = 0
    for task_id in ids:
        task = store.read_task(task_id)
        assert task["state"] == "completed"
        response = store.read_response(task_id)
        assert response["reviewer"] == answerer[task_id] == task["claim_owner"]
        assert response["body"] == "answer by " + answerer[task_id]
        kinds = [e["type"] for e in store.read_events(task_id).events]
        assert kinds.count("response") == 1
        total_claims += kinds.count("claimed")
    # Every claim ended in exactly one of: the answer, an abandonment, the crash.
    # So each abandoned task (and the crashed claimer's) was claimed again after expiry.
    assert total_claims == TASKS + abandoned + 1, (total_claims, abandoned)
    assert sum(log["claims"] for log in logs) == TASKS + abandoned
