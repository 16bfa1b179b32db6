"""Every stand-in worker's life, from its first act to its death, as the machine saw it.

Each stand-in started with STANDIN_ALIVE_LOG appends one line to that file when it starts
(tests/standin/agent_standin.py): its task, its agent id, its pid and the pid's start time.
`WorkerLives` tails the file from a thread and holds a pidfd for each worker; a pidfd turns
readable the moment its process exits, so the end of a life is seen at once whoever ended
it: its own exit, a SIGKILL, a supervisor's fence, or the guard taking the group down after
its supervisor was SIGKILLed (PR_SET_PDEATHSIG). Nothing the supervisors write is needed for
that: a supervisor killed or cut off from the database writes nothing about its workers'
ends, so their task events cannot tell when those workers died; the kernel can.

Two lives of one task overlap when the later one started before the earlier one ended: the
"two live workers on one task" issue 14 says must never be observed.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lanes_tui.core import procinfo

SAMPLE_SECONDS = 0.02  # how often the log is read for new workers (deaths wake the thread at once)


@dataclass
class Life:
    task: str
    agent: str  # LANES_AGENT_ID: <supervisor owner>/<task id>
    pid: int
    start_ticks: int
    started: float  # CLOCK_MONOTONIC, read by the worker itself (one clock for every process here)
    started_wall: float
    ended: float | None = None  # CLOCK_MONOTONIC when seen gone
    ended_wall: float | None = None
    exact: bool = True  # False: gone before a pidfd could hold it (`ended` is then an upper bound)
    killed_by_test: bool = False

    @property
    def owner(self) -> str:
        return self.agent.rpartition("/")[0]

    @property
    def host(self) -> str:
        """`lanes-tui@<host>:<pid>` -> host."""
        return self.owner.partition("@")[2].rpartition(":")[0]

    def alive_at(self, moment: float) -> bool:
        return self.started <= moment and (self.ended is None or self.ended > moment)


class WorkerLives:
    def __init__(self, log: Path) -> None:
        self.log = Path(log)
        self.log.touch()
        self._offset = 0
        self._partial = b""
        self._lock = threading.Lock()
        self.lives: list[Life] = []
        self._fds: dict[int, Life] = {}  # pidfd -> the life it watches
        self._poll = select.poll()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="worker-lives")
        self._thread.start()

    # -- what the test asks --------------------------------------------------------------------

    def snapshot(self) -> list[Life]:
        with self._lock:
            return list(self.lives)

    def alive(self, host: str | None = None) -> list[Life]:
        return [life for life in self.snapshot() if life.ended is None and (host is None or life.host == host)]

    def sigkill(self, life: Life) -> bool:
        """SIGKILL this worker through its pidfd (never a reused pid); False if it was gone."""
        with self._lock:
            fd = next((fd for fd, watched in self._fds.items() if watched is life), None)
            if fd is None:
                return False
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except ProcessLookupError:
                return False
            life.killed_by_test = True
            return True

    def overlaps(self) -> list[tuple[Life, Life]]:
        """Pairs of lives of one task where the later started before the earlier had ended."""
        by_task: dict[str, list[Life]] = {}
        for life in self.snapshot():
            by_task.setdefault(life.task, []).append(life)
        found = []
        for lives in by_task.values():
            lives.sort(key=lambda life: life.started)
            for index, later in enumerate(lives):
                for earlier in lives[:index]:
                    if earlier.ended is None or earlier.ended > later.started:
                        found.append((earlier, later))
        return found

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        with self._lock:
            for fd in list(self._fds):
                os.close(fd)
            self._fds.clear()

    # -- the watching thread ---------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._read_new_lines()
            for fd, _ in self._poll.poll(SAMPLE_SECONDS * 1000):
                self._ended(fd)

    def _read_new_lines(self) -> None:
        with open(self.log, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        if not data:
            return
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if line.strip():
                self._born(json.loads(line))

    def _born(self, entry: dict) -> None:
        started = float(entry["monotonic"])
        life = Life(entry["task"], entry["agent"], int(entry["pid"]), int(entry["start_ticks"]), started,
                    time.time() - (time.monotonic() - started))
        try:
            fd = os.pidfd_open(life.pid)
        except ProcessLookupError:
            fd = None
        # The pid may already name another process: held only if it is still the one that wrote.
        if fd is not None and not procinfo.is_same_process(life.pid, life.start_ticks):
            os.close(fd)
            fd = None
        with self._lock:
            self.lives.append(life)
            if fd is None:
                life.ended, life.ended_wall, life.exact = time.monotonic(), time.time(), False
                return
            self._fds[fd] = life
        self._poll.register(fd, select.POLLIN)

    def _ended(self, fd: int) -> None:
        now, wall = time.monotonic(), time.time()
        with self._lock:
            life = self._fds.pop(fd, None)
            if life is not None:
                life.ended, life.ended_wall = now, wall
        with contextlib.suppress(KeyError, ValueError):
            self._poll.unregister(fd)
        os.close(fd)
