#!/usr/bin/env python3
"""What an MCP server in the vendor config costs a real CLI run, and how much of it is lanes-tui's.

The same real CLI (tests/realcli/clis, the pinned versions), the same prompt
and the same model-API stand-in, run directly (no supervisor), in the same run,
inside a loopback-only network namespace (tests/realcli/sandbox.py), with the
argv lanes-tui gives a worker in three forms:

  * no server: `{agent_tools}` left out, as a lane without the tools;
  * a minimal server: a stdlib script that answers `initialize` and `tools/list`
    with lanes-tui's own tool listing and nothing else, the least any server
    costs (an interpreter's start);
  * `lanes-tui mcp`: the server every supervised worker gets.

Configurations alternate run by run, so a slower minute of the machine hits all
three. The gaps (minimal - none: what the CLI pays for any server; lanes-tui -
minimal: what lanes-tui's own start adds) say where the overhead measured by
realcli_bench.py comes from. Also timed alone, outside any CLI: spawn of the
server to its `tools/list` answer.

    python bench/mcp_start_bench.py                 # 15 runs per configuration and vendor (about 2 minutes)
    python bench/mcp_start_bench.py --runs 3        # smoke run

Needs root (for the namespaces) and the CLIs: `npm ci --prefix tests/realcli/clis`.
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
from realcli_bench import SCENARIOS, Workspace  # noqa: E402

from lanes_tui.agent_tools.catalog import TOOLS  # noqa: E402
from lanes_tui.settings import load_settings  # noqa: E402
from lanes_tui.vendors.agent_tools_flags import ToolsServer  # noqa: E402
from lanes_tui.vendors.argv import build_command  # noqa: E402
from lanes_tui.vendors.prompting import build_input  # noqa: E402

MINIMAL_SERVER = """import json, sys
listing = json.load(open(sys.argv[1]))
for line in sys.stdin:
    message = json.loads(line)
    if "id" not in message:
        continue
    if message["method"] == "initialize":
        result = {"protocolVersion": message["params"]["protocolVersion"], "capabilities": {"tools": {}},
                  "serverInfo": {"name": "minimal", "version": "1"}}
    elif message["method"] == "tools/list":
        result = {"tools": listing}
    else:
        result = {}
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}) + "\\n")
    sys.stdout.flush()
"""
HANDSHAKE = [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize",
     "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
]
CONFIGS = ("no server", "minimal server", "lanes-tui mcp")


def server_argvs(tmp: Path, workspace: Workspace) -> dict[str, tuple[str, ...] | None]:
    listing = tmp / "listing.json"
    listing.write_text(json.dumps([spec.listing() for spec in TOOLS.values()]), encoding="utf-8")
    script = tmp / "minimal_server.py"
    script.write_text(MINIMAL_SERVER, encoding="utf-8")
    return {"no server": None, "minimal server": (sys.executable, str(script), str(listing)),
            "lanes-tui mcp": (sys.executable, "-m", "lanes_tui", f"--config={workspace.config}",
                              f"--store={workspace.store_root}", "mcp", "--as=bench")}


def handshake_seconds(argv: tuple[str, ...], cwd: Path) -> float:
    """Spawn -> the `tools/list` answer, the server alone."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=cwd, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("".join(json.dumps(m) + "\n" for m in HANDSHAKE))
    proc.stdin.flush()
    answers = 0
    while answers < 2:
        if "result" in json.loads(proc.stdout.readline()):
            answers += 1
    elapsed = time.monotonic() - start
    proc.stdin.close()
    proc.wait(10)
    return elapsed


def measure(vendor: str, runs: int, tmp: Path) -> dict[str, list[float]]:
    root = tmp / vendor
    root.mkdir()
    workspace = Workspace(root)
    agents = RealAgents(root, workspace)
    settings = load_settings(agents.settings(), config_dir=None)
    task = workspace.submit(metadata={"required_vendor": vendor})
    stdin = build_input(workspace.store(), workspace.store().read_task(task["id"]))
    servers = server_argvs(root, workspace)
    commands = {}
    for name, argv in servers.items():
        tools = ToolsServer(argv, call_seconds=600) if argv else None
        command = build_command(settings.vendor(vendor), None, None, workdir=workspace.root, agent_tools=tools)
        commands[name] = {"argv": [str(cli_bin() / vendor), *command.argv[1:]], "env": dict(command.env)}
    log(f"{vendor}: {runs} runs of each configuration, alternating")
    script = ("import json, os, subprocess, time\n"
              f"commands = {json.dumps(commands)}\n"
              f"data = {stdin!r}\n"
              "times = {name: [] for name in commands}\n"
              f"for _ in range({runs}):\n"
              "    for name, command in commands.items():\n"
              "        start = time.monotonic()\n"
              "        done = subprocess.run(command['argv'], input=data, capture_output=True,\n"
              "                              env={**os.environ, **command['env']})\n"
              "        times[name].append(time.monotonic() - start)\n"
              "        assert done.returncode == 0, (name, done.stderr[-2000:])\n"
              "print(json.dumps(times))\n")
    box = agents.start([sys.executable, "-c", script], SCENARIOS[vendor], cwd=workspace.root)
    assert box.finish(timeout=60 * runs * len(commands)) == 0, box.stderr()[-2000:]
    times = json.loads(box.stdout().strip().splitlines()[-1])
    for name in ("minimal server", "lanes-tui mcp"):
        argv = servers[name]
        assert argv is not None
        times[f"{name} alone"] = [handshake_seconds(argv, workspace.root) for _ in range(runs)]
    agents.close()
    return times


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms"


def gap(a: list[float], b: list[float]) -> str:
    """Median of b minus median of a, with a 95% interval of the difference of the means."""
    diff = statistics.median(b) - statistics.median(a)
    half = 1.96 * (statistics.variance(a) / len(a) + statistics.variance(b) / len(b)) ** 0.5
    return f"{diff * 1000:+.0f} ms (±{half * 1000:.0f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per configuration and vendor (default 15)")
    parser.add_argument("--markdown-out", type=Path)
    parser.add_argument("--tmpdir", type=Path)
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        sys.exit(f"mcp_start_bench: {reason}")
    with tempfile.TemporaryDirectory(prefix="lanes-mcp-start-bench-", dir=args.tmpdir) as name:
        tmp = Path(name)
        results = {vendor: measure(vendor, args.runs, tmp) for vendor in ("claude", "codex")}
        extra = f"claude {cli_version('claude')}, {cli_version('codex')}"
        lines = [machine_line(tmp, packages=(), extra=extra), "",
                 f"{args.runs} runs of each configuration per vendor, alternating run by run, inside one "
                 "loopback-only namespace with the model-API stand-in; medians.", "",
                 "| vendor | no server | minimal server | `lanes-tui mcp` | any server costs (minimal - none) "
                 "| lanes-tui's start adds (lanes-tui - minimal) |",
                 "|---|---:|---:|---:|---:|---:|"]
        for vendor, t in results.items():
            lines.append(f"| {vendor} | {ms(t['no server'])} | {ms(t['minimal server'])} | {ms(t['lanes-tui mcp'])} "
                         f"| {gap(t['no server'], t['minimal server'])} "
                         f"| {gap(t['minimal server'], t['lanes-tui mcp'])} |")
        alone = ("minimal server alone", "lanes-tui mcp alone")
        both = {key: sum((results[v][key] for v in results), []) for key in alone}
        lines += ["", "| server alone: spawn -> `tools/list` answered | minimal server | `lanes-tui mcp` |",
                  "|---|---:|---:|",
                  f"| median of {len(both['minimal server alone'])} | {ms(both['minimal server alone'])} "
                  f"| {ms(both['lanes-tui mcp alone'])} |"]
        publish("\n".join(lines) + "\n", args.markdown_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
