#!/usr/bin/env python3
"""Supervisor overhead with the real agent CLIs: `lanes-tui --no-ui` against running the CLI directly.

The same real CLI (tests/realcli/clis, the pinned versions), the same
prompt on stdin, the same argv (built by lanes-tui's own vendor tables) and
the same model-API stand-in, in the same run, each inside its own
loopback-only network namespace (tests/realcli/sandbox.py):

  * direct: the CLI run N times in a row, as a script would run it;
  * supervised: N tasks drained by one `lanes-tui --no-ui --drain`, one
    worker at a time, so each task is one CLI run plus what lanes-tui adds
    (claim, guard process, stream parsing, lease, answer, events).

The two alternate in rounds (direct block, supervised block, ...) so that a
slower minute of the machine hits both. Per-task overhead = supervised time per
task (from one task's start to the next's, the supervisor's start-up excluded)
minus the direct time per run, as a share of the direct time, with the 95%
interval of that difference (the runs of a CLI vary by a tenth on a shared
2-CPU machine, which is as much as what is measured); the time between one
task's end and the next one's start (claim, events, spawning) is shown apart.
The target (issue 9) is under 5%.

    python bench/realcli_bench.py                 # 6 rounds of 11 runs per vendor (about 5 minutes)
    python bench/realcli_bench.py --rounds 1 --runs 5   # smoke run
    python bench/realcli_bench.py --markdown-out table.md

Needs root (for the namespaces) and the CLIs: `npm ci --prefix tests/realcli/clis`.
Progress goes to stderr; the table (markdown) goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))

from bench_common import log, machine_line, publish  # noqa: E402
from realcli.harness import RealAgents, cli_bin, cli_version, unavailable  # noqa: E402

from lanes_tui.settings import load_settings  # noqa: E402
from lanes_tui.storage.files.backend import FileBackend  # noqa: E402
from lanes_tui.vendors.argv import build_command  # noqa: E402
from lanes_tui.vendors.prompting import build_input  # noqa: E402

PROMPT = "Review the change in the request and answer in two lines."
SCENARIOS = {
    "claude": {"anthropic": [{"text": "Looks right.\nOne nit: rename x.", "usage": {"input_tokens": 900, "output_tokens": 60}}]},
    "codex": {"openai": [{"text": "Looks right.\nOne nit: rename x.", "usage": {"input_tokens": 900, "output_tokens": 60}}]},
}


class Workspace:
    """Just enough of tests/conftest.py's workspace for RealAgents: a handoff.yaml and a store."""

    def __init__(self, root: Path) -> None:
        self.root = root / "ws"
        (self.root / "handoff").mkdir(parents=True)
        self.config = self.root / "handoff" / "handoff.yaml"
        self.config.write_text('workspace_id: "bench"\nworkspace_root: ".."\nqueue_root: "state"\n', encoding="utf-8")
        self.request = self.root / "request.md"
        self.request.write_text("# request\n\n```diff\n- x = 1\n+ x = 2\n```\n", encoding="utf-8")
        self.store_root = self.root / "handoff" / "state"

    def store(self) -> FileBackend:
        return FileBackend(self.store_root)

    def submit(self, *, lane: str = "default", prompt: str = PROMPT, metadata: dict | None = None,
               name: str = "out") -> dict:
        return self.store().create_task(
            workspace_id="bench", correlation_id=lane, source_agent="bench", lane=lane, workspace_root=self.root,
            request_path=self.request, response_path=self.root / f"{name}.md", prompt=prompt, metadata=metadata or {})


def measure(vendor: str, runs: int, rounds: int, tmp: Path) -> dict[str, float]:
    direct: list[float] = []
    per_task: list[float] = []
    gaps: list[float] = []
    for round_no in range(rounds):
        root = tmp / f"{vendor}-{round_no}"
        root.mkdir()
        workspace = Workspace(root)
        agents = RealAgents(root, workspace)
        settings_path = agents.settings(concurrency={"global": 1, "vendors": {vendor: 1}},
                                        lane_defaults={"renew_seconds": 20, "lease_seconds": 120})
        settings = load_settings(settings_path, config_dir=None)
        tasks = [workspace.submit(name=f"out{i}", metadata={"required_vendor": vendor}) for i in range(runs)]
        # The direct runs get what the supervisor gives: the same argv and the same stdin bytes.
        command = build_command(settings.vendor(vendor), None, None, workdir=workspace.root)
        stdin = build_input(workspace.store(), workspace.store().read_task(tasks[0]["id"]))
        env = agents.env(**command.env)

        log(f"{vendor} round {round_no + 1}/{rounds}: {runs} direct runs")
        script = ("import subprocess, time, json\n"
                  f"argv = {json.dumps([str(cli_bin() / vendor), *command.argv[1:]])}\n"
                  f"data = {stdin!r}\n"
                  "times = []\n"
                  f"for _ in range({runs}):\n"
                  "    start = time.monotonic()\n"
                  "    done = subprocess.run(argv, input=data, capture_output=True)\n"
                  "    times.append(time.monotonic() - start)\n"
                  "    assert done.returncode == 0, done.stderr[-2000:]\n"
                  "print(json.dumps(times))\n")
        box = agents.start([sys.executable, "-c", script], SCENARIOS[vendor], env=env, cwd=workspace.root)
        assert box.finish(timeout=60 * runs) == 0, box.stderr()[-2000:]
        direct += json.loads(box.stdout().strip().splitlines()[-1])

        log(f"{vendor} round {round_no + 1}/{rounds}: {runs} supervised tasks")
        box = agents.supervise(SCENARIOS[vendor])
        assert box.finish(timeout=60 * runs) == 0, box.stderr()[-2000:]
        events = box.events()
        starts = [e["time"] for e in events if e["event"] == "worker_started"]
        ends = [e["time"] for e in events if e["event"] == "task_completed"]
        assert len(starts) == len(ends) == runs
        # One sample per task: from its start to the next task's start (the run, then the gap).
        per_task += [starts[i + 1] - starts[i] for i in range(runs - 1)]
        gaps += [starts[i + 1] - ends[i] for i in range(runs - 1)]
        agents.close()
    diff = statistics.fmean(per_task) - statistics.fmean(direct)
    # 95% interval of the difference of two means: the machine's noise, stated rather than hidden.
    half = 1.96 * (statistics.variance(per_task) / len(per_task) + statistics.variance(direct) / len(direct)) ** 0.5
    return {"direct_mean": statistics.fmean(direct), "direct_median": statistics.median(direct),
            "supervised_per_task": statistics.fmean(per_task), "supervised_median": statistics.median(per_task),
            "diff": diff, "half": half, "gap": statistics.fmean(gaps), "samples": len(direct)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="runs per block (default 11: 10 per-task samples)")
    parser.add_argument("--rounds", type=int, default=6, help="direct/supervised blocks per vendor (default 6)")
    parser.add_argument("--markdown-out", type=Path)
    parser.add_argument("--tmpdir", type=Path)
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        sys.exit(f"realcli_bench: {reason}")
    with tempfile.TemporaryDirectory(prefix="lanes-realcli-bench-", dir=args.tmpdir) as name:
        tmp = Path(name)
        results = {vendor: measure(vendor, args.runs, args.rounds, tmp) for vendor in ("claude", "codex")}
        extra = f"claude {cli_version('claude')}, {cli_version('codex')}"
        lines = [machine_line(tmp, packages=(), extra=extra), "",
                 f"{args.rounds} rounds of {args.runs} runs per vendor, direct and supervised blocks alternating, one "
                 "run at a time; each block inside its own loopback-only namespace with the model-API stand-in.", "",
                 "| vendor | CLI run directly (mean, median) | under `lanes-tui --no-ui`, per task (mean, median) "
                 "| overhead per task (mean, 95% interval) | of which between tasks |",
                 "|---|---:|---:|---:|---:|"]
        for vendor, r in results.items():
            base = r["direct_mean"]
            lines.append(f"| {vendor} | {base * 1000:.0f} ms, {r['direct_median'] * 1000:.0f} ms "
                         f"| {r['supervised_per_task'] * 1000:.0f} ms, {r['supervised_median'] * 1000:.0f} ms "
                         f"| {r['diff'] * 1000:+.0f} ms ({r['diff'] / base * 100:+.1f}%; "
                         f"{(r['diff'] - r['half']) / base * 100:+.1f}% .. {(r['diff'] + r['half']) / base * 100:+.1f}%) "
                         f"| {r['gap'] * 1000:.0f} ms |")
        publish("\n".join(lines) + "\n", args.markdown_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
