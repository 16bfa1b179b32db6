#!/usr/bin/env python3
"""Claims on a shared queue: the PostgreSQL backend against the file store, in the same run.

Two figures, each for both backends on this machine:

  * claims per second: N queued tasks, then 1, 4 and 8 claimer processes (what supervisors
    on several hosts do) each running `next --claim` until the lane is empty; N / wall time.
    Every task must be claimed exactly once (checked).
  * submit -> claim: one claimer waits on the backend's change feed (LISTEN/NOTIFY;
    inotify for the file store); the bench submits a task and the claimer claims it as soon as
    it hears of it; the time from before `create_task` to after the claim, on one clock.
    Target (issue 14): under 20 ms median on PostgreSQL.

The PostgreSQL server is a real one started for the run on a Unix socket in a temporary
folder (tests/helpers/postgres.py), fsync off as in the tests: the figures are the backend's
and the protocol's, not a disk's. The same rows are measured across an imitated network
(`--rtt-ms`: every byte relayed half the round trip later each way, bench/latency_proxy.py;
the server may listen on no TCP port) and through a real PgBouncer in transaction mode with
`lanes_pooler=transaction` (where wake-ups come from polling, every 2 s), when pgbouncer is
installed.

    python bench/claims_bench.py                    # 400 tasks, 30 latency samples (a few minutes)
    python bench/claims_bench.py --tasks 100 --samples 5 --rtt-ms 1   # smoke run
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))

from bench_common import log, machine_line, publish  # noqa: E402
from helpers.pgbouncer import PgBouncer, pgbouncer_bin  # noqa: E402
from helpers.postgres import PostgresServer, unavailable  # noqa: E402
from latency_proxy import LatencyProxy  # noqa: E402

from lanes_tui.storage import open_store  # noqa: E402

CLAIMERS = (1, 4, 8)


def workspace(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True)
    request = root / "request.md"
    request.write_text("# request\n", encoding="utf-8")
    return {"root": root, "request": request, "store": root / "state"}


def submit(store, ws: dict[str, Path], name: str) -> str:
    return store.create_task(workspace_id="bench", correlation_id=name, source_agent="bench", lane="default",
                             workspace_root=ws["root"], request_path=ws["request"],
                             response_path=ws["root"] / "out.md", prompt="p")["id"]


def claim_all(location: str, owner: str, start, results) -> None:
    store = open_store(location)
    start.wait()
    got = []
    while True:
        found = store.next_task("default", candidates=store.lane_candidates("default"), claim_owner=owner,
                                lease_seconds=600)
        if found.task is None:
            break
        got.append(found.task["id"])
    results.put(got)


def claims_per_second(location: str, ws: dict[str, Path], tasks: int, claimers: int) -> float:
    store = open_store(location)
    submitted = {submit(store, ws, f"c{claimers}-{i}") for i in range(tasks)}
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=claim_all, args=(location, f"claimer-{i}", start, results)) for i in range(claimers)]
    for proc in procs:
        proc.start()
    time.sleep(1.0)  # let every claimer open the store; only the claiming itself is timed
    began = time.monotonic()
    start.set()
    claimed = [task_id for _ in procs for task_id in results.get(timeout=600)]
    elapsed = time.monotonic() - began
    for proc in procs:
        proc.join(60)
    assert sorted(claimed) == sorted(submitted), "a task was claimed twice or not at all"
    return tasks / elapsed


def wait_and_claim(location: str, ready, results, samples: int) -> None:
    store = open_store(location)
    with store.watch((), new_tasks=True) as watch:
        ready.set()
        for _ in range(samples):
            while True:
                found = store.next_task("default", candidates=store.lane_candidates("default"),
                                        claim_owner="waiter", lease_seconds=600)
                if found.task is not None:
                    results.put(time.time())
                    break
                watch.wait(10.0)


def submit_to_claim(location: str, ws: dict[str, Path], samples: int) -> list[float]:
    ctx = multiprocessing.get_context("spawn")
    ready, results = ctx.Event(), ctx.Queue()
    waiter = ctx.Process(target=wait_and_claim, args=(location, ready, results, samples))
    waiter.start()
    assert ready.wait(60)
    store = open_store(location)
    latencies = []
    for i in range(samples):
        time.sleep(0.2)  # the waiter is back in its wait (spacing the samples, not synchronising)
        submitted = time.time()
        submit(store, ws, f"l{i}")
        latencies.append(results.get(timeout=60) - submitted)
    waiter.join(60)
    return latencies


def round_trip(location: str) -> float | None:
    """The median time of `SELECT 1` on one connection: what one round trip costs there."""
    if not location.startswith("postgresql://"):
        return None
    import psycopg

    from lanes_tui.storage.postgres.database import split_options

    with psycopg.connect(split_options(location)[0], autocommit=True) as conn:
        times = []
        for _ in range(50):
            began = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=400)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--rtt-ms", default="1,5", help="round trips to imitate, comma-separated ('' for none)")
    parser.add_argument("--markdown-out", type=Path)
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        sys.exit(f"claims_bench: {reason}")
    rtts = [float(value) for value in args.rtt_ms.split(",") if value.strip()]
    server = PostgresServer()
    proxies = [LatencyProxy(server.socket_dir / ".s.PGSQL.5432", rtt / 1000) for rtt in rtts]
    bouncer = PgBouncer(server, pool_size=20) if pgbouncer_bin() else None  # PgBouncer's default
    rows: dict[str, dict[str, object]] = {}

    def database_name(url: str) -> str:
        return url.split("///", 1)[1].split("?", 1)[0]

    places: dict[str, object] = {"file store": None, "postgres": lambda: server.database()}
    for rtt, proxy in zip(rtts, proxies):
        places[f"postgres, +{rtt:g} ms round trip"] = lambda proxy=proxy: proxy.url(server.database())
    if bouncer is not None:
        places["postgres via PgBouncer (transaction mode)"] = (
            lambda: bouncer.url(database_name(server.database())) + "&lanes_pooler=transaction")
    try:
        with tempfile.TemporaryDirectory(prefix="lanes-claims-bench-") as name:
            tmp = Path(name)
            for backend, database in places.items():
                rows[backend] = {}
                slug = "".join(c if c.isalnum() else "-" for c in backend)
                for claimers in CLAIMERS:
                    ws = workspace(tmp / f"{slug}-{claimers}")
                    location = str(ws["store"]) if database is None else database()  # type: ignore[operator]
                    log(f"{backend}: {args.tasks} tasks, {claimers} claimer(s)")
                    rows[backend][f"{claimers}"] = claims_per_second(location, ws, args.tasks, claimers)
                ws = workspace(tmp / f"{slug}-latency")
                location = str(ws["store"]) if database is None else database()  # type: ignore[operator]
                rows[backend]["rtt"] = round_trip(location)
                log(f"{backend}: submit -> claim, {args.samples} samples")
                rows[backend]["latency"] = submit_to_claim(location, ws, args.samples)
            lines = [machine_line(tmp, packages=("psycopg",)), "",
                     f"{args.tasks} tasks per claims row; {args.samples} submit -> claim samples; PostgreSQL "
                     "on a Unix socket, fsync off; a round trip imitated by a relay that delays every byte "
                     "half of it each way.", "",
                     "| backend | `SELECT 1` | claims/s, 1 claimer | 4 claimers | 8 claimers "
                     "| submit -> claim (median, p90) |",
                     "|---|---:|---:|---:|---:|---:|"]
            for backend, row in rows.items():
                latency = sorted(row["latency"])  # type: ignore[arg-type]
                p90 = latency[int(len(latency) * 0.9) - 1] if len(latency) >= 10 else latency[-1]
                rtt = "-" if row["rtt"] is None else f"{row['rtt'] * 1000:.2f} ms"  # type: ignore[operator]
                lines.append(f"| {backend} | {rtt} | {row['1']:.0f} | {row['4']:.0f} | {row['8']:.0f} "
                             f"| {statistics.median(latency) * 1000:.1f} ms, {p90 * 1000:.1f} ms |")
            publish("\n".join(lines) + "\n", args.markdown_out)
            print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk not in ("latency", "rtt")}
                              for k, v in rows.items()}),
                  file=sys.stderr)
    finally:
        for proxy in proxies:
            proxy.close()
        if bouncer is not None:
            bouncer.stop()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
