"""Fault row 1 (G1, G4, G5, G8): SIGKILL a process doing submit/claim/respond at random instants.

A child process loops over the real store verbs; the parent kills it with
SIGKILL at an instant drawn from a seeded RNG (the RNG only *chooses* the
instant; the parent learns that the child is ready through a pipe, never by
sleeping). After every kill the on-disk invariants are checked, and at the end
a fresh process drains what is left: every task ends answered exactly once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from lanes_tui.core.ids import is_valid_task_id
from lanes_tui.core.model import STATES, TERMINAL_STATES
from lanes_tui.storage.files.backend import FileBackend
from lanes_tui.storage.files.scan import all_tasks

SEED = 20261123
KILLS = 40
MAX_TASKS = 160

# The worker: submits tasks, and claims + answers queued ones. It prints a line
# *after* each verb returned, so the parent knows which operations completed.
WORKER = r"""
import random, sys
from pathlib import Path
from lanes_tui.core.errors import ConflictError
from lanes_tui.storage.files.scan import live_tasks
from lanes_tui.storage.files.backend import FileBackend

root, store_root, seed, tag, max_tasks = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
rng = random.Random(seed)
store = FileBackend(store_root)

def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

def submit(n):
    task = store.create_task(
        workspace_id="ws", correlation_id=f"{tag}-{n}", source_agent=tag, lane=rng.choice(["a", "b"]),
        workspace_root=root, request_path=root / "request.md", response_path=root / "out.md",
        prompt=f"prompt {tag} {n} " + "x" * rng.randrange(0, 6000),
    )
    say("S " + task["id"])

say("READY")
n = 0
while True:
    n += 1
    queued = [t for t in live_tasks(store).tasks if t["state"] == "queued"]
    if not queued or (rng.random() < 0.3 and len(store.task_ids()) < max_tasks):
        submit(n)
        continue
    task = rng.choice(queued)
    try:
        claimed = store.claim(task["id"], owner=tag, lease_seconds=3600)
    except ConflictError:
        continue
    token = claimed["claim_token"]
    say("C " + task["id"])
    store.append_event(task["id"], "note", "working", {"n": n}, claim_token=token)
    if rng.random() < 0.15:
        store.release(task["id"], claim_token=token, reason="changed my mind")
        say("L " + task["id"])
        continue
    status = "completed" if rng.random() < 0.8 else "failed"
    store.respond(task["id"], body=f"answer by {tag}", reviewer=tag, claim_token=token, status=status)
    say("R " + task["id"])
"""

# The drainer: a fresh process whose clock runs a day ahead, so every lease left
# by a killed worker has expired. It answers whatever is still live, once.
DRAINER = r"""
import sys
from datetime import UTC, datetime, timedelta
from lanes_tui.storage.files.scan import live_tasks
from lanes_tui.storage.files.backend import FileBackend

store = FileBackend(sys.argv[1], clock=lambda: datetime.now(UTC) + timedelta(days=1))
while True:
    listing = live_tasks(store)
    if listing.corrupt:
        print("corrupt tasks: %r" % (listing.corrupt,), file=sys.stderr)
        sys.exit(3)
    if not listing.tasks:
        break
    progress = False
    for lane in sorted({t["lane"] for t in listing.tasks}):
        result = store.next_task(
            lane, candidates=[t["id"] for t in listing.tasks], claim_owner="drainer", lease_seconds=60
        )
        if result.stale:
            print("stale: %r" % (result.stale,), file=sys.stderr)
            sys.exit(4)
        if result.task is None:
            continue
        store.respond(result.task["id"], body="answer by drainer", reviewer="drainer", claim_token=result.claim_token)
        print("D " + result.task["id"], flush=True)
        progress = True
    if not progress:
        print("live tasks left that nobody can claim: %r" % ([t["id"] for t in listing.tasks],), file=sys.stderr)
        sys.exit(5)
"""


def _complete_lines(data: bytes) -> list[str]:
    text = data.decode()
    lines = text.split("\n")
    return lines[:-1]  # the last element is "" or a line cut by the kill


def _response_events(store: FileBackend, task_id: str) -> int:
    return sum(1 for e in store.read_events(task_id).events if e.get("type") == "response")


class Ledger:
    """What the parent knows from the child's completed operations."""

    def __init__(self) -> None:
        self.submitted: set[str] = set()
        self.responded: set[str] = set()
        self.answers: dict[str, bytes] = {}  # task id -> response.json bytes first seen
        self.stats = {"half_folders": 0, "rolled_forward": 0, "claimed_left": 0, "temp_files": 0}


def check_invariants(store: FileBackend, ledger: Ledger, *, repair: bool) -> None:
    tasks_dir = store.tasks_dir
    with_task_json: set[str] = set()
    for entry in os.scandir(tasks_dir):
        assert entry.is_dir(follow_symlinks=False), f"unexpected non-folder in tasks/: {entry.name}"
        assert is_valid_task_id(entry.name), f"temp or junk folder in tasks/: {entry.name}"
        names = set(os.listdir(entry.path))
        junk = {n for n in names if n.startswith(".") and n.endswith(".tmp")}
        ledger.stats["temp_files"] += len(junk)
        assert names - junk <= {"task.json", "events.jsonl", "response.json"}, names
        if "task.json" not in names:
            # Only a submit that never returned may leave a folder without task.json.
            assert entry.name not in ledger.submitted, f"G1: submitted task lost its task.json: {entry.name}"
            ledger.stats["half_folders"] += 1
            continue
        with_task_json.add(entry.name)
        raw = json.loads((Path(entry.path) / "task.json").read_bytes())  # G5: never partial
        assert isinstance(raw, dict) and raw["id"] == entry.name
        assert raw["state"] in STATES, raw["state"]
        has_response = "response.json" in names
        if has_response:
            body = (Path(entry.path) / "response.json").read_bytes()
            json.loads(body)  # G5
            previous = ledger.answers.setdefault(entry.name, body)
            assert previous == body, f"G4: response.json of {entry.name} was rewritten"
            if raw["state"] not in TERMINAL_STATES:
                ledger.stats["rolled_forward"] += 1
                # G8: answered means answered, whether or not task.json caught up yet.
                assert store.effective_task(entry.name)["state"] in TERMINAL_STATES
                if repair:
                    store.recover(entry.name)
                    repaired = store.read_task(entry.name)
                    assert repaired["state"] in TERMINAL_STATES, repaired["state"]
        else:
            assert raw["state"] not in TERMINAL_STATES, f"{entry.name} is {raw['state']} without response.json"
            if raw["state"] == "claimed":
                ledger.stats["claimed_left"] += 1
        assert _response_events(store, entry.name) <= 1, f"G4: two response events for {entry.name}"

    missing = ledger.submitted - with_task_json
    assert not missing, f"G1: submitted tasks lost after SIGKILL: {sorted(missing)}"
    for task_id in ledger.responded:
        assert store.effective_task(task_id)["state"] in TERMINAL_STATES

    # Readers see exactly the real tasks: no temp file or half-made folder is a task.
    listing = all_tasks(store)
    assert listing.corrupt == [], listing.corrupt
    assert {t["id"] for t in listing.tasks} == with_task_json


def test_sigkill_at_random_instants_keeps_the_queue_consistent(workspace):
    store = workspace.store()
    rng = random.Random(SEED)
    ledger = Ledger()
    for round_no in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(workspace.root), str(workspace.store_root),
             str(rng.randrange(1 << 30)), f"w{round_no}", str(MAX_TASKS)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        try:
            ready = child.stdout.readline()
            assert ready == b"READY\n", child.stderr.read().decode()
            # Let the worker get going (1 to 4 reported operations), however loaded the machine is:
            # counted, not timed, so a slow machine kills it as far into its work as a fast one.
            first = b"".join(child.stdout.readline() for _ in range(rng.randint(1, 4)))
            time.sleep(rng.uniform(0.0, 0.06))  # picks the kill instant; not used to wait for anything
            child.send_signal(signal.SIGKILL)
            out, err = child.communicate(timeout=30)
            out = first + out
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert child.returncode == -signal.SIGKILL, f"worker died on its own:\n{err.decode()}"
        for line in _complete_lines(out):
            verb, _, task_id = line.partition(" ")
            if verb == "S":
                ledger.submitted.add(task_id)
            elif verb == "R":
                ledger.responded.add(task_id)
        check_invariants(store, ledger, repair=round_no % 2 == 0)

    assert len(ledger.submitted) > KILLS, "the worker hardly ran; the kills tested nothing"
    print(f"\nsigkill stats over {KILLS} kills: {ledger.stats}, tasks={len(store.task_ids())}")

    answered_before = set(ledger.answers)
    drained = _drain(workspace)
    assert len(drained) == len(set(drained)), "the drainer answered a task twice"
    assert not set(drained) & answered_before, "G4/G8: an answered task was handed out again"
    assert _drain(workspace) == [], "a second drain found work: the first one missed tasks"

    check_invariants(store, ledger, repair=True)
    for task_id in store.task_ids():
        folder = store.tasks_dir / task_id
        if not (folder / "task.json").exists():
            continue  # an interrupted submit (never returned); not a task
        task = store.read_task(task_id)
        assert task["state"] in TERMINAL_STATES, (task_id, task["state"])
        assert (folder / "response.json").is_file()
        events = _response_events(store, task_id)
        if task_id in drained:
            assert events == 1
            assert store.read_response(task_id)["reviewer"] == "drainer"
        else:
            # Answered by a worker: one response event, or none if the kill landed
            # between response.json and the event (then recovery rolled forward).
            assert events <= 1
            assert store.read_response(task_id)["reviewer"].startswith("w")


def _drain(workspace) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", DRAINER, str(workspace.store_root)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return [line[2:] for line in done.stdout.splitlines() if line.startswith("D ")]
