#!/usr/bin/env python3
"""Side-by-side benchmark: lanes-tui's advisory locks against claude-agent-sync 0.4.0.

Both tools are measured in the same run, in one temporary workspace (a git
repository scaffolded with `lanes-tui init`): lanes-tui on its store
(`handoff/state/locks/`), claude-agent-sync on its own SQLite database
(`.claude/coordination/state.sqlite`, where its CLI and hook put it).

Rows (medians of repeats):
  1. lock+unlock in-process, one key: lanes-tui LockTable.acquire + release vs
     claude-agent-sync locks.acquire_lock + release_lock on one open connection
  2. the same over 100 keys: lock all of them, then unlock all of them
  3. lock+unlock through the CLI, one process per call:
     `lanes-tui --config <handoff.yaml> lock <path> --as A` + `unlock`
     vs `agent-sync lock <path>` + `unlock` (AGENT_SYNC_ID=A)
  4. the Claude Code PreToolUse hook fed an Edit event on stdin, for a free file
     (exit 0) and for a file another agent locked (exit 2): median and p95:
     the command `lanes-tui hooks` installs (`lanes-tui --config C --store S hook pre-tool-use
     --workspace-root W`) vs `agent-sync hook pre-tool-use`

claude-agent-sync is an optional dependency of this script only:

    pip install '.[bench]'                           # claude-agent-sync==0.4.0
    python bench/locks_bench.py                      # full run (about 80 seconds)
    python bench/locks_bench.py --quick              # smoke run (about 10 seconds)
    python bench/locks_bench.py --markdown-out table.md --tmpdir /var/tmp

Progress goes to stderr; the table (markdown) goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

try:
    from agent_sync import db as as_db  # claude-agent-sync's import name
    from agent_sync import locks as as_locks
    from agent_sync import paths as as_paths
    from agent_sync.errors import LockConflict
except ImportError:
    sys.exit("locks_bench: claude-agent-sync is not installed; run: pip install '.[bench]'")

import bench_common  # noqa: E402
from bench_common import find_cli, log  # noqa: E402

from lanes_tui.core.handoff import load_config  # noqa: E402
from lanes_tui.core.locks import LockHeld, lock_key_for_path  # noqa: E402
from lanes_tui.storage.files.coordination import file_locks  # noqa: E402

OWNER = "A"  # the agent that locks and unlocks
TTL_SECONDS = 600  # agent-sync counts TTLs in whole minutes: 600 s = 10 min for both
MANY_KEYS = 100
FREE_FILE = "src/free.py"
LOCKED_FILE = "src/locked.py"
CLI_FILE = "src/cli.py"
HOOK_SESSION = "bench-session-B"  # the hook's agent: neither tool maps it to A

# Every child gets the same environment, minus anything that would pick an identity, a
# database or thresholds for either tool. PYTHONPYCACHEPREFIX (set in main) gives both a
# warm bytecode cache even where PYTHONDONTWRITEBYTECODE is set.
_DROP_PREFIXES = ("AGENT_SYNC_", "LANES_")
_DROP = ("CLAUDE_CODE_SESSION_ID", "CLAUDE_SESSION_ID", "PYTHONDONTWRITEBYTECODE")
for _name in [n for n in os.environ if n.startswith(_DROP_PREFIXES) or n in _DROP]:
    del os.environ[_name]  # this process too: agent-sync reads its thresholds from the environment
CHILD_ENV: dict[str, str] = dict(os.environ)




# -- workspace ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    root: Path
    config: Path
    store_root: Path
    as_db: Path
    lt_cli: str
    as_cli: str

    def lt(self, *args: str) -> list[str]:
        return [self.lt_cli, "--config", str(self.config), *args]

    def agent_sync(self, *args: str) -> list[str]:
        return [self.as_cli, *args]


def make_workspace(base: Path) -> Workspace:
    """A git repository with a few source files, scaffolded with `lanes-tui init`."""
    root = (base / "workspace").resolve()
    (root / "src").mkdir(parents=True)
    for name in (FREE_FILE, LOCKED_FILE, CLI_FILE):
        (root / name).write_text("print('hello')\n")
    # agent-sync finds its database next to the nearest .git (or .claude): a real repository.
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=CHILD_ENV)
    lt_cli = find_cli("lanes-tui")
    subprocess.run([lt_cli, "init", str(root)], check=True, env=CHILD_ENV, stdout=subprocess.DEVNULL)
    config = root / "handoff" / "handoff.yaml"
    store_root = load_config(config).store_root
    if not store_root.is_dir():
        sys.exit(f"locks_bench: `lanes-tui init` did not create the store at {store_root}")
    return Workspace(root, config, store_root, as_paths.db_path(root), lt_cli, find_cli("agent-sync"))


def run_cli(cmd: list[str], ws: Workspace, *, env: dict[str, str] | None = None, stdin: bytes | None = None,
            expect: int = 0) -> tuple[float, bytes]:
    """(wall seconds, stderr) of one CLI run; raises unless it exits with `expect`."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ws.root, env=env or CHILD_ENV, input=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != expect:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}, expected {expect}: "
                           f"{proc.stderr.decode(errors='replace').strip()[:500]}")
    return elapsed, proc.stderr


# -- the two lock APIs, in-process ---------------------------------------------------------

# lock(key) -> token for unlock; unlock(key, token)
LockPair = tuple[Callable[[str], object], Callable[[str, object], None]]


def lanes_tui_api(ws: Workspace) -> tuple[LockPair, Callable[[str], str]]:
    table = file_locks(ws.store_root)

    def lock(key: str) -> object:
        return table.acquire(key, owner=OWNER, ttl_seconds=TTL_SECONDS).token

    def unlock(key: str, token: object) -> None:
        table.release(key, owner=OWNER, token=token)  # type: ignore[arg-type]

    def key_of(path: str) -> str:
        return lock_key_for_path(path, workspace_root=ws.root, cwd=ws.root)

    return (lock, unlock), key_of


def agent_sync_api(conn: sqlite3.Connection, ws: Workspace) -> tuple[LockPair, Callable[[str], str]]:
    # A lock only counts while its owner's agent row is active (seen in the last 15 minutes):
    # register A once, as its CLI does on every call.
    as_db.ensure_agent(conn, OWNER, name=OWNER)

    def lock(key: str) -> object:
        return as_locks.acquire_lock(conn, OWNER, key, ttl_minutes=TTL_SECONDS // 60)

    def unlock(key: str, token: object) -> None:
        if not as_locks.release_lock(conn, OWNER, key):
            raise RuntimeError(f"agent-sync: {key} was not locked")

    def key_of(path: str) -> str:
        return as_paths.normalize_repo_path(path, ws.root)

    return (lock, unlock), key_of


def check_api(name: str, api: LockPair, key: str, try_other: Callable[[str], object], refused: type[Exception]) -> None:
    """A lock taken through the API really excludes another agent, and unlock frees it."""
    lock, unlock = api
    token = lock(key)
    try:
        try_other(key)
    except refused:
        pass
    else:
        raise RuntimeError(f"{name}: another agent took a held lock")
    finally:
        unlock(key, token)


def time_cycles(api: LockPair, keys: list[str], pairs: int) -> float:
    """Seconds for `pairs` lock+unlock pairs: lock every key, then unlock every key, in rounds."""
    lock, unlock = api
    rounds = max(1, pairs // len(keys))
    start = time.perf_counter()
    for _ in range(rounds):
        tokens = [lock(key) for key in keys]
        for key, token in zip(keys, tokens):
            unlock(key, token)
    return time.perf_counter() - start


# -- measurements ------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    agent_sync: float | None  # None: the tool has no such thing
    lanes_tui: float | None
    unit: str  # "ops/s", "pairs/s" (higher is better) or "ms" (lower is better)


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=20, method="inclusive")[18]


def bench_in_process(ws: Workspace, pairs: int, repeat: int) -> tuple[list[Row], str]:
    """The rows, and agent-sync's journal mode and synchronous level on its connection."""
    conn = as_db.connect(ws.as_db)
    try:
        pragmas = (f"journal_mode={conn.execute('PRAGMA journal_mode').fetchone()[0]}, "
                   f"synchronous={conn.execute('PRAGMA synchronous').fetchone()[0]}")
        lt_api, lt_key = lanes_tui_api(ws)
        as_api, as_key = agent_sync_api(conn, ws)
        other = file_locks(ws.store_root)
        check_api("lanes-tui", lt_api, lt_key(FREE_FILE),
                  lambda k: other.acquire(k, owner="B", ttl_seconds=TTL_SECONDS), LockHeld)
        as_db.ensure_agent(conn, "B", name="B")
        check_api("agent-sync", as_api, as_key(FREE_FILE),
                  lambda k: as_locks.acquire_lock(conn, "B", k, ttl_minutes=TTL_SECONDS // 60), LockConflict)
        key_sets = {
            "one key": ["src/pkg/one.py"],
            f"{MANY_KEYS} keys": [f"src/pkg/m{i:03d}.py" for i in range(MANY_KEYS)],
        }
        rows = []
        for label, files in key_sets.items():
            keys = {"lt": [lt_key(f) for f in files], "as": [as_key(f) for f in files]}
            apis = {"lt": lt_api, "as": as_api}
            n = max(pairs, len(files)) // len(files) * len(files)
            for name in ("lt", "as"):  # warm-up: first files, first pages, untimed
                time_cycles(apis[name], keys[name], len(files))
            rates: dict[str, list[float]] = {"lt": [], "as": []}
            for k in range(repeat):
                for name in (("lt", "as") if k % 2 == 0 else ("as", "lt")):
                    rates[name].append(2 * n / time_cycles(apis[name], keys[name], n))
            detail = "lock, unlock" if len(files) == 1 else f"lock all {len(files)}, then unlock all"
            rows.append(Row(f"in-process lock+unlock, {label} ({detail}; {n:,} pairs)",
                            median(rates["as"]), median(rates["lt"]), "ops/s"))
            log(f"in-process, {label}: agent-sync {median(rates['as']):,.0f} ops/s, "
                f"lanes-tui {median(rates['lt']):,.0f} ops/s")
        return rows, pragmas
    finally:
        conn.close()


def bench_cli(ws: Workspace, pairs: int, repeat: int) -> Row:
    as_env = {**CHILD_ENV, "AGENT_SYNC_ID": OWNER}  # agent-sync's only explicit identity
    ttl_minutes = str(TTL_SECONDS // 60)
    commands = {
        "lt": (ws.lt("lock", CLI_FILE, "--as", OWNER, "--ttl", str(TTL_SECONDS)), ws.lt("unlock", CLI_FILE, "--as", OWNER),
               CHILD_ENV),
        "as": (ws.agent_sync("lock", CLI_FILE, "--ttl", ttl_minutes), ws.agent_sync("unlock", CLI_FILE), as_env),
    }

    def one_sample(name: str, count: int) -> float:
        lock, unlock, env = commands[name]
        start = time.perf_counter()
        for _ in range(count):
            run_cli(lock, ws, env=env)
            run_cli(unlock, ws, env=env)
        return count / (time.perf_counter() - start)

    for name in commands:
        one_sample(name, 1)  # warm-up: bytecode cache, first connection
    rates: dict[str, list[float]] = {"lt": [], "as": []}
    for k in range(repeat):
        for name in (("lt", "as") if k % 2 == 0 else ("as", "lt")):
            rates[name].append(one_sample(name, pairs))
    log(f"CLI: agent-sync {median(rates['as']):.2f} pairs/s, lanes-tui {median(rates['lt']):.2f} pairs/s")
    return Row(f"CLI lock+unlock, two processes per pair ({repeat} x {pairs} pairs)",
               median(rates["as"]), median(rates["lt"]), "pairs/s")


def edit_event(ws: Workspace, path: str) -> bytes:
    """What Claude Code writes on a PreToolUse hook's stdin for an Edit (absolute file_path)."""
    return json.dumps({
        "session_id": HOOK_SESSION, "transcript_path": str(ws.root / "transcript.jsonl"), "cwd": str(ws.root),
        "permission_mode": "default", "hook_event_name": "PreToolUse", "tool_name": "Edit",
        "tool_input": {"file_path": str(ws.root / path), "old_string": "hello", "new_string": "bye"},
    }).encode()


def bench_hook(ws: Workspace, samples: int) -> tuple[list[Row], float]:
    """The rows, and the median start-up of a bare interpreter (`python -c pass`) in ms."""
    as_env = {**CHILD_ENV, "AGENT_SYNC_ID": OWNER}
    # A holds LOCKED_FILE in both tools, taken through each CLI (agent-sync registers A as active).
    run_cli(ws.lt("lock", LOCKED_FILE, "--as", OWNER, "--ttl", str(TTL_SECONDS)), ws)
    run_cli(ws.agent_sync("lock", LOCKED_FILE, "--ttl", str(TTL_SECONDS // 60)), ws, env=as_env)
    # lanes-tui: the command `lanes-tui hooks` installs (it names the store and workspace, so the
    # hook reads no YAML), run through the console script as agent-sync's is.
    installed = json.loads(subprocess.run(ws.lt("hooks"), capture_output=True, text=True, check=True).stdout)
    argv = shlex.split(installed["hooks"]["PreToolUse"][0]["hooks"][0]["command"])
    lt_hook = [ws.lt_cli, *argv[argv.index("-m") + 2:]]  # `python -m lanes_tui ARGS` -> `lanes-tui ARGS`
    hooks = {"lt": lt_hook, "as": ws.agent_sync("hook", "pre-tool-use")}
    cases = {"free": (edit_event(ws, FREE_FILE), 0), "locked": (edit_event(ws, LOCKED_FILE), 2)}
    # Untimed check (and warm-up): the locked file is blocked with the holder named, so the
    # hooks found their store and the path's key; the free file is let through.
    for name, cmd in hooks.items():
        for case, (event, code) in cases.items():
            _, err = run_cli(cmd, ws, stdin=event, expect=code)
            if case == "locked" and b"locked by" not in err:
                raise RuntimeError(f"{name} hook blocked without naming the holder: {err[:300]!r}")
    times: dict[tuple[str, str], list[float]] = {(n, c): [] for n in hooks for c in cases}
    for k in range(samples):
        for name in (("lt", "as") if k % 2 == 0 else ("as", "lt")):
            for case, (event, code) in cases.items():
                times[(name, case)].append(1000 * run_cli(hooks[name], ws, stdin=event, expect=code)[0])
    baseline = [1000 * run_cli([sys.executable, "-c", "pass"], ws)[0] for _ in range(samples)]
    log(f"bare interpreter start-up: {median(baseline):.1f} ms (median)")
    rows = []
    for case, what in (("free", "free file, exit 0"), ("locked", "file locked by another agent, exit 2")):
        for stat_name, stat in (("median", median), ("p95", p95)):
            rows.append(Row(f"hook `pre-tool-use`, Edit on a {what}: {stat_name} ({samples} runs)",
                            stat(times[("as", case)]), stat(times[("lt", case)]), "ms"))
        log(f"hook, {case}: agent-sync {median(times[('as', case)]):.1f} ms, "
            f"lanes-tui {median(times[('lt', case)]):.1f} ms (medians)")
    return rows, median(baseline)


# -- output ----------------------------------------------------------------------------------


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "ops/s":
        return f"{value:,.0f} ops/s"
    if unit == "pairs/s":
        return f"{value:.2f} pairs/s ({1000 / value:.0f} ms/pair)"
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def fmt_ratio(row: Row) -> str:
    """How many times faster lanes-tui is (below 1: claude-agent-sync is faster)."""
    if row.agent_sync is None or row.lanes_tui is None or min(row.agent_sync, row.lanes_tui) <= 0:
        return "n/a"
    ratio = row.agent_sync / row.lanes_tui if row.unit == "ms" else row.lanes_tui / row.agent_sync
    return f"{ratio:.1f}x" if ratio >= 10 else f"{ratio:.2f}x"


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def render(rows: list[Row], header: str, notes: list[str]) -> str:
    lines = [
        header,
        "",
        f"| Measurement | claude-agent-sync {package_version('claude-agent-sync')} | lanes-tui | "
        "ratio (>1: lanes-tui faster) |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r.label} | {fmt_value(r.agent_sync, r.unit)} | {fmt_value(r.lanes_tui, r.unit)} | "
                     f"{fmt_ratio(r)} |")
    if notes:
        lines.append("")
        lines.extend(f"- {note}" for note in notes)
    return "\n".join(lines) + "\n"


# -- main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke mode: fewer pairs, samples and runs")
    parser.add_argument("--pairs", type=int, help="in-process lock+unlock pairs per sample (default 1000; --quick: 100)")
    parser.add_argument("--cli-pairs", type=int, help="CLI lock+unlock pairs per sample (default 10; --quick: 3)")
    parser.add_argument("--repeat", type=int, help="samples per in-process and CLI row (default 5; --quick: 2)")
    parser.add_argument("--hook-runs", type=int, help="hook runs per tool and case (default 40; --quick: 8)")
    parser.add_argument("--markdown-out", type=Path, help="also write the table to this file")
    parser.add_argument("--tmpdir", help="where to create the temporary workspace (default: the system temp dir)")
    args = parser.parse_args(argv)
    args.pairs = args.pairs or (100 if args.quick else 1000)
    args.cli_pairs = args.cli_pairs or (3 if args.quick else 10)
    args.repeat = args.repeat or (2 if args.quick else 5)
    args.hook_runs = args.hook_runs or (8 if args.quick else 40)
    if min(args.pairs, args.cli_pairs, args.repeat, args.hook_runs) < 1:
        parser.error("--pairs, --cli-pairs, --repeat and --hook-runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    started_at = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    base = Path(tempfile.mkdtemp(prefix="locks-bench-", dir=args.tmpdir))
    try:
        CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
        ws = make_workspace(base)
        log(f"workspace under {ws.root}")
        rows, pragmas = bench_in_process(ws, args.pairs, args.repeat)
        rows.append(bench_cli(ws, args.cli_pairs, args.repeat))
        hook_rows, bare_ms = bench_hook(ws, args.hook_runs)
        rows.extend(hook_rows)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    header = bench_common.machine_line(Path(args.tmpdir or tempfile.gettempdir()), ("claude-agent-sync",),
                                       extra=f"SQLite {sqlite3.sqlite_version}")
    header += (f". Run: {started_at:%Y-%m-%d %H:%M} UTC, total {time.monotonic() - started:.0f} s; "
               f"1-minute load average {load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end.")
    notes = [
        "Ratio: lanes-tui's rate / claude-agent-sync's for ops/s and pairs/s, claude-agent-sync's time / "
        "lanes-tui's for ms; below 1 means claude-agent-sync is faster.",
        f"In-process: one `LockTable` (lanes-tui) and one open `agent_sync.db.connect()` connection "
        f"(claude-agent-sync, {pragmas}: 2 is FULL), keys computed once "
        f"before timing, owner `{OWNER}`, TTL {TTL_SECONDS} s (10 min); ops/s = 2 x pairs / time, median of "
        f"{args.repeat} samples after an untimed warm-up, the tools' order alternating. Checked before timing: "
        "a held lock refuses another owner in both.",
        f"CLI: console scripts with warm bytecode caches, output through a pipe; lanes-tui `--as {OWNER}`, "
        f"agent-sync `AGENT_SYNC_ID={OWNER}` (every agent-sync call also registers/heartbeats its agent row). "
        "Median of the samples' pairs/s.",
        f"Hook: the console script run directly (no shell) with a PreToolUse Edit event on stdin "
        f"(absolute `file_path`, session `{HOOK_SESSION}`, no agent variables), while agent `{OWNER}` holds "
        f"`{LOCKED_FILE}` in both tools; the exit code (0 free, 2 locked, holder named on stderr) is checked "
        f"on every run. Wall time of the whole process; a bare `python -c pass` takes {bare_ms:.1f} ms here "
        "(median), included in both tools' figures.",
    ]
    table = render(rows, header, notes)
    bench_common.publish(table, args.markdown_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
