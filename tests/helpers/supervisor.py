"""Shared pieces for the supervisor tests (tests/engine/test_supervisor_*.py).

Everything is real: the store on disk (the `workspace` fixture), the stand-in
`claude`/`codex` executables found through PATH, subprocesses, signals.
Synchronisation is by supervisor events (collected through the emit callback)
or by on-disk states polled in a bounded loop; timeouts are upper bounds only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from helpers.standins import install_standins
from lanes_tui.core import procinfo
from lanes_tui.engine import events as ev
from lanes_tui.engine.supervisor import Supervisor
from lanes_tui.settings import Settings, load_settings
from lanes_tui.storage.files.backend import FileBackend

BOUND = 30.0  # upper bound for any single wait: a hang fails the test instead of blocking CI

FAST_LANE = {
    "timeout_seconds": 3,
    "lease_seconds": 4,
    "renew_seconds": 0.5,
    "max_attempts": 2,
    "backoff_seconds": 0.2,
    "backoff_max_seconds": 1,
}


def settings_data(**overrides: Any) -> dict[str, Any]:
    """lanes-tui.yaml content with short timings; STANDIN_* reaches the stand-ins."""
    lane = dict(FAST_LANE)
    lane.update(overrides.pop("lane", {}))
    data: dict[str, Any] = {
        "vendors": {
            "claude": {"env": {"allow": ["STANDIN_*"]}},
            "codex": {"env": {"allow": ["STANDIN_*"]}},
        },
        "lane_defaults": lane,
        "rate_limit_cooldown_seconds": 60,
        "shutdown_grace_seconds": 1,
        "kill_grace_seconds": 0.5,
    }
    data.update(overrides)
    return data


def write_settings(path: Path, **overrides: Any) -> Path:
    path.write_text(yaml.safe_dump(settings_data(**overrides)), encoding="utf-8")
    return path


def make_settings(workspace: Any, **overrides: Any) -> Settings:
    path = write_settings(workspace.config.parent / "lanes-tui.yaml", **overrides)
    return load_settings(path, config_dir=None)


@pytest.fixture
def standins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Stand-in claude/codex first on PATH of this process (the supervisor passes PATH on)."""
    bin_dir = install_standins(tmp_path / "bin")
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]))
    for name in [n for n in os.environ if n.startswith("STANDIN_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("STANDIN_MODE", "ok")
    return bin_dir


@pytest.fixture
def path_without_codex(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Only the claude stand-in on PATH (and no codex anywhere on PATH)."""
    bin_dir = install_standins(tmp_path / "bin-claude-only")
    (bin_dir / "codex").unlink()
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), "/usr/bin", "/bin"]))
    monkeypatch.setenv("STANDIN_MODE", "ok")
    return bin_dir


class Events:
    """Supervisor events, in order, with waiting for one that matches."""

    def __init__(self) -> None:
        self.items: list[ev.SupervisorEvent] = []
        self._changed = asyncio.Event()
        self.listeners: list[Callable[[ev.SupervisorEvent], None]] = []

    def __call__(self, event: ev.SupervisorEvent) -> None:
        self.items.append(event)
        self._changed.set()
        for listener in self.listeners:
            listener(event)

    def of(self, kind: type, task_id: str | None = None) -> list[Any]:
        return [e for e in self.items if isinstance(e, kind) and (task_id is None or getattr(e, "task_id", None) == task_id)]

    def names(self) -> list[str]:
        return [e.as_dict()["event"] for e in self.items]

    async def wait_for(self, kind: type, task_id: str | None = None, *, count: int = 1,
                       where: Callable[[Any], bool] = lambda e: True, timeout: float = BOUND) -> Any:
        """The `count`-th event of this kind (and task) matching `where`."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.of(kind, task_id) if where(e)]
            if len(found) >= count:
                return found[count - 1]
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind.__name__} for {task_id} within {timeout}s; events: {self.names()}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)


@dataclass
class Harness:
    supervisor: Supervisor
    events: Events
    job: asyncio.Task[None] | None = None

    async def stop(self, timeout: float = BOUND) -> None:
        self.supervisor.request_stop("test finished")
        if self.job is not None:
            await asyncio.wait_for(self.job, timeout)


@contextlib.asynccontextmanager
async def supervising(store: FileBackend, settings: Settings, *, drain: bool = False, start: bool = True,
                      tools_command: tuple[str, ...] | None = None):
    """A started, running supervisor; stopped (and awaited) on the way out. `tools_command`:
    the MCP server its workers get (none by default, so argv checks see only the vendor's flags)."""
    events = Events()
    supervisor = Supervisor(store, settings, emit=events, drain=drain, tools_command=tools_command)
    harness = Harness(supervisor, events)
    if start:
        await supervisor.start()
        harness.job = asyncio.create_task(supervisor.run())
    try:
        yield harness
    finally:
        if harness.job is not None and not harness.job.done():
            supervisor.stop_workers_now()
            supervisor.request_stop("test teardown")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(harness.job, BOUND)
        elif harness.job is not None:
            harness.job.result()  # re-raise what run() raised


async def until(predicate: Callable[[], Any], timeout: float = BOUND, step: float = 0.02, what: str = "") -> Any:
    """Bounded wait for an on-disk (or any) condition; returns the truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {what or predicate}")
        await asyncio.sleep(step)


def wait_sync(predicate: Callable[[], Any], timeout: float = BOUND, step: float = 0.02, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {what or predicate}")
        time.sleep(step)


def event_types(store: FileBackend, task_id: str) -> list[str]:
    return [e.get("type") for e in store.read_events(task_id).events]


def events_of(store: FileBackend, task_id: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in store.read_events(task_id).events if e.get("type") == kind]




def pid_alive(pid: int) -> bool:
    """A live (non-zombie) process with this pid."""
    fields = procinfo._stat_fields(pid)
    return fields is not None and fields[0] != b"Z"




def processes_with_env(name: str, value: str) -> list[int]:
    """Live pids whose environment holds NAME=VALUE (our own processes only)."""
    needle = f"{name}={value}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                env = handle.read().split(b"\0")
        except OSError:
            continue
        if needle in env and pid_alive(int(entry)):
            found.append(int(entry))
    return found




def rss_high_water_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/self/status")


def reset_high_water() -> bool:
    """Reset VmHWM (Linux: write 5 to /proc/self/clear_refs); False when not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def headless_argv(workspace: Any, *extra: str) -> list[str]:
    return [sys.executable, "-m", "lanes_tui", "--config", str(workspace.config), "--no-ui", *extra]




@dataclass
class LineReader:
    """Lines of a subprocess's stdout, read by a thread, awaitable by a predicate."""

    proc: subprocess.Popen
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        import threading

        self._cond = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = BOUND) -> str:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if predicate(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self._done:
                    raise AssertionError(f"no matching line within {timeout}s; got: {self.lines[-20:]}")
                self._cond.wait(left)

    def text(self) -> str:
        self._thread.join(BOUND)
        return "\n".join(self.lines)


class HeadlessRuns:
    """`lanes-tui --no-ui` subprocesses started by a test; killed (by pid) if still alive at teardown."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, workspace: Any, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, LineReader]:
        full_env = dict(os.environ)
        full_env.update(env or {})
        proc = subprocess.Popen(
            headless_argv(workspace, *args), cwd=workspace.root, env=full_env, text=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )
        self.procs.append(proc)
        return proc, LineReader(proc)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    os.kill(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                proc.wait(BOUND)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(Exception):
                        stream.close()


@pytest.fixture
def headless():
    runs = HeadlessRuns()
    yield runs
    runs.close()


def json_event(name: str, task_id: str | None = None) -> Callable[[str], bool]:
    """A LineReader predicate for a --json event line."""
    def match(line: str) -> bool:
        try:
            data = json.loads(line)
        except ValueError:
            return False
        return data.get("event") == name and (task_id is None or data.get("task_id") == task_id)
    return match
