"""Reading a running CLI process's stderr without sleeping."""

from __future__ import annotations

import os
import select
import subprocess
import time


def read_stderr_line(proc: subprocess.Popen, timeout: float) -> bytes:
    """stderr up to the first newline, or whatever arrived within `timeout` seconds."""
    fd = proc.stderr.fileno()
    data = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data
