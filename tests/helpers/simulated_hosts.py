"""Several hosts on one machine: one `lanes-tui --no-ui` supervisor process per host identity.

LANES_TUI_HOST_ID names the host (lanes_tui/core/hosts.py), so each process claims as
`lanes-tui@<host>:<pid>`, heartbeats as its host and trusts its own pid checks only for its
host's records: to the queue they are different machines. A host can be killed (SIGKILL,
nothing more said) and started again under the same identity; each start is a new
incarnation with its own output files (JSON event lines on stdout, stderr apart), so a
pipe nobody drains can never stall a supervisor.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.supervisor import BOUND, wait_sync
from lanes_tui.core.hosts import HOST_ID_ENV


@dataclass
class Incarnation:
    proc: subprocess.Popen
    stdout: Path
    stderr: Path
    _read: int = 0
    _events: list[dict[str, Any]] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        """The JSON event lines printed so far (a line still being written waits for its end)."""
        with open(self.stdout, "rb") as handle:
            handle.seek(self._read)
            data = handle.read()
        complete = data[:data.rfind(b"\n") + 1]
        self._read += len(complete)
        for line in complete.splitlines():
            with contextlib.suppress(ValueError):
                self._events.append(json.loads(line))
        return self._events

    def first(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.events() if e.get("event") == name), None)


class SimulatedHost:
    def __init__(self, host_id: str, *, config: Path, settings: Path, cwd: Path, url: str, env: dict[str, str],
                 out_dir: Path) -> None:
        self.host_id = host_id
        self.config, self.settings, self.cwd, self.url = config, settings, cwd, url
        self.env = {**env, HOST_ID_ENV: host_id}
        self.out_dir = out_dir
        self.incarnations: list[Incarnation] = []

    @property
    def current(self) -> Incarnation:
        return self.incarnations[-1]

    @property
    def running(self) -> bool:
        return bool(self.incarnations) and self.current.proc.poll() is None

    @property
    def owner(self) -> str:
        """The claim owner of the current incarnation (`lanes-tui@<host>:<pid>`)."""
        return f"lanes-tui@{self.host_id}:{self.current.proc.pid}"

    def owners(self) -> list[str]:
        return [f"lanes-tui@{self.host_id}:{i.proc.pid}" for i in self.incarnations]

    def start(self) -> Incarnation:
        number = len(self.incarnations) + 1
        stdout = self.out_dir / f"{self.host_id}.{number}.out"
        stderr = self.out_dir / f"{self.host_id}.{number}.err"
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "lanes_tui", "--config", str(self.config), "--settings", str(self.settings),
                 "--store", self.url, "--no-ui", "--json"],
                cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        self.incarnations.append(Incarnation(proc, stdout, stderr))
        return self.current

    def wait_started(self, timeout: float = BOUND) -> dict[str, Any]:
        incarnation = self.current

        def started() -> dict[str, Any] | None:
            if incarnation.proc.poll() is not None:
                raise AssertionError(f"{self.host_id} exited with {incarnation.proc.returncode}: "
                                     f"{incarnation.stderr.read_text(errors='replace')[-2000:]}")
            return incarnation.first("supervisor_started")

        return wait_sync(started, timeout, step=0.05, what=f"{self.host_id} supervisor_started")

    def sigkill(self) -> None:
        """Die at once, as a host that loses power: nothing is released, nothing said."""
        os.kill(self.current.proc.pid, signal.SIGKILL)
        self.current.proc.wait(BOUND)

    def stop(self, timeout: float = BOUND) -> int | None:
        """SIGTERM (workers get the shutdown grace), then SIGKILL if it does not end in time."""
        proc = self.current.proc
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(BOUND)
        return proc.returncode

    def kill_if_running(self) -> None:
        for incarnation in self.incarnations:
            if incarnation.proc.poll() is None:
                with contextlib.suppress(OSError):
                    os.kill(incarnation.proc.pid, signal.SIGKILL)
                with contextlib.suppress(Exception):
                    incarnation.proc.wait(BOUND)
