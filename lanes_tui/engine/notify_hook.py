"""The settings' `notify_command` (e.g. `[notify-send, lanes-tui]`), run for dashboard notifications.

Run with an argv list (never a shell) plus two arguments: the severity and a
one-line, sanitised message. It must not hold anything up: it is started in its
own session with no terminal (a child that inherits the terminal draws over the
UI), and reaped in the background. A missing program is reported once.
"""

from __future__ import annotations

import subprocess
import threading
from typing import Callable

from lanes_tui.core.sanitize import one_line

MAX_MESSAGE = 300
TIMEOUT_SECONDS = 10.0


class NotifyHook:
    def __init__(self, argv: tuple[str, ...], on_problem: Callable[[str], None] | None = None) -> None:
        self.argv = tuple(argv)
        self.on_problem = on_problem
        self._reported = False
        self.started: list[subprocess.Popen[bytes]] = []  # for tests: wait on them

    def __call__(self, severity: str, message: str) -> None:
        argv = [*self.argv, one_line(severity, 20), one_line(message, MAX_MESSAGE)]
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        except OSError as exc:
            if not self._reported and self.on_problem is not None:
                self._reported = True
                self.on_problem(one_line(f"notify_command failed: {exc}", 200))
            return
        self.started.append(process)
        del self.started[:-20]
        threading.Thread(target=_reap, args=(process,), daemon=True).start()


def _reap(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
