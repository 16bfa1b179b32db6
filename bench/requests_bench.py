"""Needs input, end to end, at 10,000 tasks (issue 13): how long a request takes to show in the
dashboard, and how long an answer takes to reach the agent waiting in `ask_operator`.

1. Written -> shown: the real `lanes-tui --watch-only` in a pty (120x40) on a store of 10,000
   tasks (bench/queue_bench.py's generator) with one task claimed. The benchmark opens a
   question for that task, as `lanes-tui mcp` does, and times until the header shows the new
   count (`N need input`, the screen's text with escape sequences stripped, bench/ui_bench.py's
   reader). The requests stay open, so each sample waits for a count the screen never showed.
2. Answer -> the tool returns: a real `lanes-tui mcp` server on stdio (the `mcp` package's own
   client), bound to that task, called with `ask_operator` while the dashboard runs; once the
   question is on disk the benchmark answers it (RequestBook.answer, what `lanes-tui answer`
   and the dashboard's `i` call) and times until the tool call's result arrives in the client:
   what the agent's CLI then hands to the model.

agent-lanes has no requests for a person, so there is no column to compare against: the
figures stand against the issue's targets (200 ms each).

    python bench/requests_bench.py              # 10,000 tasks, 10 samples of each (~1 min)
    python bench/requests_bench.py --tasks 1000 --samples 5

Progress goes to stderr; the table (markdown) goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for folder in (REPO, BENCH):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import bench_common  # noqa: E402
import ui_bench  # noqa: E402  (the pty reader and the dashboard's settings)
from queue_bench import generate_store, log, machine_line, make_workspace  # noqa: E402

from lanes_tui.core.requests import QUESTION  # noqa: E402
from lanes_tui.storage.files.backend import FileBackend  # noqa: E402

TARGET = 0.200
AGENT = "bench/asker"


def shown_latencies(proc: ui_bench.PtyProcess, store: FileBackend, task_id: str, samples: int) -> list[float]:
    found = []
    for k in range(1, samples + 1):
        item = proc.watch(rf"(?<!\d){k} need input", proc.mark())
        t0 = time.perf_counter()
        store.requests().open(kind=QUESTION, agent=AGENT, text=f"bench question {k}?", task_id=task_id,
                              lane="alpha", timeout_seconds=3600, pid=os.getpid())
        proc.wait(item, 30, f"request {k} shown")
        found.append(item.at - t0)
        time.sleep(0.35)  # the next one at another phase of the dashboard's 1 s clock
    return found


async def answer_latencies(ws, store: FileBackend, task_id: str, samples: int, env: dict[str, str]) -> list[float]:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, cwd=str(ws.root), env=env,
                                   args=["-m", "lanes_tui", "--config", str(ws.config), "mcp", f"--as={AGENT}",
                                         f"--task={task_id}"])
    found = []
    async with Client(params) as client:
        for k in range(samples):
            before = {r.id for r in store.requests().pending()}
            call = asyncio.ensure_future(client.call_tool("ask_operator", {"question": f"answer me {k}"}))
            watch = store.record_watch("requests")
            try:
                while not (new := [r for r in store.requests().pending() if r.id not in before]):
                    await asyncio.to_thread(watch.wait, 5.0)
            finally:
                watch.close()
            t0 = time.perf_counter()
            store.requests().answer(new[0].id, decision="reply", reply=f"yes {k}", by="operator:bench")
            result = await asyncio.wait_for(call, 30)
            found.append(time.perf_counter() - t0)
            payload = json.loads(result.content[0].text)
            if payload.get("answer") != f"yes {k}":
                raise RuntimeError(f"ask_operator returned {payload!r}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--markdown-out", type=Path)
    parser.add_argument("--tmpdir")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="lanes-requests-bench-", dir=args.tmpdir))
    started = time.monotonic()
    try:
        env = ui_bench.child_env(base)
        ws = make_workspace(base)
        ui_bench.write_settings(ws)
        store_root = ws.config.parent / "state"
        shape = generate_store(store_root, args.tasks, ws)
        store = FileBackend(store_root)
        task_id = shape.ids_by_lane["alpha"][0]
        store.claim(task_id, owner="bench-agent", lease_seconds=3600)
        log(f"generated {args.tasks:,} tasks under {base}")
        proc = ui_bench.PtyProcess([ws.lt_cli, "--config", "handoff/handoff.yaml", "--watch-only"], ws.root, env,
                                   40, 120)
        try:
            proc.wait(proc.watch(r"completed\s+[1-9]", 0), 120, "first frame")
            time.sleep(2)  # past the start-up work (answers' facts, attempt counts) that follows the first frame
            shown = shown_latencies(proc, store, task_id, args.samples)
            log("shown (ms): " + ", ".join(f"{s * 1000:.0f}" for s in shown))
            answered = asyncio.run(answer_latencies(ws, store, task_id, args.samples, env))
            log("answered (ms): " + ", ".join(f"{s * 1000:.0f}" for s in answered))
        finally:
            proc.stop(b"q")
    finally:
        shutil.rmtree(base, ignore_errors=True)

    def med(values: list[float]) -> str:
        return f"{sorted(values)[len(values) // 2] * 1000:.0f} ms"

    def met(values: list[float]) -> str:
        return "yes" if sorted(values)[len(values) // 2] < TARGET else "**no**"

    header = machine_line(Path(args.tmpdir or tempfile.gettempdir()), packages=())
    header += (f". Run {time.strftime('%Y-%m-%d %H:%M %Z')}: {args.tasks:,} tasks, {args.samples} samples each, "
               f"total {time.monotonic() - started:.0f} s; load average {os.getloadavg()[0]:.2f} at the end.")
    table = "\n".join([
        header, "",
        "| Measurement (median) | Tasks | lanes-tui | max | Target | Met? |",
        "|---|---:|---:|---:|---|---|",
        f"| request written -> the dashboard's header counts it (`--watch-only`, pty) | {args.tasks:,} | {med(shown)} "
        f"| {max(shown) * 1000:.0f} ms | < 200 ms | {met(shown)} |",
        f"| answer written -> `ask_operator` returns to the MCP client | {args.tasks:,} | {med(answered)} "
        f"| {max(answered) * 1000:.0f} ms | < 200 ms | {met(answered)} |",
        "",
        "- Samples (ms): shown " + ", ".join(f"{s * 1000:.0f}" for s in shown) + "; answered "
        + ", ".join(f"{s * 1000:.0f}" for s in answered) + ".",
    ])
    bench_common.publish(table, args.markdown_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
