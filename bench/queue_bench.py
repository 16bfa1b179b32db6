#!/usr/bin/env python3
"""Side-by-side benchmark: lanes-tui against agent-lanes 0.1.1 on the same stores.

Both tools are measured in the same run, on byte-identical stores of N tasks
(default N = 100, 1,000 and 10,000) of which 90% are completed and 10% queued,
split over two lanes: the realistic shape of a queue with a long history.

Rows (medians):
  1. claim-next in a long-running process: agent-lanes next_task + claim_task
     vs lanes-tui TaskIndex.claim_next (the in-memory index its supervisor and
     dashboard keep current from the change feed; built once, untimed)
  2. claim-next via the CLI: agent-lanes `next` + `claim` (two processes) vs
     lanes-tui `next --claim` (one process)
  3. `list --json` via the CLI
  4. `status --all --json` via the CLI
  5. CLI start-up (`--help`)
  6. CPU of an idle `wait --lane <empty lane> --quiet`, as % of one core
  7. submit-to-blocked-waiter latency (`wait --lane L --json --quiet`)

Stores are written directly in agent-lanes' on-disk format (no fsync: seconds
for 10,000 tasks instead of minutes of create_task calls), checked against a
store agent-lanes wrote itself and read back with both libraries and both CLIs,
then copied once per tool for the measurements that claim tasks.

    python bench/queue_bench.py                       # full run (about 4-5 minutes)
    python bench/queue_bench.py --quick               # smoke run (under a minute)
    python bench/queue_bench.py --markdown-out table.md --tmpdir /var/tmp

Progress goes to stderr; the table (markdown) goes to stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import bench_common  # noqa: E402
from agent_lanes.store import HandoffStore  # noqa: E402
from bench_common import find_cli, log, machine_line  # noqa: E402,F401  (the other benches import them from here)

from lanes_tui.engine.index import TaskIndex  # noqa: E402
from lanes_tui.storage.files.backend import FileBackend
from lanes_tui.storage.files.scan import all_tasks, live_tasks  # noqa: E402

LANES = ("alpha", "beta")
IDLE_LANE = "idle-lane"  # never has a task
WORKSPACE_ID = "bench"
OWNER = "bench-worker"
LEASE_SECONDS = 900.0
COMPLETED_FRACTION = 0.9


# Environment of every CLI run. PYTHONPYCACHEPREFIX (set in main) gives both tools a warm
# bytecode cache even where PYTHONDONTWRITEBYTECODE is set: agent-lanes ships compiled .pyc
# files in site-packages, an editable lanes-tui checkout would otherwise be recompiled per run.
CHILD_ENV: dict[str, str] = dict(os.environ)



# -- the two command lines ---------------------------------------------------------------



@dataclass(frozen=True)
class Workspace:
    root: Path
    config: Path
    request: Path
    request_sha: str
    al_cli: str
    lt_cli: str

    def al(self, store: Path, *args: str) -> list[str]:
        return [self.al_cli, "--config", str(self.config), "--store", str(store), *args]

    def lt(self, store: Path, *args: str) -> list[str]:
        return [self.lt_cli, "--config", str(self.config), "--store", str(store), *args]


def make_workspace(base: Path) -> Workspace:
    root = base / "workspace"
    (root / "handoff").mkdir(parents=True)
    (root / "reviews").mkdir()
    request = root / "request.md"
    request.write_text("# Review request\n\nPlease review the change in src/ for correctness.\n" * 20)
    config = root / "handoff" / "handoff.yaml"
    config.write_text(
        f'workspace_id: "{WORKSPACE_ID}"\nworkspace_root: ".."\nqueue_root: "state"\n'
        "lanes:\n  alpha: first lane\n  beta: second lane\n"
    )
    sha = hashlib.sha256(request.read_bytes()).hexdigest()
    return Workspace(root.resolve(), config.resolve(), request.resolve(), sha, find_cli("agent-lanes"), find_cli("lanes-tui"))


# -- store generator -----------------------------------------------------------------


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # always 6 digits, as the protocol asks


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _event(moment: datetime, kind: str, message: str, data: dict[str, Any]) -> str:
    return json.dumps({"created_at": _ts(moment), "type": kind, "message": message, "data": data}, sort_keys=True) + "\n"


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


@dataclass
class StoreShape:
    n: int
    queued: int
    ids_by_lane: dict[str, list[str]] = field(default_factory=dict)  # queued ids, oldest first


def generate_store(store: Path, n: int, ws: Workspace) -> StoreShape:
    """Write an agent-lanes 0.1.1 store of n tasks: 90% completed, 10% queued (newest), 2 lanes.

    Byte-for-byte what agent-lanes writes (task.json with indent 2 and sorted keys,
    events.jsonl lines with sorted keys, response.json for answered tasks, 0700
    folders and 0600 files), minus the fsyncs and the temp-file renames.
    """
    queued = max(len(LANES), round(n * (1 - COMPLETED_FRACTION)))
    shape = StoreShape(n=n, queued=queued, ids_by_lane={lane: [] for lane in LANES})
    old_umask = os.umask(0o077)
    try:
        store.mkdir(mode=0o700)
        (store / "tasks").mkdir(mode=0o700)
        (store / "indexes" / "correlations").mkdir(mode=0o700, parents=True)
        _write(store / "lock", "")
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
        latest: dict[str, tuple[str, str]] = {}
        for i in range(n):
            lane = LANES[i % len(LANES)]
            created = start + timedelta(milliseconds=250 * i, microseconds=137)
            task_id = f"{created.strftime('%Y%m%dT%H%M%S%fZ')}-{lane}-{ws.request_sha[:12]}"
            done = i < n - queued
            task: dict[str, Any] = {
                "id": task_id,
                "workspace_id": WORKSPACE_ID,
                "correlation_id": lane,
                "source_agent": "orchestrator",
                "lane": lane,
                "workspace_root": str(ws.root),
                "worktree_path": None,
                "expected_branch": None,
                "request_path": str(ws.request),
                "request_sha256": ws.request_sha,
                "supporting_paths": [],
                "response_path": str(ws.root / "reviews" / f"{lane}-{i}.md"),
                "prompt": f"Review request.md (task {i}) and answer with a verdict and the blocking issues.",
                "metadata": {},
                "state": "queued",
                "created_at": _ts(created),
                "updated_at": _ts(created),
                "claim_owner": None,
                "claim_token": None,
                "lease_expires_at": None,
                "claimed_at": None,
                "completed_at": None,
                "failed_at": None,
                "failure_reason": None,
            }
            events = _event(created, "created", "task queued", {"lane": lane})
            folder = store / "tasks" / task_id
            folder.mkdir(mode=0o700)
            if done:
                claimed = created + timedelta(seconds=1)
                answered = created + timedelta(seconds=60)
                task.update(
                    state="completed",
                    claim_owner="worker",
                    claim_token=hashlib.md5(task_id.encode()).hexdigest(),
                    claimed_at=_ts(claimed),
                    lease_expires_at=_ts(claimed + timedelta(seconds=LEASE_SECONDS)),
                    updated_at=_ts(answered),
                    completed_at=_ts(answered),
                )
                response = {
                    "task_id": task_id,
                    "reviewer": "worker",
                    "status": "completed",
                    "body": f"Verdict: accept.\n\nNo blocking issues in task {i}.\n",
                    "reviewed_request_sha256": ws.request_sha,
                    "request_changed_before_response": False,
                    "follow_up_required": False,
                    "verdict": "accept",
                    "blocking_count": 0,
                    "nonblocking_count": 0,
                    "metadata": {},
                    "created_at": _ts(answered),
                }
                _write(folder / "response.json", _dumps(response))
                events += _event(claimed, "claimed", "task claimed", {"owner": "worker"})
                events += _event(answered, "response", "response submitted", {"reviewer": "worker"})
            else:
                shape.ids_by_lane[lane].append(task_id)
            _write(folder / "task.json", _dumps(task))
            _write(folder / "events.jsonl", events)
            latest[lane] = (task_id, _ts(created))
        for lane, (task_id, stamp) in latest.items():
            index = {"workspace_id": WORKSPACE_ID, "correlation_id": lane, "task_id": task_id, "updated_at": stamp}
            _write(store / "indexes" / "correlations" / f"{WORKSPACE_ID}--{lane}.json", _dumps(index))
    finally:
        os.umask(old_umask)
    return shape


def copy_store(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)  # copy2 keeps the 0700/0600 modes
    return dst


# -- subprocess helpers ----------------------------------------------------------------


def run_cli(cmd: list[str], ws: Workspace) -> tuple[float, str]:
    """(wall seconds, stdout) of one CLI run; raises on a non-zero exit."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ws.root, env=CHILD_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[:500]}")
    return elapsed, proc.stdout


def _strip_ages(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if not k.endswith("_age_seconds") and k != "seconds_until_lease_expiry"}


def check_generator(ws: Workspace, scratch: Path) -> None:
    """The generator writes the same keys, file names and modes as agent-lanes itself."""
    real = HandoffStore(scratch / "real")
    task = real.create_task(
        workspace_id=WORKSPACE_ID, correlation_id=LANES[0], source_agent="orchestrator", lane=LANES[0],
        workspace_root=ws.root, worktree_path=None, expected_branch=None, request_path=ws.request,
        response_path=ws.root / "reviews" / "real.md", prompt="real",
    )
    claimed = real.claim_task(task["id"], owner="worker", lease_seconds=LEASE_SECONDS)
    real.submit_response(task["id"], body="ok", reviewer="worker", claim_token=claimed["claim_token"], verdict="accept")
    fake = scratch / "fake"
    generate_store(fake, 20, ws)
    real_dir = real.task_dir(task["id"])
    fake_dir = next(d for d in (fake / "tasks").iterdir() if (d / "response.json").exists())
    for name in ("task.json", "response.json"):
        real_keys = set(json.loads((real_dir / name).read_text()))
        fake_keys = set(json.loads((fake_dir / name).read_text()))
        assert real_keys == fake_keys, f"{name}: generator keys differ by {real_keys ^ fake_keys}"
        text = (fake_dir / name).read_text()
        assert text == _dumps(json.loads(text)), f"{name} is not in agent-lanes' JSON form"
    real_events = [json.loads(line) for line in (real_dir / "events.jsonl").read_text().splitlines()]
    fake_events = [json.loads(line) for line in (fake_dir / "events.jsonl").read_text().splitlines()]
    assert [e["type"] for e in real_events] == [e["type"] for e in fake_events]
    assert all(set(a) == set(b) for a, b in zip(real_events, fake_events))
    assert sorted(p.name for p in real_dir.iterdir()) == sorted(p.name for p in fake_dir.iterdir())
    for path in (fake, fake / "tasks", fake_dir):
        assert path.stat().st_mode & 0o777 == 0o700, path
    for path in (fake / "lock", *fake_dir.iterdir()):
        assert path.stat().st_mode & 0o777 == 0o600, path
    shutil.rmtree(scratch)


def verify_store(store: Path, shape: StoreShape, ws: Workspace) -> None:
    """Both libraries and both CLIs read the generated store the same way."""
    n, queued = shape.n, shape.queued
    al = HandoffStore(store)
    al_tasks = al.list_tasks()
    assert len(al_tasks) == n, f"agent-lanes lists {len(al_tasks)} tasks, expected {n}"
    assert sum(t["state"] == "queued" for t in al_tasks) == queued
    lt = FileBackend(store)
    listing = all_tasks(lt)
    assert not listing.corrupt, f"lanes-tui finds corrupt tasks: {listing.corrupt[:3]}"
    assert [t["id"] for t in listing.tasks] == [t["id"] for t in al_tasks], "task order differs"
    assert listing.tasks == al_tasks, "lanes-tui and agent-lanes parse different task dicts"
    for lane in LANES:
        first = al.next_task(lane)
        assert first is not None and first["id"] == shape.ids_by_lane[lane][0]
        found = lt.next_task(lane, candidates=[t["id"] for t in live_tasks(lt, lane=lane).tasks])
        assert found.task is not None and found.task["id"] == first["id"] and not found.stale
    summaries = []
    for cmd in (ws.al, ws.lt):
        _, out = run_cli(cmd(store, "status", "--all", "--json"), ws)
        payload = json.loads(out)
        assert payload["count"] == n, payload["count"]
        summaries.append(payload["summary"])
    assert summaries[0] == summaries[1], summaries
    assert summaries[0]["queued"] == queued and summaries[0]["completed"] == n - queued, summaries[0]
    for task_id in (al_tasks[0]["id"], shape.ids_by_lane[LANES[0]][0]):
        views = [json.loads(run_cli(cmd(store, "status", task_id, "--json"), ws)[1])["task"] for cmd in (ws.al, ws.lt)]
        assert _strip_ages(views[0]) == _strip_ages(views[1]), f"status {task_id} differs between the tools"


# -- measurements ----------------------------------------------------------------------


@dataclass
class Row:
    number: str
    label: str
    size: int | None  # None: does not depend on the store size
    al: float
    lt: float
    unit: str  # "s" or "%"
    note: str = ""


def median(values: list[float]) -> float:
    return statistics.median(values)


def claim_lanes(count: int) -> list[str]:
    return [LANES[i % len(LANES)] for i in range(count)]


class Claimers:
    """One store copy per tool; every timed claim is released again, untimed, so each
    sample sees the same store (N tasks, 10% queued) and the two copies stay in step."""

    def __init__(self, src: Path, work: Path) -> None:
        self.al_path = copy_store(src, work / "al-copy")
        self.lt_path = copy_store(src, work / "lt-copy")
        self.al = HandoffStore(self.al_path)
        self.lt = FileBackend(self.lt_path)

    def al_release(self, task: dict[str, Any]) -> None:
        self.al.release_claim(task["id"], claim_token=task["claim_token"], reason="bench")

    def lt_release(self, task: dict[str, Any]) -> None:
        self.lt.release(task["id"], claim_token=task["claim_token"], reason="bench")


def bench_claim_library(claimers: Claimers, shape: StoreShape, repeat: int) -> tuple[Row, dict[str, float]]:
    al_store, lt_store = claimers.al, claimers.lt

    def al_claim(lane: str) -> dict[str, Any]:
        task = al_store.next_task(lane)
        assert task is not None
        return al_store.claim_task(task["id"], owner=OWNER, lease_seconds=LEASE_SECONDS)

    # A long-running lanes-tui process (supervisor, dashboard) keeps a TaskIndex current
    # from the change feed; building it is start-up cost, paid once, like agent-lanes' import.
    index = TaskIndex(lt_store)
    index.rescan()

    def lt_claim(lane: str) -> dict[str, Any]:
        result = index.claim_next(lane, owner=OWNER, lease_seconds=LEASE_SECONDS)
        assert result.task is not None and result.claim_token
        return result.task

    al_t: list[float] = []
    lt_t: list[float] = []
    extra: dict[str, float] = {}
    # The first claim on each copy is reported apart: lanes-tui has no terminal-id cache yet.
    for i, lane in enumerate(claim_lanes(repeat + 1)):
        t0 = time.perf_counter()
        a = al_claim(lane)
        t1 = time.perf_counter()
        b = lt_claim(lane)
        t2 = time.perf_counter()
        assert a["id"] == b["id"] == shape.ids_by_lane[lane][0], f"claimed {a['id']} / {b['id']}"
        claimers.al_release(a)
        claimers.lt_release(b)
        index.refresh([b["id"]])  # what the change feed delivers to a running process
        if i == 0:
            extra = {"al_first": t1 - t0, "lt_first": t2 - t1}
        else:
            al_t.append(t1 - t0)
            lt_t.append(t2 - t1)
    return Row("1", "claim-next in a long-running process (lanes-tui: in-memory index)", shape.n,
               median(al_t), median(lt_t), "s"), extra


def bench_claim_cli(claimers: Claimers, shape: StoreShape, repeat: int, ws: Workspace) -> Row:
    al_store, lt_store = claimers.al_path, claimers.lt_path
    # Warm-up without claiming (OS caches; lanes-tui's terminal-id cache already exists from row 1).
    run_cli(ws.al(al_store, "next", "--lane", LANES[0], "--timeout", "0", "--json"), ws)
    run_cli(ws.lt(lt_store, "next", "--lane", LANES[0], "--timeout", "0", "--json"), ws)
    al_t: list[float] = []
    lt_t: list[float] = []
    for lane in claim_lanes(repeat):
        t_next, out = run_cli(ws.al(al_store, "next", "--lane", lane, "--timeout", "0", "--json"), ws)
        task_id = json.loads(out)["task"]["id"]
        t_claim, out = run_cli(
            ws.al(al_store, "claim", task_id, "--owner", OWNER, "--lease-seconds", str(LEASE_SECONDS), "--json"), ws
        )
        al_claimed = json.loads(out)
        assert al_claimed["status"] == "claimed"
        al_t.append(t_next + t_claim)
        t_lt, out = run_cli(
            ws.lt(lt_store, "next", "--lane", lane, "--timeout", "0", "--claim", "--owner", OWNER,
                  "--lease-seconds", str(LEASE_SECONDS), "--json"),
            ws,
        )
        payload = json.loads(out)
        assert payload["status"] == "claimed" and payload["task_id"] == task_id, (payload.get("task_id"), task_id)
        lt_t.append(t_lt)
        claimers.al_release(al_claimed["task"])
        claimers.lt_release(payload["task"])
    return Row("2", "claim-next via CLI (agent-lanes: `next` + `claim`; lanes-tui: `next --claim`)", shape.n,
               median(al_t), median(lt_t), "s")


def bench_read_cli(store: Path, shape: StoreShape, repeat: int, ws: Workspace, number: str, args: list[str]) -> Row:
    for cmd in (ws.al, ws.lt):  # warm-up
        run_cli(cmd(store, *args), ws)
    al_t: list[float] = []
    lt_t: list[float] = []
    for _ in range(repeat):
        for cmd, sink in ((ws.al, al_t), (ws.lt, lt_t)):
            elapsed, out = run_cli(cmd(store, *args), ws)
            assert json.loads(out)["count"] == shape.n
            sink.append(elapsed)
    return Row(number, f"`{' '.join(args)}` via CLI", shape.n, median(al_t), median(lt_t), "s")


def bench_startup(repeat: int, ws: Workspace) -> Row:
    al_t: list[float] = []
    lt_t: list[float] = []
    for i in range(repeat + 1):
        for cli, sink in ((ws.al_cli, al_t), (ws.lt_cli, lt_t)):
            elapsed, out = run_cli([cli, "--help"], ws)
            assert "usage:" in out
            if i:  # first round is a warm-up
                sink.append(elapsed)
    return Row("5", "CLI start-up (`--help`)", None, median(al_t), median(lt_t), "s")


def _proc_cpu(pid: int) -> tuple[float, dict[int, int]]:
    """(utime+stime of the whole process in seconds, {thread id: on-CPU ns})."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    threads: dict[int, int] = {}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as handle:
                threads[int(tid)] = int(handle.read().split()[0])
    except OSError:
        threads = {}
    return ticks / os.sysconf("SC_CLK_TCK"), threads


def _start(cmd: list[str], ws: Workspace) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, cwd=ws.root, env=CHILD_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    proc.communicate()


def idle_cpu(cmd_for: Callable[..., list[str]], store: Path, ws: Workspace, settle: float, window: float) -> float:
    """Share of one core used by an idle `wait --lane` during `window` seconds after `settle`."""
    timeout = settle + window + 2.0
    proc = _start(cmd_for(store, "wait", "--lane", IDLE_LANE, "--timeout", f"{timeout:g}", "--quiet"), ws)
    try:
        time.sleep(settle)
        if proc.poll() is not None:
            raise RuntimeError(f"idle waiter exited early: {proc.communicate()[1][-500:]!r}")
        w0, (s0, th0) = time.monotonic(), _proc_cpu(proc.pid)
        time.sleep(window)
        w1, (s1, th1) = time.monotonic(), _proc_cpu(proc.pid)
        if proc.poll() is not None:
            raise RuntimeError("idle waiter exited before the end of the window")
    finally:
        _stop(proc)
    if th0 and set(th0) == set(th1):  # same threads: nanosecond-precise schedstat
        used = sum(th1[t] - th0[t] for t in th1) / 1e9
    else:  # a thread came or went: fall back to clock ticks (10 ms resolution)
        used = s1 - s0
    return 100.0 * used / (w1 - w0)


def bench_idle(store: Path, shape: StoreShape, ws: Workspace, settle: float, window: float) -> Row:
    al = idle_cpu(ws.al, store, ws, settle, window)
    lt = idle_cpu(ws.lt, store, ws, settle, window)
    return Row("6", f"idle `wait --lane <empty> --quiet`: CPU over a {window:g} s window (% of one core)",
               shape.n, al, lt, "%")


def bench_latency(store: Path, shape: StoreShape, repeat: int, ws: Workspace, settle: float) -> tuple[Row, dict[str, list[float]]]:
    """Time from just before create_task to the blocked waiter's JSON on stdout (process exit)."""
    submitter = HandoffStore(store)  # one submitter for both tools: the same write pattern for both
    results: dict[str, list[float]] = {"al": [], "lt": [], "create": [], "al_exit": [], "lt_exit": []}
    for k in range(repeat):
        for name, cmd_for in (("al", ws.al), ("lt", ws.lt)):
            lane = f"latency-{name}-{k}"  # a fresh lane: no task from an earlier sample is waiting
            proc = _start(cmd_for(store, "wait", "--lane", lane, "--timeout", "60", "--json", "--quiet"), ws)
            try:
                time.sleep(settle)
                if proc.poll() is not None:
                    raise RuntimeError(f"waiter exited early: {proc.communicate()[1][-500:]!r}")
                t0 = time.perf_counter()
                task = submitter.create_task(
                    workspace_id=WORKSPACE_ID, correlation_id=lane, source_agent="bench", lane=lane,
                    workspace_root=ws.root, worktree_path=None, expected_branch=None,
                    request_path=ws.request, response_path=ws.root / "reviews" / f"{lane}.md",
                    prompt="latency probe",
                )
                results["create"].append(time.perf_counter() - t0)
                assert proc.stdout is not None
                out = proc.stdout.read()  # until end-of-file: the whole answer is in the reader's hands
                t1 = time.perf_counter()
                err = proc.communicate(timeout=90)[1]
                results[f"{name}_exit"].append(time.perf_counter() - t0)
            finally:
                _stop(proc)
            payload = json.loads(out)
            if payload.get("status") != "task_available" or payload["task"]["id"] != task["id"]:
                raise RuntimeError(f"{name} waiter returned {payload.get('status')}: {err[-300:]!r}")
            results[name].append(t1 - t0)
    row = Row("7", "submit -> blocked `wait --lane L --json` delivers the task (end of its output)", shape.n,
              median(results["al"]), median(results["lt"]), "s",
              note=f"process exited: agent-lanes {fmt_value(median(results['al_exit']), 's')}, "
                   f"lanes-tui {fmt_value(median(results['lt_exit']), 's')}")
    return row, results


# -- output ----------------------------------------------------------------------------------


def fmt_value(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.1f} %" if value >= 0.1 else f"{value:.2f} %"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 0.01:
        return f"{value * 1000:.0f} ms"
    return f"{value * 1000:.1f} ms"


def fmt_ratio(al: float, lt: float) -> str:
    if lt <= 0:
        return "n/a"
    ratio = al / lt
    return f"{ratio:.0f}x" if ratio >= 100 else f"{ratio:.1f}x" if ratio >= 10 else f"{ratio:.2f}x"


def render(rows: list[Row], header: str, notes: list[str]) -> str:
    order = {r.number: i for i, r in enumerate(rows)}
    rows = sorted(rows, key=lambda r: (int(r.number), r.size or 0, order[r.number]))
    lines = [
        header,
        "",
        "| # | Measurement (median) | Tasks in store | agent-lanes 0.1.1 | lanes-tui | agent-lanes / lanes-tui |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        size = f"{r.size:,}" if r.size is not None else "-"
        lines.append(
            f"| {r.number} | {r.label} | {size} | {fmt_value(r.al, r.unit)} | {fmt_value(r.lt, r.unit)} | "
            f"{fmt_ratio(r.al, r.lt)} |"
        )
    notes = notes + [
        f"Row {r.number} at {r.size:,} tasks: {r.note}." if r.size is not None else f"Row {r.number}: {r.note}."
        for r in rows
        if r.note
    ]
    if notes:
        lines.append("")
        lines.extend(f"- {note}" for note in notes)
    return "\n".join(lines) + "\n"


# -- main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", help="comma-separated store sizes (default 100,1000,10000; --quick: 100,1000)")
    parser.add_argument("--repeat", type=int, help="samples per measurement (default 5; --quick: 2)")
    parser.add_argument("--quick", action="store_true", help="fast smoke mode: small sizes, few samples, short windows")
    parser.add_argument("--markdown-out", type=Path, help="also write the table to this file")
    parser.add_argument("--idle-window", type=float, help="seconds of idle-wait CPU sampling (default 10; --quick: 3)")
    parser.add_argument("--tmpdir", help="where to create the temporary stores (default: the system temp dir)")
    parser.add_argument("--rows", help="comma-separated row numbers to measure (default: all, 1-7)")
    args = parser.parse_args(argv)
    try:
        args.rows = {int(r) for r in args.rows.split(",")} if args.rows else set(range(1, 8))
    except ValueError:
        parser.error(f"--rows: expected comma-separated row numbers, got {args.rows!r}")
    sizes = args.sizes or ("100,1000" if args.quick else "100,1000,10000")
    try:
        args.sizes = [int(s.replace("_", "")) for s in sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes: expected comma-separated whole numbers, got {sizes!r}")
    if not args.sizes or min(args.sizes) < 20:
        parser.error("--sizes: every size must be at least 20 tasks")
    args.repeat = args.repeat or (2 if args.quick else 5)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.idle_window = args.idle_window or (3.0 if args.quick else 10.0)
    args.settle = 0.7 if args.quick else 1.5
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    base = Path(tempfile.mkdtemp(prefix="lanes-bench-", dir=args.tmpdir))
    rows: list[Row] = []
    notes: list[str] = []
    first_claims: dict[int, dict[str, float]] = {}
    latency_samples: dict[int, dict[str, list[float]]] = {}
    try:
        CHILD_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        CHILD_ENV.pop("LANES_TUI_DEBUG", None)
        CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
        ws = make_workspace(base)
        log(f"workspace and stores under {base}")
        check_generator(ws, base / "format-check")
        log("generator output matches a store written by agent-lanes itself (keys, files, modes)")
        if 5 in args.rows:
            rows.append(bench_startup(max(args.repeat, 10), ws))
        for n in args.sizes:
            work = base / f"n{n}"
            work.mkdir()
            t0 = time.monotonic()
            shared = work / "shared"
            shape = generate_store(shared, n, ws)
            log(f"n={n:,}: generated {n:,} tasks ({shape.queued} queued) in {time.monotonic() - t0:.1f} s")
            claimers = Claimers(shared, work)  # copied before anything (lanes-tui's cache) touches `shared`
            log(f"n={n:,}: copied for both tools")
            verify_store(shared, shape, ws)
            log(f"n={n:,}: store verified with both libraries and both CLIs")

            if 1 in args.rows:
                row, first_claims[n] = bench_claim_library(claimers, shape, args.repeat)
                rows.append(row)
                log(f"n={n:,}: claim-next library done")
            if 2 in args.rows:
                rows.append(bench_claim_cli(claimers, shape, args.repeat, ws))
                log(f"n={n:,}: claim-next CLI done")
            # `shared` is unchanged by the claims: read-only rows, then the idle and latency waits.
            if 3 in args.rows:
                rows.append(bench_read_cli(shared, shape, args.repeat, ws, "3", ["list", "--json"]))
                log(f"n={n:,}: list done")
            if 4 in args.rows:
                rows.append(bench_read_cli(shared, shape, args.repeat, ws, "4", ["status", "--all", "--json"]))
                log(f"n={n:,}: status --all done")
            if 6 in args.rows:
                rows.append(bench_idle(shared, shape, ws, args.settle, args.idle_window))
                log(f"n={n:,}: idle CPU done")
            if 7 in args.rows:
                row, latency_samples[n] = bench_latency(shared, shape, args.repeat, ws, args.settle)
                rows.append(row)
                log(f"n={n:,}: latency done")
            shutil.rmtree(work)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    header = machine_line(Path(args.tmpdir or tempfile.gettempdir()))
    header += f". Run: sizes {', '.join(f'{n:,}' for n in args.sizes)}, {args.repeat} samples per cell, " \
              f"total {time.monotonic() - started:.0f} s; 1-minute load average {load_before:.2f} at the start, " \
              f"{os.getloadavg()[0]:.2f} at the end."
    notes.append(
        "Stores: 90% completed, 10% queued (the newest), 2 lanes; both tools read byte-identical copies "
        "(generated in agent-lanes' format, checked with both libraries and CLIs before timing); page cache warm."
    )
    if first_claims:
        notes.append(
            "Row 1 excludes the first claim on each copy. lanes-tui's index is built once before it (a full "
            "read of the store, what a supervisor does at start-up); the first claim took: "
            + "; ".join(
                f"{n:,} tasks: agent-lanes {fmt_value(v['al_first'], 's')}, lanes-tui {fmt_value(v['lt_first'], 's')}"
                for n, v in first_claims.items()
            )
            + "."
        )
    notes.append(
        "Rows 2-5 are wall-clock times of whole CLI processes (console scripts, warm bytecode caches for both), "
        "output read through a pipe; one warm-up run each is not counted. Row 2 for agent-lanes is two processes (`next --timeout 0`, then "
        "`claim`)."
    )
    notes.append(
        f"Row 6: `wait --lane {IDLE_LANE} --timeout {args.settle + args.idle_window + 2:g} --quiet`; CPU "
        f"(utime+stime of all threads) sampled from /proc {args.settle:g} s after start, over {args.idle_window:g} s, "
        "so start-up is excluded."
    )
    notes.append(
        f"Row 7: waiter started, {args.settle:g} s to settle, then one agent-lanes `create_task` (the same "
        "submitter for both tools) on a fresh lane; time from just before create_task until the waiter's JSON "
        "is read and the process has exited. Samples (s): "
        + "; ".join(
            f"{n:,}: agent-lanes {', '.join(f'{x:.3f}' for x in s['al'])} / lanes-tui "
            f"{', '.join(f'{x:.3f}' for x in s['lt'])}"
            for n, s in latency_samples.items()
        )
        + ". create_task itself (included) took a median of "
        + ", ".join(f"{fmt_value(median(s['create']), 's')} at {n:,}" for n, s in latency_samples.items())
        + " (fsyncs on this disk)."
    )
    table = render(rows, header, notes)
    bench_common.publish(table, args.markdown_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
