"""The worker process runner against real child processes (fault rows 6-9, 21)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
import textwrap

from lanes_tui.core import procinfo
from lanes_tui.vendors.process import OutputLog, WorkerProcess

BOUND = 30  # upper bound for any single await here; a hang fails the test instead of blocking CI


def make(tmp_path, code: str, *, line_max=1 << 20, log_max=1 << 20, kill_grace=1.0) -> WorkerProcess:
    return WorkerProcess(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={"PATH": os.environ["PATH"]},
        cwd=tmp_path,
        log=OutputLog(tmp_path / "logs" / "attempt-1.log", log_max),
        line_max_bytes=line_max,
        kill_grace=kill_grace,
    )


async def collect(worker: WorkerProcess) -> list[bytes]:
    return [line async for line in worker.lines()]


async def test_prompt_reaches_stdin_intact_and_lines_come_back(tmp_path):
    prompt = os.urandom(20 << 20)  # a 20 MB prompt, on stdin, never in argv
    worker = make(tmp_path, """
        import hashlib, sys
        data = sys.stdin.buffer.read()
        print(hashlib.sha256(data).hexdigest()); print(len(data)); print("done", flush=True)
    """)
    await worker.start(prompt)
    lines = await asyncio.wait_for(collect(worker), BOUND)
    result = await asyncio.wait_for(worker.wait(), BOUND)
    assert lines == [hashlib.sha256(prompt).hexdigest().encode(), str(len(prompt)).encode(), b"done"]
    assert result.returncode == 0 and not result.killed_by_us
    assert all(len(arg) < 1000 for arg in worker.argv)


async def test_a_20_mb_line_is_cut_and_memory_stays_bounded(tmp_path):
    worker = make(tmp_path, """
        import sys
        sys.stdout.write("x" * (20 << 20) + "\\n"); sys.stdout.write("after\\n")
    """, line_max=1 << 16, log_max=1 << 18)
    await worker.start(b"")
    lines = await asyncio.wait_for(collect(worker), BOUND)
    await asyncio.wait_for(worker.wait(), BOUND)
    assert lines[0] == b"x" * (1 << 16) + b"...[truncated]"
    assert lines[1] == b"after"
    assert worker.log.truncated and os.path.getsize(worker.log.path) < (1 << 18) + 200


async def test_grandchild_holding_stdout_does_not_hang_us(tmp_path):
    worker = make(tmp_path, """
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # inherits stdout
        print("answer", flush=True)
    """)
    await worker.start(b"")
    lines = await asyncio.wait_for(collect(worker), BOUND)
    result = await asyncio.wait_for(worker.wait(), BOUND)
    assert lines == [b"answer"] and result.returncode == 0
    assert not procinfo.group_alive(worker.pgid)


async def test_hung_worker_ignoring_sigterm_is_killed_and_leaves_nothing(tmp_path):
    worker = make(tmp_path, """
        import signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"])
        print("started", flush=True)
        time.sleep(120)
    """, kill_grace=0.5)
    await worker.start(b"")
    reader = worker.lines()
    assert await asyncio.wait_for(reader.__anext__(), BOUND) == b"started"
    assert await asyncio.wait_for(worker.stop("timeout"), BOUND)
    result = await asyncio.wait_for(worker.wait(), BOUND)
    assert result.signal == signal.SIGKILL and result.killed_by_us
    assert not procinfo.group_alive(worker.pgid)


async def test_crash_mid_output_reports_the_signal_and_keeps_the_partial_log(tmp_path):
    worker = make(tmp_path, """
        import os, signal
        print("half of the stream", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    await worker.start(b"")
    lines = await asyncio.wait_for(collect(worker), BOUND)
    result = await asyncio.wait_for(worker.wait(), BOUND)
    assert lines == [b"half of the stream"]
    assert result.signal == signal.SIGKILL and not result.killed_by_us
    assert b"half of the stream" in worker.log.path.read_bytes()


async def test_stderr_tail_is_kept(tmp_path):
    worker = make(tmp_path, """
        import sys
        sys.stderr.write("noise\\n" * 10000 + "Error: 429 rate limit exceeded\\n"); sys.exit(3)
    """)
    await worker.start(b"")
    await asyncio.wait_for(collect(worker), BOUND)
    result = await asyncio.wait_for(worker.wait(), BOUND)
    assert result.returncode == 3 and result.stderr_tail.endswith("429 rate limit exceeded\n")
    assert len(result.stderr_tail) <= 16 << 10


def test_start_time_tells_a_reused_pid_apart():
    me = os.getpid()
    assert procinfo.is_same_process(me, procinfo.start_time(me))
    assert not procinfo.is_same_process(me, (procinfo.start_time(me) or 0) + 1)
    assert procinfo.start_time(2**22 + 12345) is None
