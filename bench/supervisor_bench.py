#!/usr/bin/env python3
"""Supervisor benchmark: `lanes-tui --no-ui` against agent-lanes 0.1.1's bundled bash dispatcher.

Both run the same stand-in `claude` agent (tests/standin/agent_standin.py, mode
`ok`, no delay: the agent itself costs one short Python process) on the same
tasks with the same number of concurrent slots, in the same run:

  * lanes-tui: one `lanes-tui --no-ui --drain` with `concurrency: {global: 8,
    vendors: {claude: 8}}`, lease and renew left at their defaults;
  * agent-lanes: 8 copies of the dispatcher.sh that `agent-lanes init`
    scaffolds (VENDOR=claude, one lane), each claiming and running one task at
    a time through `eval "$HEADLESS_AGENT_CMD $AGENT_FLAGS" < prompt`.

The tasks carry thread metadata (thread_id, parent_task_id -> an answered
task): agent-lanes' dispatcher exits right after claiming a task without it
(protocol.md, known defects), so with it both tools walk the same one-step
thread and put the parent's answer into the prompt.

Rows:
  1-2  drain N tasks (default 500): wall time and tasks/s
  3    per-task overhead per slot: slot time not spent inside the agent
  4    orchestration CPU per task: CPU of every process except the agents
  5    the agent's own run time per task (the same stand-in for both)
  6-7  idle CPU over a window (default 30 s) with an empty queue and 10,000
       answered tasks in the store: the supervisor idling (`--no-ui` without
       --drain) against 8 dispatchers (row 6) and one dispatcher (row 7)
       blocked in `agent-lanes wait --lane`

The 10,000-task store is written directly by bench/queue_bench.py's generator
(imported, not copied); the drain store is submitted through agent-lanes'
own HandoffStore and copied once per tool.

    python bench/supervisor_bench.py                 # full run (10-20 minutes on 2 CPUs)
    python bench/supervisor_bench.py --quick         # smoke run: 40 tasks, 5 s idle windows (2-3 minutes)
    python bench/supervisor_bench.py --markdown-out table.md --tmpdir /var/tmp

Progress goes to stderr; the table (markdown) goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for folder in (REPO, BENCH):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import queue_bench  # noqa: E402  (bench/queue_bench.py: generator, workspace, formatting)
from agent_lanes.store import HandoffStore  # noqa: E402
import bench_common  # noqa: E402
from queue_bench import Workspace, fmt_value, generate_store, log, machine_line, make_workspace  # noqa: E402

STANDIN_SCRIPT = REPO / "tests" / "standin" / "agent_standin.py"
LANE = "bench"
THREAD_ID = "bench-thread"
CLK_TCK = os.sysconf("SC_CLK_TCK")
HEADLESS_AGENT_CMD = "claude -p --output-format text"  # the stand-in prints the bare answer, like `claude -p`
ANSWER_PREFIX = "Stand-in claude answer."


# -- the timed stand-in ----------------------------------------------------------------------


def install_timed_claude(bin_dir: Path, runs_dir: Path) -> None:
    """`claude` = a bash wrapper that runs the stand-in and records its wall and CPU time.

    One small file per run (concurrent appends to one file could interleave). `$EPOCHREALTIME`
    and the `times` builtin need no fork, so the wrapper adds no process of its own.
    """
    bin_dir.mkdir(parents=True)
    runs_dir.mkdir(parents=True)
    wrapper = bin_dir / "claude"
    wrapper.write_text(
        "#!/bin/bash\n"
        "# Benchmark stand-in `claude`, written by bench/supervisor_bench.py.\n"
        "t0=$EPOCHREALTIME\n"
        f"{shlex.quote(sys.executable)} {shlex.quote(str(STANDIN_SCRIPT))} claude \"$@\"\n"
        "rc=$?\n"
        "t1=$EPOCHREALTIME\n"
        f"{{ printf '%s %s %s\\n' \"$t0\" \"$t1\" \"$rc\"; times; }} > {shlex.quote(str(runs_dir))}/run.$$.${{t0/[.,]/}}\n"
        "exit $rc\n",
        encoding="utf-8",
    )
    wrapper.chmod(0o755)


_TIMES = re.compile(r"(\d+)m([\d.,]+)s")


@dataclass
class AgentRuns:
    count: int
    failed: int
    wall: float  # sum of the agents' own run times, seconds
    cpu: float  # sum of their CPU (user + system), seconds

    @classmethod
    def read(cls, runs_dir: Path) -> "AgentRuns":
        count = failed = 0
        wall = cpu = 0.0
        for path in runs_dir.iterdir():
            lines = path.read_text(encoding="utf-8").splitlines()
            t0, t1, rc = lines[0].replace(",", ".").split()
            children = [int(m) * 60 + float(s.replace(",", ".")) for m, s in _TIMES.findall(lines[2])]
            count += 1
            failed += rc != "0"
            wall += float(t1) - float(t0)
            cpu += sum(children)
        return cls(count, failed, wall, cpu)


# -- stores -------------------------------------------------------------------------------------


def build_drain_store(store: Path, ws: Workspace, n: int) -> tuple[str, list[str]]:
    """An answered parent task and n queued tasks threaded onto it, all through agent-lanes' library."""
    al = HandoffStore(store)
    common = dict(workspace_id=queue_bench.WORKSPACE_ID, source_agent="bench", lane=LANE, workspace_root=ws.root,
                  worktree_path=None, expected_branch=None, request_path=ws.request)
    parent = al.create_task(correlation_id="parent", response_path=ws.root / "reviews" / "parent.md",
                            prompt="Start the thread.", **common)
    token = al.claim_task(parent["id"], owner="bench", lease_seconds=600)["claim_token"]
    al.submit_response(parent["id"], body="Parent answer: the thread starts here.\n", reviewer="bench",
                       claim_token=token)
    ids = []
    for i in range(n):
        task = al.create_task(
            correlation_id=f"t{i}", response_path=ws.root / "reviews" / f"t{i}.md",
            prompt=f"Trivial task {i}: reply with one line.",
            metadata={"required_vendor": "claude", "thread_id": THREAD_ID, "parent_task_id": parent["id"]},
            **common,
        )
        ids.append(task["id"])
    return parent["id"], ids


def build_idle_store(store: Path, ws: Workspace, n: int) -> None:
    """n answered tasks, nothing queued: queue_bench's generator with every task answered.

    The generator always leaves at least one queued task per lane; those few are answered
    here through agent-lanes' own library.
    """
    saved = queue_bench.COMPLETED_FRACTION
    queue_bench.COMPLETED_FRACTION = 1.0
    try:
        shape = generate_store(store, n, ws)
    finally:
        queue_bench.COMPLETED_FRACTION = saved
    al = HandoffStore(store)
    for ids in shape.ids_by_lane.values():
        for task_id in ids:
            token = al.claim_task(task_id, owner="bench", lease_seconds=600)["claim_token"]
            al.submit_response(task_id, body="answered\n", reviewer="bench", claim_token=token)


def check_answers(store: Path, ids: list[str], who: str) -> None:
    """Every task completed by the stand-in (not failed, not answered twice)."""
    problems = []
    for task_id in ids:
        folder = store / "tasks" / task_id
        task = json.loads((folder / "task.json").read_text(encoding="utf-8"))
        response = json.loads((folder / "response.json").read_text(encoding="utf-8"))
        responses = sum(1 for line in (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()
                        if json.loads(line)["type"] == "response")
        if task["state"] != "completed" or not response["body"].startswith(ANSWER_PREFIX) or responses != 1:
            problems.append(f"{task_id}: {task['state']}, {responses} responses, body {response['body'][:80]!r}")
    if problems:
        raise RuntimeError(f"{who}: {len(problems)} tasks not answered correctly, e.g. {problems[:3]}")


# -- process helpers -----------------------------------------------------------------------------


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> float:
    """CPU seconds all processes on the machine have used so far (every CPU; idle and iowait excluded)."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def foreign(busy: float, own: float, wall: float) -> float:
    """% of one core used by processes other than the measured tool during a phase."""
    return max(0.0, 100.0 * (busy - own) / wall)


def group_cpu(pgids: set[int], *, skip: set[int] = frozenset()) -> float:
    """CPU seconds (self + reaped children) of every live process in these process groups."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in skip:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in pgids:  # pgrp
            total += sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    return total / CLK_TCK


def kill_groups(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # started with start_new_session: pgid == pid
        except ProcessLookupError:
            pass
    for proc in procs:
        proc.wait()


class LineReader:
    """A child's stdout, line by line, with bounded waits (a thread feeds a queue)."""

    def __init__(self, stream: Any) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line.decode("utf-8", "replace"))
        self.lines.put(None)

    def wait_for(self, needle: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise RuntimeError(f"output ended before {needle!r}")
            if needle in line:
                return line
        raise RuntimeError(f"no {needle!r} within {timeout:g} s")


@dataclass
class Env:
    ws: Workspace
    base: Path
    dispatcher: Path  # the dispatcher.sh `agent-lanes init` scaffolded
    settings: Path
    child_env: dict[str, str]

    def lanes_tui(self, store: Path, *args: str) -> list[str]:
        return [self.ws.lt_cli, "--config", str(self.ws.config), "--store", str(store), "--settings",
                str(self.settings), *args]

    def with_bin(self, bin_dir: Path | None) -> dict[str, str]:
        """The child environment, with bin_dir (the timed `claude`) first on PATH."""
        if bin_dir is None:
            return dict(self.child_env)
        return {**self.child_env, "PATH": f"{bin_dir}{os.pathsep}{self.child_env['PATH']}"}

    def dispatcher_env(self, store: Path, index: int, bin_dir: Path | None) -> dict[str, str]:
        return {**self.with_bin(bin_dir), "VENDOR": "claude", "QUEUE_ROOT": str(store), "CONFIG": str(self.ws.config),
                "LANE": LANE, "OWNER": f"bench-dispatcher-{index}", "HEADLESS_AGENT_CMD": HEADLESS_AGENT_CMD}


def start_dispatchers(env: Env, store: Path, count: int, logs: Path,
                      bin_dir: Path | None = None) -> list[subprocess.Popen[bytes]]:
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    for i in range(count):
        with open(logs / f"dispatcher-{i}.err", "wb") as err:
            procs.append(subprocess.Popen(
                ["bash", str(env.dispatcher)], cwd=env.ws.root, env=env.dispatcher_env(store, i, bin_dir),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
            ))
    return procs


def tail(path: Path, chars: int = 600) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return ""


# -- measurements ------------------------------------------------------------------------------------


@dataclass
class Drain:
    wall: float
    cpu: float  # every process the tool ran, agents included
    agents: AgentRuns
    tasks: int
    slots: int
    others: float  # % of one core used by other processes on the machine meanwhile
    note: str = ""

    @property
    def per_second(self) -> float:
        return self.tasks / self.wall

    @property
    def overhead_per_slot(self) -> float:
        """Seconds of slot time per task not spent inside the agent: (slots * wall - sum agent time) / tasks."""
        return (self.slots * self.wall - self.agents.wall) / self.tasks

    @property
    def orchestration_cpu(self) -> float:
        return (self.cpu - self.agents.cpu) / self.tasks


def drain_lanes_tui(env: Env, store: Path, ids: list[str], slots: int, work: Path, timeout: float) -> Drain:
    runs = work / "runs-lt"
    install_timed_claude(work / "bin-lt", runs)
    child_env = env.with_bin(work / "bin-lt")
    out_path, err_path = work / "lanes-tui.out", work / "lanes-tui.err"
    cpu0, busy0 = children_cpu(), machine_busy()
    t0 = time.perf_counter()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.run(env.lanes_tui(store, "--no-ui", "--drain", "--summary", str(work / "summary.json")),
                              cwd=env.ws.root, env=child_env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                              timeout=timeout)
    wall = time.perf_counter() - t0
    cpu, busy = children_cpu() - cpu0, machine_busy() - busy0
    if proc.returncode != 0:
        raise RuntimeError(f"lanes-tui --no-ui --drain exited {proc.returncode}: {tail(err_path)}")
    check_answers(store, ids, "lanes-tui")
    agents = AgentRuns.read(runs)
    return Drain(wall, cpu, agents, len(ids), slots, foreign(busy, cpu, wall))


def drain_dispatchers(env: Env, store: Path, ids: list[str], slots: int, work: Path, timeout: float) -> Drain:
    runs = work / "runs-al"
    install_timed_claude(work / "bin-al", runs)
    tasks_dir = store / "tasks"
    pending = set(ids)
    cpu0, busy0 = children_cpu(), machine_busy()
    t0 = time.perf_counter()
    procs = start_dispatchers(env, store, slots, work / "dispatchers", work / "bin-al")
    try:
        deadline = time.monotonic() + timeout
        # Poll for the answers (one stat per unanswered task every 50 ms); the dispatchers
        # never exit by themselves.
        while pending:
            pending = {t for t in pending if not (tasks_dir / t / "response.json").exists()}
            if not pending:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"agent-lanes dispatchers: {len(pending)} tasks unanswered after {timeout:g} s")
            alive = [p for p in procs if p.poll() is None]
            if not alive:
                raise RuntimeError("every dispatcher exited: " + tail(work / "dispatchers" / "dispatcher-0.err"))
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        # response.json comes first; let the last respond finish task.json and its event.
        while any(json.loads((tasks_dir / t / "task.json").read_text())["state"] != "completed" for t in ids):
            if time.monotonic() > deadline:
                raise RuntimeError("agent-lanes dispatchers: answers written but tasks not completed")
            time.sleep(0.05)
        exited = [i for i, p in enumerate(procs) if p.poll() is not None]
        # CPU of the `agent-lanes wait` children about to be orphaned by the kill (never reaped by us).
        orphans = group_cpu({p.pid for p in procs}, skip={p.pid for p in procs})
        busy_end = machine_busy() - busy0
    finally:
        kill_groups(procs)
    cpu = children_cpu() - cpu0 + orphans
    # `cpu` runs a little past `wall` (until the kill): compare it with the machine's busy time until then.
    others = foreign(busy_end, cpu, wall)
    check_answers(store, ids, "agent-lanes dispatchers")
    agents = AgentRuns.read(runs)
    races = sum(path.read_text(encoding="utf-8", errors="replace").count("[race]")
                for path in (work / "dispatchers").iterdir())
    note = f"{races} claims lost to another dispatcher ({races / len(ids):.1f} per task: every dispatcher " \
           "that finishes its `wait --lane` gets the same oldest task, one wins the claim)"
    if exited:
        note += f"; {len(exited)} of {slots} dispatchers exited during the run"
    return Drain(wall, cpu, agents, len(ids), slots, others, note)


def idle_lanes_tui(env: Env, store: Path, settle: float, window: float, work: Path) -> tuple[float, float, float]:
    """(% of one core over the window, % used by other processes, seconds until supervisor_started)."""
    err_path = work / "idle-lanes-tui.err"
    with open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(env.lanes_tui(store, "--no-ui", "--json"), cwd=env.ws.root, env=env.child_env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, start_new_session=True)
    try:
        assert proc.stdout is not None
        LineReader(proc.stdout).wait_for('"supervisor_started"', 300)
        ready = time.perf_counter() - t0
        time.sleep(settle)
        if proc.poll() is not None:
            raise RuntimeError(f"idle supervisor exited: {tail(err_path)}")
        w0, (s0, th0), b0 = time.monotonic(), queue_bench._proc_cpu(proc.pid), machine_busy()
        time.sleep(window)
        w1, (s1, th1), b1 = time.monotonic(), queue_bench._proc_cpu(proc.pid), machine_busy()
        if proc.poll() is not None:
            raise RuntimeError(f"idle supervisor exited during the window: {tail(err_path)}")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            kill_groups([proc])
    if th0 and set(th0) == set(th1):  # same threads: nanosecond-precise schedstat
        used = sum(th1[t] - th0[t] for t in th1) / 1e9
    else:
        used = s1 - s0
    return 100.0 * used / (w1 - w0), foreign(b1 - b0, used, w1 - w0), ready


def idle_dispatchers(env: Env, store: Path, count: int, settle: float, window: float,
                     work: Path) -> tuple[float, float]:
    """(% of one core used by `count` dispatchers and their `agent-lanes wait`, % used by other processes)."""
    procs = start_dispatchers(env, store, count, work / f"idle-dispatchers-{count}")
    try:
        time.sleep(settle)
        pgids = {p.pid for p in procs}
        w0, c0, b0 = time.monotonic(), group_cpu(pgids), machine_busy()
        time.sleep(window)
        w1, c1, b1 = time.monotonic(), group_cpu(pgids), machine_busy()
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("an idle dispatcher exited: " + tail(work / f"idle-dispatchers-{count}" / "dispatcher-0.err"))
    finally:
        kill_groups(procs)
    return 100.0 * (c1 - c0) / (w1 - w0), foreign(b1 - b0, c1 - c0, w1 - w0)


# -- output ------------------------------------------------------------------------------------------


def ratio(better: float, worse: float) -> str:
    if better <= 0:
        return "n/a"
    r = worse / better
    return f"{r:.0f}x" if r >= 100 else f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def pct(value: float) -> str:
    return f"{value:.1f} %" if value >= 0.1 else f"{value:.2f} %"


def render(header: str, rows: list[tuple[str, ...]], notes: list[str]) -> str:
    lines = [
        header,
        "",
        "| # | Measurement | agent-lanes 0.1.1 dispatcher.sh | lanes-tui --no-ui | lanes-tui better by | Target |",
        "|---|---|---:|---:|---:|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines.append("")
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


# -- main -----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 40 tasks, 5 s idle windows")
    parser.add_argument("--tasks", type=int, help="tasks to drain (default 500; --quick: 40)")
    parser.add_argument("--slots", type=int, default=8, help="concurrent workers / dispatchers (default 8)")
    parser.add_argument("--idle-tasks", type=int, default=10_000, help="answered tasks in the idle store (default 10000)")
    parser.add_argument("--idle-window", type=float, help="seconds of idle CPU sampling (default 30; --quick: 5)")
    parser.add_argument("--markdown-out", type=Path, help="also write the table to this file")
    parser.add_argument("--tmpdir", help="where to create the workspace and stores (default: the system temp dir)")
    args = parser.parse_args(argv)
    args.tasks = args.tasks or (40 if args.quick else 500)
    args.idle_window = args.idle_window or (5.0 if args.quick else 30.0)
    args.settle = 2.0 if args.quick else 5.0
    args.timeout = 900.0 if args.quick else 3600.0
    if args.tasks < 1 or args.slots < 1 or args.idle_tasks < 20:
        parser.error("--tasks and --slots must be at least 1, --idle-tasks at least 20")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    if shutil.which("jq") is None:
        sys.exit("supervisor_bench: agent-lanes' dispatcher needs jq on PATH (apt-get install -y jq)")
    base = Path(tempfile.mkdtemp(prefix="lanes-supervisor-bench-", dir=args.tmpdir))
    try:
        child_env = dict(os.environ)
        for name in [k for k in child_env if k.startswith("STANDIN_")] + ["PYTHONDONTWRITEBYTECODE", "LANES_TUI_DEBUG"]:
            child_env.pop(name, None)
        child_env.update(PYTHONPYCACHEPREFIX=str(base / "pycache"), STANDIN_MODE="ok", STANDIN_DELAY="0")
        venv_bin = str(Path(sys.executable).parent)  # agent-lanes must be on the dispatchers' PATH
        child_env["PATH"] = os.pathsep.join([venv_bin, child_env.get("PATH", "")])
        ws = make_workspace(base)
        scaffold = base / "agent-lanes-init"
        subprocess.run([ws.al_cli, "init", str(scaffold)], check=True, capture_output=True, env=child_env)
        dispatcher = scaffold / "handoff" / "dispatcher.sh"
        settings = ws.config.parent / "lanes-tui.yaml"
        settings.write_text(
            "environment:\n  allow: [\"STANDIN_*\"]\n"
            f"concurrency:\n  global: {args.slots}\n  vendors: {{claude: {args.slots}}}\n",
            encoding="utf-8",
        )
        env = Env(ws, base, dispatcher, settings, child_env)
        log(f"workspace under {base}; dispatcher {dispatcher}")

        # -- drain -------------------------------------------------------------------------
        template = base / "drain-template"
        t0 = time.monotonic()
        _, ids = build_drain_store(template, ws, args.tasks)
        log(f"submitted {args.tasks} threaded tasks through agent-lanes in {time.monotonic() - t0:.1f} s")
        lt_store, al_store = base / "drain-lt", base / "drain-al"
        shutil.copytree(template, lt_store, symlinks=True)
        shutil.copytree(template, al_store, symlinks=True)
        lt = drain_lanes_tui(env, lt_store, ids, args.slots, base / "work-lt", args.timeout)
        log(f"lanes-tui drained {args.tasks} tasks in {lt.wall:.1f} s")
        al = drain_dispatchers(env, al_store, ids, args.slots, base / "work-al", args.timeout)
        log(f"agent-lanes dispatchers drained {args.tasks} tasks in {al.wall:.1f} s")
        for name, d in (("lanes-tui", lt), ("agent-lanes", al)):
            if d.agents.count != d.tasks or d.agents.failed:
                raise RuntimeError(f"{name}: {d.agents.count} agent runs ({d.agents.failed} failed) for {d.tasks} tasks")
        shutil.rmtree(lt_store)
        shutil.rmtree(al_store)

        # -- idle --------------------------------------------------------------------------
        idle_store = base / "idle"
        t0 = time.monotonic()
        build_idle_store(idle_store, ws, args.idle_tasks)
        log(f"generated {args.idle_tasks:,} answered tasks in {time.monotonic() - t0:.1f} s")
        summary = json.loads(subprocess.run(
            [ws.al_cli, "--config", str(ws.config), "--store", str(idle_store), "status", "--all", "--json"],
            check=True, capture_output=True, text=True, env=child_env).stdout)
        assert summary["count"] == args.idle_tasks and summary["summary"]["completed"] == args.idle_tasks, summary["summary"]
        lt_idle, lt_idle_others, lt_ready = idle_lanes_tui(env, idle_store, args.settle, args.idle_window, base)
        log(f"idle lanes-tui: {pct(lt_idle)} of a core (ready after {lt_ready:.1f} s)")
        al_idle_all, al_idle_all_others = idle_dispatchers(env, idle_store, args.slots, args.settle, args.idle_window, base)
        log(f"idle agent-lanes, {args.slots} dispatchers: {pct(al_idle_all)} of a core")
        al_idle_one, al_idle_one_others = idle_dispatchers(env, idle_store, 1, args.settle, args.idle_window, base)
        log(f"idle agent-lanes, 1 dispatcher: {pct(al_idle_one)} of a core")
    finally:
        shutil.rmtree(base, ignore_errors=True)

    n, slots, window, idle_n = args.tasks, args.slots, args.idle_window, args.idle_tasks
    overhead_ok = al.overhead_per_slot >= 5 * lt.overhead_per_slot
    rows = [
        ("1", f"drain {n} tasks, {slots} slots: wall time", fmt_value(al.wall, "s"), fmt_value(lt.wall, "s"),
         ratio(lt.wall, al.wall), ""),
        ("2", "throughput (tasks/s)", f"{al.per_second:.2f}", f"{lt.per_second:.2f}",
         ratio(al.per_second, lt.per_second), ""),
        ("3", "per-task overhead per slot: (slots x wall - agent time) / tasks", ms(al.overhead_per_slot),
         ms(lt.overhead_per_slot), ratio(lt.overhead_per_slot, al.overhead_per_slot),
         f"at least 5x lower: {'met' if overhead_ok else 'MISSED'}"),
        ("4", "orchestration CPU per task (agents' own CPU excluded)", ms(al.orchestration_cpu),
         ms(lt.orchestration_cpu), ratio(lt.orchestration_cpu, al.orchestration_cpu), ""),
        ("5", "the agent's own run time per task (mean; same stand-in)", ms(al.agents.wall / n),
         ms(lt.agents.wall / n), "-", ""),
        ("6", f"idle, empty queue, {idle_n:,} tasks in store: CPU over {window:g} s, {slots} dispatchers vs "
              "the supervisor (% of one core)", pct(al_idle_all), pct(lt_idle), ratio(lt_idle, al_idle_all),
         f"lanes-tui under 1 %: {'met' if lt_idle < 1.0 else 'MISSED'}"),
        ("7", "the same, one dispatcher vs the supervisor", pct(al_idle_one), pct(lt_idle),
         ratio(lt_idle, al_idle_one), ""),
    ]
    header = machine_line(Path(args.tmpdir or tempfile.gettempdir()))
    header += (f". Run: {n} tasks, {slots} slots, idle store {idle_n:,} tasks, idle window {window:g} s, "
               f"total {time.monotonic() - started:.0f} s; 1-minute load average {load_before:.2f} at the start, "
               f"{os.getloadavg()[0]:.2f} at the end.")
    notes = [
        f"Same tasks for both: {n} queued tasks on one lane, submitted through agent-lanes' HandoffStore, each "
        f"with metadata required_vendor=claude, thread_id and parent_task_id (an answered task), copied once per "
        "tool. Agent: tests/standin/agent_standin.py as `claude` (mode ok, STANDIN_DELAY=0) behind a bash wrapper "
        f"that times it; lanes-tui runs it with its built-in claude argv (stream-json), the dispatcher with "
        f"HEADLESS_AGENT_CMD='{HEADLESS_AGENT_CMD}' (text output: the answer is the response body). Both tools' "
        "answers are checked: every task completed, one `response` event, the stand-in's answer as body, one agent "
        "run per task.",
        f"lanes-tui: `lanes-tui --no-ui --drain` with concurrency global {slots}, vendors.claude {slots}, lease and "
        f"renew at their defaults (900 s / 60 s); wall time is the whole process (start-up and shutdown included). "
        f"agent-lanes: {slots} copies of the dispatcher.sh `agent-lanes init` scaffolds, VENDOR=claude, LANE={LANE}, "
        "defaults otherwise (lease 900 s, heartbeat 60 s); wall time from starting them until the last response.json "
        "appears (polled every 50 ms).",
        "Row 3: each slot is busy for `wall` seconds, so the slots together offer slots x wall seconds; subtracting "
        "the time the agents themselves ran (each stand-in's wall time, measured inside the wrapper) leaves the time "
        "spent claiming, preparing input, spawning, recording events and answering, or idle for want of a claimable "
        "task; divided by the tasks it is the overhead one task adds to its slot. With more slots than CPUs (here "
        f"{slots} on {os.cpu_count()}) it includes waiting for a CPU, for both tools alike.",
        "Row 4: user+system CPU of every process the tool started (getrusage of reaped children, plus the "
        "`agent-lanes wait` processes still polling when the dispatchers were killed) minus the stand-ins' own CPU "
        "(bash `times` in the wrapper); lanes-tui's per-worker guard process and the wrapper's bash count as "
        f"orchestration. Totals: agent-lanes {al.cpu:.1f} s, lanes-tui {lt.cpu:.1f} s; agents alone: agent-lanes "
        f"{al.agents.cpu:.1f} s, lanes-tui {lt.agents.cpu:.1f} s.",
        f"Rows 6-7: {idle_n:,} answered tasks (bench/queue_bench.py's generator, every task answered), no queued "
        f"task. lanes-tui: `lanes-tui --no-ui` (no --drain), measured {args.settle:g} s after its supervisor_started "
        f"line (which came {lt_ready:.1f} s after launch: the first full read of the store); CPU from /proc "
        "schedstat of all its threads. agent-lanes: the dispatchers blocked in `agent-lanes wait --lane "
        f"{LANE} --json --quiet`, measured {args.settle:g} s after launch; CPU from /proc (utime+stime+cutime+cstime) "
        "of every process in their process groups. Both include any periodic work that falls in the window "
        "(lanes-tui's safety-net rescan runs every 30 s).",
    ]
    if al.note:
        notes.append(f"agent-lanes run: {al.note}.")
    notes.append(
        "Other processes on the machine during each phase (CPU not used by the measured tool, % of one core, "
        f"{os.cpu_count()} cores = {100 * (os.cpu_count() or 1)} %): drain with lanes-tui {pct(lt.others)}, drain with "
        f"the dispatchers {pct(al.others)}, idle lanes-tui {pct(lt_idle_others)}, idle {slots} dispatchers "
        f"{pct(al_idle_all_others)}, idle 1 dispatcher {pct(al_idle_one_others)}."
    )
    table = render(header, rows, notes)
    bench_common.publish(table, args.markdown_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
