"""One agent process, supervised: own process group, prompt on stdin, bounded output.

Facts this module is built on (reliability.md, measured on Linux):
* each worker starts in its own session, so the whole group (grandchildren
  too) can be signalled, and it never touches our terminal;
* asyncio's readline() raises on lines over 64 KiB, so stdout is read in
  chunks and split here, keeping at most `line_max_bytes` of one line;
* a grandchild can keep stdout open after the worker exits; waiting for EOF
  would hang, so once the leader is gone the reader gets a short grace and
  then the group is killed;
* stopping is SIGTERM to the group, a grace period, SIGKILL, then a check
  that the group is really gone;
* on Python 3.11 asyncio's Process.wait() returns only once every pipe is
  closed, so the leader's exit is observed through a pidfd instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Callable, Mapping, Sequence

from lanes_tui.core import procinfo

READ_CHUNK = 1 << 16
STDERR_TAIL_BYTES = 16 << 10
STDERR_LINE_MAX = 16 << 10
PARTIAL_MAX = 1 << 20  # an unfinished line held back in the log before it goes out in pieces
EXIT_DRAIN_SECONDS = 2.0  # how long a grandchild may keep stdout open after the worker exits


@dataclass
class OutputLog:
    """Raw stdout/stderr of one attempt, on disk, capped."""

    path: Path
    max_bytes: int
    written: int = 0
    truncated: bool = False
    _handle: object = field(default=None, repr=False)
    _pending: dict[str, bytes] = field(default_factory=dict, repr=False)  # a stream's unfinished line

    def open(self) -> None:
        if self._handle is not None:
            return  # already open: what was written first (a worktree's set-up) stays
        # Every folder down to the log 0700 (mkdir's mode= applies to the last one only): attempt
        # logs hold the agents' output, prompts included.
        for folder in reversed([self.path.parent, *self.path.parent.parents]):
            if not folder.exists():
                folder.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        self._handle = os.fdopen(fd, "wb", buffering=0)

    def write(self, data: bytes) -> None:
        if self._handle is None or self.truncated:
            return
        room = self.max_bytes - self.written
        if len(data) > room:
            data = data[: max(0, room)]
            self.truncated = True
        with contextlib.suppress(OSError):  # a full disk must not kill the worker's supervision
            self._handle.write(data)  # type: ignore[attr-defined]
            if self.truncated:
                self._handle.write(b"\n[lanes-tui: log truncated at %d bytes]\n" % self.max_bytes)  # type: ignore[attr-defined]
        self.written += len(data)

    def write_lines(self, stream: str, data: bytes) -> None:
        """Write `data` of one stream (stdout, stderr) up to its last newline, keeping the rest
        for the next call: the two streams share the log, and a chunk of one must not land
        inside a line of the other (the transcript parses the log line by line). A line longer
        than PARTIAL_MAX goes out in pieces rather than be held."""
        pending = self._pending.get(stream, b"") + data
        cut = pending.rfind(b"\n") + 1
        if not cut:
            if len(pending) < PARTIAL_MAX:
                self._pending[stream] = pending
                return
            cut = len(pending)
        self.write(pending[:cut])
        self._pending[stream] = pending[cut:]

    def close(self) -> None:
        for stream in sorted(self._pending, key=lambda name: name != "stdout"):
            rest = self._pending.pop(stream)
            if rest:
                self.write(rest + b"\n")
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()  # type: ignore[attr-defined]
            self._handle = None


@dataclass(frozen=True)
class Exit:
    returncode: int | None  # None: could not be determined (killed before wait)
    signal: int | None
    killed_by_us: bool
    stderr_tail: str


class WorkerProcess:
    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log: OutputLog,
        line_max_bytes: int,
        kill_grace: float,
        on_stderr_line: Callable[[bytes], None] | None = None,
    ) -> None:
        self.argv = tuple(argv)
        # Told each stderr line (cut to STDERR_LINE_MAX): some vendors report there only.
        self.on_stderr_line = on_stderr_line
        self.env = dict(env)
        self.cwd = cwd
        self.log = log
        self.line_max_bytes = line_max_bytes
        self.kill_grace = kill_grace
        self.proc: asyncio.subprocess.Process | None = None
        self.pgid: int | None = None
        self.start_time: int | None = None
        self.killed_by_us = False
        self._stderr_tail = bytearray()
        self._stderr_task: asyncio.Task[None] | None = None
        self._stdin_task: asyncio.Task[None] | None = None
        self._exited = asyncio.Event()

    async def start(self, stdin_data: bytes) -> None:
        self.log.open()
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.cwd,
            env=self.env,
            start_new_session=True,
            close_fds=True,
            limit=READ_CHUNK,
        )
        self.pgid = self.proc.pid  # session leader: its pid is the group id
        self.start_time = procinfo.start_time(self.proc.pid)
        self._watch_exit(self.proc.pid)
        # Feed stdin concurrently with reading: a big prompt and a chatty agent would
        # otherwise deadlock on two full pipes.
        self._stdin_task = asyncio.create_task(self._feed_stdin(stdin_data))
        self._stderr_task = asyncio.create_task(self._read_stderr())

    def _watch_exit(self, pid: int) -> None:
        """Set self._exited when the leader exits, whatever its pipes are doing."""
        loop = asyncio.get_running_loop()
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._exited.set()  # already gone (and reaped)
            return

        def exited() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            self._exited.set()

        loop.add_reader(pidfd, exited)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def _feed_stdin(self, data: bytes) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        stdin = self.proc.stdin
        try:
            view = memoryview(data)
            for start in range(0, len(view), 1 << 20):
                stdin.write(view[start : start + (1 << 20)])
                await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the agent stopped reading (it exited): its exit status tells why
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                stdin.close()

    async def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        pending = bytearray()
        while chunk := await self.proc.stderr.read(READ_CHUNK):
            self.log.write_lines("stderr", chunk)
            self._stderr_tail += chunk
            if len(self._stderr_tail) > STDERR_TAIL_BYTES:
                del self._stderr_tail[: len(self._stderr_tail) - STDERR_TAIL_BYTES]
            if self.on_stderr_line is not None:
                pending += chunk
                *complete, rest = bytes(pending).split(b"\n")
                for line in complete:
                    self.on_stderr_line(line[:STDERR_LINE_MAX])
                pending = bytearray(rest[:STDERR_LINE_MAX])  # an endless line is cut, not hoarded
        if self.on_stderr_line is not None and pending:
            self.on_stderr_line(bytes(pending))

    async def lines(self) -> AsyncIterator[bytes]:
        """stdout split into lines (without the newline); an overlong line is cut
        to line_max_bytes and ends with b"...[truncated]"."""
        assert self.proc is not None and self.proc.stdout is not None
        stdout = self.proc.stdout
        pending = bytearray()
        overflow = False
        while True:
            chunk = await self._read_stdout_chunk(stdout)
            if not chunk:
                break
            self.log.write_lines("stdout", chunk)
            start = 0
            while True:
                newline = chunk.find(b"\n", start)
                piece = chunk[start:] if newline < 0 else chunk[start:newline]
                if not overflow:
                    room = self.line_max_bytes - len(pending)
                    if len(piece) > room:
                        pending += piece[:room]
                        overflow = True
                    else:
                        pending += piece
                if newline < 0:
                    break
                yield bytes(pending) + (b"...[truncated]" if overflow else b"")
                pending.clear()
                overflow = False
                start = newline + 1
        if pending or overflow:
            yield bytes(pending) + (b"...[truncated]" if overflow else b"")

    async def _read_stdout_chunk(self, stdout: asyncio.StreamReader) -> bytes:
        """A chunk of stdout, or b"" at EOF, or once the leader exited and a straggler
        (a grandchild holding the pipe) kept it open past the drain grace."""
        read = asyncio.ensure_future(stdout.read(READ_CHUNK))
        if not self._exited.is_set():
            waiter = asyncio.ensure_future(self._exited.wait())
            done, _ = await asyncio.wait({read, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if read in done:
                waiter.cancel()
                return read.result()
        try:
            return await asyncio.wait_for(read, EXIT_DRAIN_SECONDS)
        except asyncio.TimeoutError:
            await self.stop("output kept open by a leftover child after the agent exited")
            return b""

    async def wait(self) -> Exit:
        assert self.proc is not None
        await self._exited.wait()
        for task in (self._stdin_task, self._stderr_task):
            if task is not None:
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(task, EXIT_DRAIN_SECONDS)
                if not task.done():
                    await self.stop("stderr kept open by a leftover child")
                    task.cancel()
        # Anything left in the group (a grandchild that closed its pipes) is ours to end.
        if self.pgid is not None and procinfo.group_alive(self.pgid):
            await self.stop("leftover processes in the worker's group")
        returncode = None
        with contextlib.suppress(asyncio.TimeoutError):  # pipes are closed now: asyncio can finish
            returncode = await asyncio.wait_for(self.proc.wait(), EXIT_DRAIN_SECONDS + self.kill_grace)
        self.log.close()
        sig = -returncode if returncode is not None and returncode < 0 else None
        return Exit(returncode, sig, self.killed_by_us, self._stderr_tail.decode("utf-8", "replace"))

    async def stop(self, reason: str = "") -> bool:
        """SIGTERM the group, wait kill_grace, SIGKILL, verify gone. True when gone."""
        if self.pgid is None:
            return True
        self.killed_by_us = True
        if not procinfo.signal_group(self.pgid, procinfo.SIGTERM):
            return True
        if await self._group_gone_within(self.kill_grace):
            return True
        procinfo.signal_group(self.pgid, procinfo.SIGKILL)
        return await self._group_gone_within(self.kill_grace)

    async def _group_gone_within(self, seconds: float) -> bool:
        """Wait for the leader (reaped by asyncio) and then for the rest of the group."""
        assert self.pgid is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._exited.wait(), seconds)
        # Other members are not our children (or are reaped by the subreaper); their
        # disappearance can only be observed, so look a few times until the deadline.
        while procinfo.group_alive(self.pgid):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True
