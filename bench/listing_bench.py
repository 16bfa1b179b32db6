#!/usr/bin/env python3
"""Is the file store's listing cache worth keeping? `list --json` four ways, same store, same run.

    python bench/listing_bench.py [--sizes 1000,10000] [--repeat 7]

On a generated store (90% finished, queue_bench's generator, checked against agent-lanes'
own output) each size runs, as one-shot processes with warm bytecode, output to a file:

  agent-lanes   `agent-lanes list --json` (what a user would otherwise run)
  no cache      lanes-tui's lock-free scan (storage/files/scan.all_tasks), every view built
                and encoded (core.views + core.jsonout), nothing read or written besides
  cold cache    `lanes-tui list --json` with `<store>/.lanes-tui/views*` deleted before each
                run: builds every view, then writes the cache
  warm cache    `lanes-tui list --json` with the cache current (the usual case)

All four outputs are compared (byte for byte, ages aside) before anything is timed. Cells
are medians; the table goes to stdout as Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from queue_bench import CHILD_ENV, generate_store, make_workspace  # noqa: E402

NO_CACHE = """
import sys
from lanes_tui.core import jsonout
from lanes_tui.storage.files.backend import FileBackend
from lanes_tui.core.views import task_view
from lanes_tui.storage.files.scan import all_tasks
store = FileBackend(sys.argv[1], create=False)
now = store.now()
views = [task_view(t, response_exists=store.response_exists(t["id"]), last_event=store.last_event(t["id"]), now=now)
         for t in all_tasks(store).tasks]
sys.stdout.write(jsonout.dumps({"count": len(views), "status": "ok", "tasks": views}) + "\\n")
"""
AGE = re.compile(rb'"last_event_age_seconds": -?\d+')


def run(cmd: list[str], out_path: Path) -> float:
    with open(out_path, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, env=CHILD_ENV)
        elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def drop_cache(store: Path) -> None:
    for name in ("views", "views.blob"):
        (store / ".lanes-tui" / name).unlink(missing_ok=True)


def measure(store: Path, ws, repeat: int, scratch: Path) -> dict[str, float]:
    commands = {
        "agent-lanes": ws.al(store, "list", "--json"),
        "no cache": [sys.executable, "-c", NO_CACHE, str(store)],
        "cold cache": ws.lt(store, "list", "--json"),
        "warm cache": ws.lt(store, "list", "--json"),
    }
    outputs = {}
    for name, cmd in commands.items():  # one untimed round: warm-up and the output check
        if name == "cold cache":
            drop_cache(store)
        run(cmd, scratch / "out.json")
        outputs[name] = AGE.sub(b"AGE", (scratch / "out.json").read_bytes())
    reference = outputs["agent-lanes"]
    for name, text in outputs.items():
        if text != reference:
            raise SystemExit(f"{name}: output differs from agent-lanes' ({len(text)} vs {len(reference)} bytes)")
    json.loads(reference.replace(b"AGE", b'"last_event_age_seconds": 0'))
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, cmd in commands.items():  # interleaved: load changes hit every column alike
            if name == "cold cache":
                drop_cache(store)
            elif name == "warm cache":
                run(cmd, scratch / "out.json")  # the cold run before left the cache current; make sure
            times[name].append(run(cmd, scratch / "out.json"))
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    base = Path(tempfile.mkdtemp(prefix="lanes-listing-bench-"))
    CHILD_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
    load = os.getloadavg()[0]
    try:
        ws = make_workspace(base)
        rows = []
        for n in sizes:
            store = base / f"store-{n}"
            generate_store(store, n, ws)
            result = measure(store, ws, args.repeat, base)
            rows.append((n, result))
            print(f"n={n:,}: {', '.join(f'{k} {v * 1000:.0f} ms' for k, v in result.items())}", file=sys.stderr)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"`list --json`, median of {args.repeat} runs per cell (load {load:.1f} at the start)\n")
    print("| tasks | agent-lanes | lanes-tui, no cache | lanes-tui, cold cache | lanes-tui, warm cache |")
    print("|---:|---:|---:|---:|---:|")
    for n, r in rows:
        print(f"| {n:,} | {r['agent-lanes'] * 1000:.0f} ms | {r['no cache'] * 1000:.0f} ms "
              f"| {r['cold cache'] * 1000:.0f} ms | {r['warm cache'] * 1000:.0f} ms |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
