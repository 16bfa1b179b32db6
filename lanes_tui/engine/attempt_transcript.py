"""Transcripts read from the attempt logs on disk: for any task, in any session, watch-only too.

Every attempt's raw stdout/stderr is in its log (`Backend.attempt_log_path`); the
transcript is rebuilt from it rather than kept in memory, so a restart loses
nothing. A log is read from its last TAIL_BYTES (a 20 MB log opens as fast as a
small one; the lines before are counted and said to be there, not parsed), then
followed: `read_more` parses only what was appended since, holding back a line
still being written.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from lanes_tui.vendors.transcript import Entry, TranscriptBuilder

# The last MB holds the last few thousand lines, what a log is opened to see. 4 MB (8,600 lines
# of a 20 MB log) took 370-430 ms from `l` to the last line on a 2-core machine with 10,000 tasks
# (bench/ui_bench.py); the target is 300 ms.
TAIL_BYTES = 1 << 20
READ_CHUNK = 1 << 20
_ATTEMPT_LOG = re.compile(r"attempt-(\d+)\.log")


@dataclass
class AttemptLog:
    attempt: int
    path: Path
    builder: TranscriptBuilder = field(default_factory=TranscriptBuilder)
    offset: int = 0  # bytes consumed
    skipped: int = 0  # bytes before the tail that were not read
    _pending: bytes = b""
    _mid_line: bool = False

    def read_more(self, tail_bytes: int = TAIL_BYTES) -> list[Entry]:
        """Parse what was appended since the last call (blocking: call in a thread)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return []
        new: list[Entry] = []
        try:
            size = os.fstat(fd).st_size
            if size < self.offset:  # rewritten (an attempt number reused): start again
                self.builder, self.offset, self.skipped, self._pending = TranscriptBuilder(), 0, 0, b""
                self._mid_line = False
            if self.offset == 0 and size > tail_bytes:
                self.offset = self.skipped = size - tail_bytes
                self._mid_line = True  # the tail starts inside a line: that part is not parsed
            os.lseek(fd, self.offset, os.SEEK_SET)
            while chunk := os.read(fd, READ_CHUNK):
                self.offset += len(chunk)
                if self._mid_line:
                    cut = chunk.find(b"\n") + 1
                    self.skipped += cut or len(chunk)
                    if not cut:
                        continue
                    self._mid_line, chunk = False, chunk[cut:]
                *complete, rest = (self._pending + chunk).split(b"\n")
                self._pending = rest
                new.extend(self.builder.feed_all(complete))
        finally:
            os.close(fd)
        return new

    def finish(self) -> list[Entry]:
        """The last line, if the log does not end with a newline (the worker is gone)."""
        line, self._pending = self._pending, b""
        return self.builder.feed(line) if line.strip() else []


def attempt_logs(example: Path) -> list[tuple[int, Path]]:
    """The task's attempt logs, oldest first, found next to `example` (any attempt's log path)."""
    try:
        names = os.listdir(example.parent)
    except OSError:
        return []
    found = [(int(m.group(1)), example.parent / name) for name in names if (m := _ATTEMPT_LOG.fullmatch(name))]
    return sorted(found)


class TaskTranscript:
    """Every attempt of one task, as display lines; `update` returns only what is new.

    Blocking (it reads files): call it in a thread. Entries are only ever appended, so
    what was drawn once stays right; `render` draws everything again (to unfold).
    """

    def __init__(self, example_log: Path, *, tail_bytes: int = TAIL_BYTES, first_attempt: int = 1) -> None:
        self.example_log = example_log
        self.tail_bytes = tail_bytes
        self.first_attempt = first_attempt  # earlier attempts' logs are left out
        self.attempts: list[AttemptLog] = []
        self._drawn: list[int | None] = []  # entries drawn per attempt; None: not even its heading
        self.unfold = False
        self.reading = False  # a `read` is under way

    async def read(self) -> list[str] | None:
        """`update` in a thread, one at a time (the object is not shared between threads): None
        when a read is already under way; its caller gets the new lines."""
        if self.reading:
            return None
        self.reading = True
        try:
            return await asyncio.to_thread(self.update)
        finally:
            self.reading = False

    def update(self) -> list[str]:
        known = {log.attempt for log in self.attempts}
        for number, path in attempt_logs(self.example_log):
            if number not in known and number >= self.first_attempt:
                self.attempts.append(AttemptLog(number, path))
                self._drawn.append(None)
        for log in self.attempts:
            log.read_more(self.tail_bytes)
        return self._lines()

    def render(self) -> list[str]:
        """Every line again (after `unfold` changed)."""
        self._drawn = [None] * len(self.attempts)
        return self._lines()

    def _lines(self) -> list[str]:
        out: list[str] = []
        for index, log in enumerate(self.attempts):
            drawn = self._drawn[index]
            if drawn is None:
                out.append(f"\u2500\u2500 attempt {log.attempt} \u2500\u2500 {log.path.name}")
                if log.skipped:
                    out.append(f"\u2026 the first {log.skipped:,} bytes of this log are not shown (it is {log.path})")
                drawn = 0
            for entry in log.builder.entries[drawn:]:
                out.extend(entry.lines(self.unfold))
            self._drawn[index] = len(log.builder.entries)
        return out
