#!/usr/bin/env python3
"""Dashboard benchmark: the full-screen `lanes-tui` app in a real pty, next to `lanes-tui --no-ui`.

The issue's targets: with 10,000 tasks in the store the first frame appears in
under 1.5 s, a change shows within 200 ms, and an idle dashboard uses under 2%
of a core. This script measures them the way a user meets them: the
`lanes-tui` console script (no subcommand, `--config handoff/handoff.yaml`)
runs in a pseudo-terminal of 120x40 with TERM=xterm-256color, and what it
draws is read back from the pty's master side (a reader thread, select +
os.read, every chunk time-stamped on arrival). ANSI sequences are stripped
from the byte stream before searching it, so a marker is found however Textual
splits a line into styled pieces.

The store: bench/queue_bench.py's generator (imported), 90% completed, 10%
queued on two lanes, written where handoff.yaml's queue_root points. The
workspace's lanes-tui.yaml sets `lane_defaults: {mode: external}`, so the
supervisor never runs those tasks, and one extra `probe` lane internal (used
only by the headless latency probe below). Three programs, each launched N
times (default 3) on the same store:

  * the dashboard with its embedded supervisor (lanes external: it only watches);
  * the dashboard with --watch-only (no supervisor at all);
  * `lanes-tui --no-ui --json` (the headless supervisor), also in the pty.

Per launch:
  1. first byte: spawn (just before pty.fork) to the first byte on the pty;
  2. first frame: spawn to the header line showing the loaded store
     (`queued Q  claimed C  completed N`, drawn in the same refresh as the
     table's rows); for --no-ui: spawn to its `supervisor_started` line;
  3. idle CPU: 3 s after the first frame, utime+stime of the process and all
     its descendants (and reaped children) from /proc over a 10 s window, as %
     of one core;
  4. change latency, 5 times: a task created in this process with
     lanes_tui's FileBackend.create_task, timed from just before the call until
     the pty shows it: the dashboard's header `queued Q+1`; --no-ui prints
     nothing for tasks on external lanes, so its probe task goes to the
     internal `probe` lane with metadata.depends_on = a queued task, and the
     time runs until its `task_waiting` JSON line (detection plus one planning
     step, no agent started).
Then the dashboard is quit with `q` (the time to exit is reported), --no-ui
with SIGTERM; SIGTERM/SIGKILL to the process group if they linger, and any
process left in the session is killed and reported.

One untimed launch of each dashboard mode goes first (its first frame is
reported: the first launch on a freshly written store); Python bytecode is
warm for all launches (a private PYTHONPYCACHEPREFIX, filled by a warm-up
launch on a small store). agent-lanes has no dashboard; its `status --all`
(human output, through a pipe) on the same store is the nearest thing an
agent-lanes user runs to see the queue, shown beside the first frame.

    python bench/ui_bench.py                   # 10,000 tasks, 3 launches of each (about 3.5 minutes)
    python bench/ui_bench.py --quick           # smoke run: 1,000 tasks, 1 launch, 5 s idle window
    python bench/ui_bench.py --markdown-out table.md --tmpdir /var/tmp

Progress goes to stderr; the table (markdown) goes to stdout.
"""

from __future__ import annotations

import argparse
import bisect
import codecs
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import statistics
import struct
import sys
import tempfile
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for folder in (REPO, BENCH):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import bench_common  # noqa: E402
import queue_bench  # noqa: E402  (bench/queue_bench.py: generator, workspace, helpers)
from queue_bench import (  # noqa: E402
    LANES,
    WORKSPACE_ID,
    Workspace,
    fmt_value,
    generate_store,
    log,
    machine_line,
    make_workspace,
    run_cli,
)

from lanes_tui.storage.files.backend import FileBackend  # noqa: E402
from lanes_tui.ui.app import COALESCE_SECONDS  # noqa: E402  (quoted in the notes)

CLK_TCK = os.sysconf("SC_CLK_TCK")
PROBE_LANE = "probe"  # internal: the headless supervisor reports its tasks (they wait on a dependency)
FIRST_FRAME_TARGET = 1.5  # seconds
CHANGE_TARGET = 0.200  # seconds
IDLE_TARGET = 2.0  # % of one core

# Complete escape sequences: CSI, OSC (BEL or ST), DCS, charset selection, two-byte ESC x.
ANSI = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|P[^\x1b]*\x1b\\|[()*+][0-9A-Za-z]|[@-Z\\-_=>78])"
)
HEADER = r"queued\s+(?P<queued>\d+)\s+claimed\s+\d+\s+completed\s+{completed}(?!\d)"


# -- the pty ----------------------------------------------------------------------------


@dataclass
class _Watch:
    pattern: re.Pattern[str]
    since: int  # absolute offset into the stripped text
    done: threading.Event = field(default_factory=threading.Event)
    at: float = 0.0
    match: re.Match[str] | None = None


class PtyProcess:
    """A command on a fresh pty (session leader, the pty its controlling terminal), read by a thread.

    The thread keeps the output flowing (a full pty buffer would stall the child's
    writes), strips escape sequences and checks the registered watches on every
    chunk; a watch (also one registered after its text arrived) reports the
    perf_counter time at which the chunk that completed the match was read.
    """

    KEEP = 256 * 1024  # stripped characters kept (watches only look at what arrives after them)
    OVERLAP = 4096  # characters before a new chunk searched again (a marker split over two chunks)

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], rows: int, cols: int) -> None:
        self.argv = argv
        self.started = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # child: size the terminal before anything can ask for it, then exec
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                os.chdir(cwd)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.first_byte: float | None = None
        self.bytes_read = 0
        self.returncode: int | None = None
        self.eof = threading.Event()
        self._lock = threading.Lock()
        self._text = ""  # the stripped output from absolute offset self._base on
        self._base = 0
        self._ends: list[int] = []  # absolute end offset of each retained chunk's stripped text ...
        self._times: list[float] = []  # ... and when it was read
        self._pending = ""  # a possibly incomplete escape sequence at the end of the last chunk
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._watches: list[_Watch] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    # reading

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.5)
                if not ready:
                    if self.poll() is not None:
                        break
                    continue
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the child side is closed
                break
            now = time.perf_counter()
            if not chunk:
                break
            if self.first_byte is None:
                self.first_byte = now
            self.bytes_read += len(chunk)
            self._feed(self._decoder.decode(chunk), now)
        self.eof.set()

    def _feed(self, decoded: str, now: float) -> None:
        text = self._pending + decoded
        self._pending = ""
        cut = text.rfind("\x1b")
        if cut >= 0 and len(text) - cut < 512 and not ANSI.match(text, cut):
            text, self._pending = text[:cut], text[cut:]
        clean = ANSI.sub("", text)
        with self._lock:
            start = self._base + len(self._text)
            self._text += clean
            self._ends.append(start + len(clean))
            self._times.append(now)
            if len(self._text) > 2 * self.KEEP:
                drop = len(self._text) - self.KEEP
                self._text = self._text[drop:]
                self._base += drop
                keep = bisect.bisect_right(self._ends, self._base)
                del self._ends[:keep], self._times[:keep]
            for watch in self._watches:
                self._check(watch, max(watch.since, start - self.OVERLAP))
            self._watches = [w for w in self._watches if not w.done.is_set()]

    def _check(self, watch: _Watch, since: int) -> None:
        match = watch.pattern.search(self._text, max(0, since - self._base))
        if match:
            # The chunk that completed the match: the first whose end reaches the match's end.
            end = self._base + match.end()
            watch.match, watch.at = match, self._times[bisect.bisect_left(self._ends, end)]
            watch.done.set()

    def mark(self) -> int:
        """The current end of the stripped output: search from here for what happens next."""
        with self._lock:
            return self._base + len(self._text)

    def watch(self, pattern: str, since: int) -> _Watch:
        item = _Watch(re.compile(pattern), since)
        with self._lock:
            self._check(item, since)
            if not item.done.is_set():
                self._watches.append(item)
        return item

    def wait(self, item: _Watch, timeout: float, what: str) -> _Watch:
        deadline = time.monotonic() + timeout
        while not item.done.wait(0.05):
            if self.eof.is_set() and not item.done.is_set():
                raise RuntimeError(f"{what}: the program ended first; its screen ended with: {self.tail()!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: not seen within {timeout:g} s; the screen ended with: {self.tail()!r}")
        return item

    def tail(self, chars: int = 600) -> str:
        with self._lock:
            return re.sub(r"\s+", " ", self._text[-chars * 4:])[-chars:]

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    # the process

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait_exit(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.returncode

    def stop(self, keys: bytes | None, grace: float = 10.0) -> tuple[float | None, list[str]]:
        """Ask the program to end (keys on the pty, else SIGTERM), then force it.

        Returns (seconds until it exited if it did so when asked, notes about what had to be forced).
        """
        notes: list[str] = []
        asked = time.perf_counter()
        clean: float | None = None
        if self.poll() is None:
            if keys is not None:
                try:
                    self.write(keys)
                except OSError:  # the terminal side is already gone
                    pass
            else:
                os.kill(self.pid, signal.SIGTERM)
            if self.wait_exit(grace) is not None:
                clean = time.perf_counter() - asked
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.poll() is not None:
                break
            notes.append(f"{' '.join(self.argv[-2:])}: sent {sig.name} to its process group")
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass
            self.wait_exit(5.0)
        # Anything still in its session (it is the session leader: sid == its pid): kill it.
        for pid in sorted(set(session_members(self.pid)) - {self.pid}):
            try:
                os.kill(pid, signal.SIGKILL)
                notes.append(f"killed left-over process {pid}")
            except ProcessLookupError:
                pass
        self._thread.join(timeout=5)
        os.close(self.fd)
        return clean, notes


# -- /proc -------------------------------------------------------------------------------------


def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].decode().split()
    except (OSError, IndexError):
        return None


def _all_stats() -> dict[int, list[str]]:
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat_fields(entry)) is not None:
            stats[int(entry)] = fields
    return stats


def session_members(sid: int) -> list[int]:
    """Processes in session `sid` (fields after the comm: state, ppid, pgrp, session, ...)."""
    return [pid for pid, fields in _all_stats().items() if int(fields[3]) == sid]


def tree_cpu(root: int) -> float:
    """CPU seconds of root and every live descendant (utime+stime), plus root's reaped children."""
    stats = _all_stats()
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    if root not in stats:
        raise RuntimeError(f"process {root} is gone")
    ticks = int(stats[root][13]) + int(stats[root][14])  # cutime, cstime of the root
    todo = [root]
    while todo:
        pid = todo.pop()
        ticks += int(stats[pid][11]) + int(stats[pid][12])  # utime, stime
        todo.extend(children.get(pid, []))
    return ticks / CLK_TCK


def machine_busy() -> float:
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


# -- one launch --------------------------------------------------------------------------------


@dataclass
class Launch:
    first_byte: float
    ready: float  # first frame (dashboard) / supervisor_started (--no-ui)
    ready_cpu: float  # CPU seconds used until then
    idle: float | None = None  # % of one core
    idle_others: float | None = None  # % of one core used by everything else meanwhile
    changes: list[float] = field(default_factory=list)
    quit: float | None = None
    bytes_read: int = 0


@dataclass
class Bench:
    ws: Workspace
    store: FileBackend
    env: dict[str, str]
    completed: int
    queued: int  # queued tasks in the store now (grows with every probe)
    blocker: str  # a queued task on an external lane: the headless probes depend on it
    rows: int
    cols: int
    settle: float
    window: float
    changes: int
    notes: list[str] = field(default_factory=list)

    def argv(self, *args: str) -> list[str]:
        return [self.ws.lt_cli, "--config", "handoff/handoff.yaml", *args]

    def spawn(self, *args: str) -> PtyProcess:
        return PtyProcess(self.argv(*args), self.ws.root, self.env, self.rows, self.cols)

    def create(self, lane: str, label: str, metadata: dict[str, object] | None = None) -> tuple[float, str]:
        """(perf_counter just before create_task, the new task's id)."""
        t0 = time.perf_counter()
        task = self.store.create_task(
            workspace_id=WORKSPACE_ID, correlation_id=label, source_agent="ui-bench", lane=lane,
            workspace_root=self.ws.root, request_path=self.ws.request,
            response_path=self.ws.root / "reviews" / f"{label}.md", prompt=f"ui_bench probe {label}",
            metadata=metadata,
        )
        self.queued += 1
        return t0, task["id"]

    def header(self, queued: int | None = None) -> str:
        pattern = HEADER.format(completed=self.completed)
        return pattern if queued is None else pattern.replace(r"(?P<queued>\d+)", str(queued))

    def idle_cpu(self, proc: PtyProcess) -> tuple[float, float]:
        time.sleep(self.settle)
        w0, c0, b0 = time.monotonic(), tree_cpu(proc.pid), machine_busy()
        time.sleep(self.window)
        w1, c1, b1 = time.monotonic(), tree_cpu(proc.pid), machine_busy()
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.argv}: exited during the idle window: {proc.tail()!r}")
        wall, used = w1 - w0, c1 - c0
        return 100.0 * used / wall, max(0.0, 100.0 * ((b1 - b0) - used) / wall)

    def dashboard(self, mode_args: tuple[str, ...], tag: str, *, full: bool = True) -> Launch:
        """One launch of the dashboard: first byte, first frame, and (full) idle CPU and change latency."""
        proc = self.spawn(*mode_args)
        try:
            frame = proc.wait(proc.watch(self.header(), 0), 120, "first frame")
            shown = int(frame.match.group("queued")) if frame.match else -1
            if shown != self.queued:
                raise RuntimeError(f"first frame shows queued {shown}, the store holds {self.queued}")
            assert proc.first_byte is not None
            launch = Launch(proc.first_byte - proc.started, frame.at - proc.started, tree_cpu(proc.pid))
            if full:
                launch.idle, launch.idle_others = self.idle_cpu(proc)
                for k in range(self.changes):
                    since = proc.mark()
                    item = proc.watch(self.header(self.queued + 1), since)
                    t0, _ = self.create(LANES[k % len(LANES)], f"ui-{tag}-{k}")
                    proc.wait(item, 30, f"change {k + 1} (header queued {self.queued})")
                    launch.changes.append(item.at - t0)
                    time.sleep(0.6 + 0.1 * k)  # land the next one at another phase of the 1 s tick
        finally:
            launch_quit, notes = proc.stop(b"q")
            self.notes.extend(notes)
        if proc.returncode != 0:
            raise RuntimeError(f"dashboard exited {proc.returncode}: {proc.tail()!r}")
        launch.quit, launch.bytes_read = launch_quit, proc.bytes_read
        return launch

    def headless(self, tag: str) -> Launch:
        """One launch of `lanes-tui --no-ui --json`: first byte, supervisor_started, idle CPU, probe latency."""
        proc = self.spawn("--no-ui", "--json")
        try:
            started = proc.wait(proc.watch(r'"event": "supervisor_started"', 0), 120, "supervisor_started")
            assert proc.first_byte is not None
            launch = Launch(proc.first_byte - proc.started, started.at - proc.started, tree_cpu(proc.pid))
            launch.idle, launch.idle_others = self.idle_cpu(proc)
            for k in range(self.changes):
                since = proc.mark()
                t0, task_id = self.create(PROBE_LANE, f"nui-{tag}-{k}", {"depends_on": [self.blocker]})
                # Registered after the fact: the match is timed by the chunk it arrived in.
                item = proc.watch(rf'"event": "task_waiting"[^\n]*"task_id": "{re.escape(task_id)}"', since)
                proc.wait(item, 30, f"task_waiting for probe {k + 1}")
                launch.changes.append(item.at - t0)
                time.sleep(0.6 + 0.1 * k)
        finally:
            launch_quit, notes = proc.stop(None)
            self.notes.extend(notes)
        launch.quit, launch.bytes_read = launch_quit, proc.bytes_read
        return launch


# -- output ----------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def pct(value: float) -> str:
    return f"{value:.1f} %" if value >= 0.1 else f"{value:.2f} %"


def secs(values: list[float]) -> str:
    return ", ".join(f"{v * 1000:.0f}" for v in values)


def met(value: float, target: float) -> str:
    return "yes" if value < target else "**no**"


def render(header: str, rows: list[tuple[str, ...]], notes: list[str]) -> str:
    lines = [
        header,
        "",
        "| Measurement (median) | Tasks | lanes-tui dashboard | lanes-tui --no-ui | agent-lanes 0.1.1 (nearest) "
        "| Target | Met? |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines.append("")
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def build_table(args: argparse.Namespace, runs: dict[str, list[Launch]], cold: dict[str, Launch],
                al_status: list[float], create_times: list[float], bench: Bench, header: str) -> str:
    n = f"{args.tasks:,}"
    sup, wo, nui = runs["supervisor"], runs["watch-only"], runs["no-ui"]

    def med(launches: list[Launch], pick: Callable[[Launch], float]) -> float:
        return median([pick(x) for x in launches])

    def changes(launches: list[Launch]) -> list[float]:
        return [c for x in launches for c in x.changes]

    def idles(launches: list[Launch]) -> str:
        return ", ".join(f"{pct(x.idle or 0.0)} ({pct(x.idle_others or 0.0)})" for x in launches)

    ff_sup, ff_wo = med(sup, lambda x: x.ready), med(wo, lambda x: x.ready)
    ch_sup, ch_wo = median(changes(sup)), median(changes(wo))
    idle_sup, idle_wo = med(sup, lambda x: x.idle or 0.0), med(wo, lambda x: x.idle or 0.0)
    window = f"{args.idle_window:g} s"
    rows = [
        ("first frame: spawn to the loaded table (header `completed N`); --no-ui: to `supervisor_started` "
         "— dashboard embeds the supervisor (lanes external)", n, fmt_value(ff_sup, "s"),
         fmt_value(med(nui, lambda x: x.ready), "s"), f"{fmt_value(median(al_status), 's')} (`status --all`)",
         f"< {FIRST_FRAME_TARGET:g} s", met(ff_sup, FIRST_FRAME_TARGET)),
        ("first frame — `--watch-only`", n, fmt_value(ff_wo, "s"), "-", "-",
         f"< {FIRST_FRAME_TARGET:g} s", met(ff_wo, FIRST_FRAME_TARGET)),
        ("first byte of output — dashboard with supervisor", n, fmt_value(med(sup, lambda x: x.first_byte), "s"),
         fmt_value(med(nui, lambda x: x.first_byte), "s"), "-", "-", "-"),
        ("first byte of output — `--watch-only`", n, fmt_value(med(wo, lambda x: x.first_byte), "s"), "-", "-",
         "-", "-"),
        ("change shown: create_task to header `queued Q+1`; --no-ui: to its `task_waiting` line "
         "— dashboard with supervisor", n, fmt_value(ch_sup, "s"), fmt_value(median(changes(nui)), "s"), "-",
         f"< {CHANGE_TARGET * 1000:.0f} ms", met(ch_sup, CHANGE_TARGET)),
        ("change shown — `--watch-only`", n, fmt_value(ch_wo, "s"), "-", "-",
         f"< {CHANGE_TARGET * 1000:.0f} ms", met(ch_wo, CHANGE_TARGET)),
        (f"idle CPU over {window}, % of one core — dashboard with supervisor", n, pct(idle_sup),
         pct(med(nui, lambda x: x.idle or 0.0)), "-", f"< {IDLE_TARGET:g} %", met(idle_sup, IDLE_TARGET)),
        (f"idle CPU over {window} — `--watch-only`", n, pct(idle_wo), "-", "-", f"< {IDLE_TARGET:g} %",
         met(idle_wo, IDLE_TARGET)),
    ]
    notes = [
        f"Each program launched {args.repeat} time(s) in a pty of {args.cols}x{args.rows} (TERM=xterm-256color) "
        "on the same store; every cell is the median over launches (change rows: over all "
        f"{args.repeat} x {args.changes} samples). Bytecode warm; the store's files in the page cache.",
        f"First frames per launch (ms): with supervisor {secs([x.ready for x in sup])} ms, watch-only "
        f"{secs([x.ready for x in wo])} ms, --no-ui `supervisor_started` {secs([x.ready for x in nui])} ms. "
        f"The untimed first launches on the freshly written store: with supervisor "
        f"{fmt_value(cold['supervisor'].ready, 's')}, watch-only {fmt_value(cold['watch-only'].ready, 's')}. "
        f"CPU used until the first frame: {med(sup, lambda x: x.ready_cpu):.2f} s (supervisor), "
        f"{med(wo, lambda x: x.ready_cpu):.2f} s (watch-only), {med(nui, lambda x: x.ready_cpu):.2f} s (--no-ui).",
        f"Change samples (ms): with supervisor {secs(changes(sup))}; watch-only {secs(changes(wo))}; --no-ui "
        f"{secs(changes(nui))}. They include create_task itself (median {fmt_value(median(create_times), 's')}, "
        f"fsyncs included) and the dashboard's {COALESCE_SECONDS * 1000:.0f} ms coalescing of redraws. Dashboard changes: a queued task "
        f"on an external lane ({', '.join(LANES)}); --no-ui changes: a task on the internal `{PROBE_LANE}` lane that "
        "depends on a queued task (its supervisor plans it and reports `task_waiting`; nothing is run).",
        f"Idle CPU: {args.settle:g} s after the first frame, utime+stime from /proc of the program and all its "
        f"descendants over {window} (10 ms clock ticks); the dashboard redraws ages once a second, when they change (output per launch: "
        f"{med(sup, lambda x: x.bytes_read) / 1024:.0f} KiB with supervisor, "
        f"{med(wo, lambda x: x.bytes_read) / 1024:.0f} KiB watch-only). Per launch: with supervisor "
        f"{idles(sup)}; watch-only {idles(wo)}; --no-ui {idles(nui)} (in brackets: what all other processes on "
        f"the machine used meanwhile, % of one core, {os.cpu_count()} cores).",
        f"Quit: `q` on the pty, exit after {fmt_value(med(sup, lambda x: x.quit or 0.0), 's')} (supervisor) and "
        f"{fmt_value(med(wo, lambda x: x.quit or 0.0), 's')} (watch-only); --no-ui: SIGTERM, exit after "
        f"{fmt_value(med(nui, lambda x: x.quit or 0.0), 's')}. agent-lanes `status --all` (human output, "
        f"through a pipe): median of {len(al_status)} runs after a warm-up.",
    ]
    if any(x.quit is None for x in sup + wo + nui):
        notes.append("Some launches did not exit when asked and were killed (see below).")
    notes += bench.notes
    return render(header, rows, notes)


# -- main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,000 tasks, 1 launch each, 5 s idle window")
    parser.add_argument("--tasks", type=int, help="tasks in the store (default 10000; --quick: 1000)")
    parser.add_argument("--repeat", type=int, help="launches of each program (default 3; --quick: 1)")
    parser.add_argument("--changes", type=int, default=5, help="change-latency samples per launch (default 5)")
    parser.add_argument("--idle-window", type=float, help="seconds of idle CPU sampling (default 10; --quick: 5)")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after the first frame before sampling")
    parser.add_argument("--size", default="120x40", help="terminal COLSxROWS (default 120x40)")
    parser.add_argument("--markdown-out", type=Path, help="also write the table to this file")
    parser.add_argument("--tmpdir", help="where to create the workspace and store (default: the system temp dir)")
    args = parser.parse_args(argv)
    args.tasks = args.tasks or (1000 if args.quick else 10_000)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.idle_window = args.idle_window or (5.0 if args.quick else 10.0)
    try:
        args.cols, args.rows = (int(x) for x in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size: expected COLSxROWS, got {args.size!r}")
    if args.tasks < 20 or args.repeat < 1 or args.changes < 1:
        parser.error("--tasks must be at least 20, --repeat and --changes at least 1")
    return args


def child_env(base: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "LANES_TUI_DEBUG", "NO_COLOR", "TEXTUAL",
                 "COLUMNS", "LINES"):
        env.pop(name, None)
    env.update(TERM="xterm-256color", PYTHONPYCACHEPREFIX=str(base / "pycache"))
    return env


def write_settings(ws: Workspace) -> None:
    (ws.config.parent / "lanes-tui.yaml").write_text(
        "# ui_bench: the supervisor only watches the generated lanes; `probe` is for the --no-ui latency probe.\n"
        "lane_defaults: {mode: external}\n"
        f"lanes:\n  {PROBE_LANE}: {{mode: internal}}\n",
        encoding="utf-8",
    )


def warm_bytecode(base: Path, env: dict[str, str], args: argparse.Namespace) -> None:
    """One launch of each program on a small store, so every module is compiled before timing."""
    ws = make_workspace(base / "warm")
    write_settings(ws)
    shape = generate_store(ws.config.parent / "state", 20, ws)
    bench = Bench(ws, FileBackend(ws.config.parent / "state"), env, 20 - shape.queued, shape.queued,
                  shape.ids_by_lane[LANES[0]][0], args.rows, args.cols, 0.0, 0.0, 1)
    bench.dashboard((), "warm", full=False)
    bench.dashboard(("--watch-only",), "warm", full=False)
    proc = bench.spawn("--no-ui", "--json")
    try:
        proc.wait(proc.watch(r'"event": "supervisor_started"', 0), 120, "supervisor_started (warm-up)")
    finally:
        proc.stop(None)
    shutil.rmtree(base / "warm")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    load_before = os.getloadavg()
    base = Path(tempfile.mkdtemp(prefix="lanes-ui-bench-", dir=args.tmpdir))
    try:
        env = child_env(base)
        queue_bench.CHILD_ENV.clear()
        queue_bench.CHILD_ENV.update(env)
        warm_bytecode(base, env, args)
        log("bytecode warm (one launch of each program on a 20-task store)")
        ws = make_workspace(base)
        write_settings(ws)
        store_root = ws.config.parent / "state"  # where handoff.yaml's queue_root points
        t0 = time.monotonic()
        shape = generate_store(store_root, args.tasks, ws)
        log(f"generated {args.tasks:,} tasks ({shape.queued} queued) in {time.monotonic() - t0:.1f} s under {base}")
        bench = Bench(ws, FileBackend(store_root), env, args.tasks - shape.queued, shape.queued,
                      shape.ids_by_lane[LANES[0]][0], args.rows, args.cols, args.settle, args.idle_window,
                      args.changes)

        cold = {"supervisor": bench.dashboard((), "cold", full=False),
                "watch-only": bench.dashboard(("--watch-only",), "cold", full=False)}
        log(f"first launches: first frame {cold['supervisor'].ready:.2f} s (supervisor), "
            f"{cold['watch-only'].ready:.2f} s (watch-only)")
        runs: dict[str, list[Launch]] = {"supervisor": [], "watch-only": [], "no-ui": []}
        for i in range(args.repeat):
            for name, launch in (("supervisor", lambda: bench.dashboard((), f"s{i}")),
                                 ("watch-only", lambda: bench.dashboard(("--watch-only",), f"w{i}")),
                                 ("no-ui", lambda: bench.headless(f"h{i}"))):
                result = launch()
                runs[name].append(result)
                log(f"launch {i + 1}/{args.repeat} {name}: first byte {result.first_byte:.2f} s, ready "
                    f"{result.ready:.2f} s, idle {pct(result.idle or 0.0)} (others "
                    f"{pct(result.idle_others or 0.0)}), changes {secs(result.changes)} ms")

        create_times = []
        for k in range(args.changes):  # create_task alone, for the notes
            t0 = time.perf_counter()
            bench.create(LANES[k % len(LANES)], f"create-only-{k}")
            create_times.append(time.perf_counter() - t0)
        run_cli(ws.al(store_root, "status", "--all"), ws)  # warm-up
        al_status = [run_cli(ws.al(store_root, "status", "--all"), ws)[0] for _ in range(max(3, args.repeat))]
        log(f"agent-lanes status --all: {fmt_value(median(al_status), 's')}")
    finally:
        shutil.rmtree(base, ignore_errors=True)

    header = machine_line(Path(args.tmpdir or tempfile.gettempdir()))
    load_after = os.getloadavg()
    header += (f". Run {time.strftime('%Y-%m-%d %H:%M %Z')}: {args.tasks:,} tasks, {args.repeat} launch(es) of each "
               f"program, total {time.monotonic() - started:.0f} s; load average (1/5/15 min) "
               f"{'/'.join(f'{x:.2f}' for x in load_before)} at the start, "
               f"{'/'.join(f'{x:.2f}' for x in load_after)} at the end.")
    table = build_table(args, runs, cold, al_status, create_times, bench, header)
    bench_common.publish(table, args.markdown_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
