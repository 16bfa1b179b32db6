"""The file store's message log: `core/records.MessageLog` under `<store>/messages/`.

    messages.jsonl                     append-only, one message a line: id, sender, to, body, sent_at
    counter                            the last message id handed out (an integer)
    read/<sha256(agent id)[:40]>.json  one reader's cursor: agent, high_water, offset

Sending takes an exclusive flock on the `messages/` folder, hands out the next id (counter
first, so a crash can skip an id but never reuse one) and appends the line, so the log is
always in id order. Readers take no lock on the log: a line is only read once its newline is
there, so an append in progress (or a torn one) is never half-read. A reader's cursor is the
byte offset where its next read starts (a hint, checked: the log is re-scanned if it does not
fit). Marking read takes an exclusive flock on `read/`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
from pathlib import Path
from typing import Any, Callable, Iterator

from lanes_tui.core import fsio
from lanes_tui.core.errors import CorruptTask
from lanes_tui.storage.files.folders import (
    locked_store_folder,
    open_store_folder,
    read_store_folder,
)
from lanes_tui.storage.files.records import record_file_name

MESSAGES_DIR = "messages"
LOG = "messages.jsonl"
COUNTER = "counter"
READ_DIR = "read"
# json.dumps escapes a control byte as \u0000 (6 bytes): the longest body still fits, a planted giant line does not.
MAX_LINE_BYTES = 1 << 20
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class FolderMessageLog:
    def __init__(self, store_root: Path) -> None:
        self.store_root = Path(store_root)
        self.path = self.store_root / MESSAGES_DIR

    def append(self, make: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
        with locked_store_folder(self.store_root, MESSAGES_DIR) as fd:
            entry = make(self._next_id(fd))
            fsio.append_line(LOG, json.dumps(entry, sort_keys=True) + "\n", dir_fd=fd)
            return entry

    def all(self) -> Iterator[Any]:
        with read_store_folder(self.store_root, MESSAGES_DIR) as fd:
            if fd is None:
                return
            for line, _end in _complete_lines(fd, 0):
                yield _json(line)

    @contextlib.contextmanager
    def reading(self, reader: str, *, exclusive: bool) -> Iterator["_FolderReader | _NothingSent"]:
        if not exclusive:
            with read_store_folder(self.store_root, MESSAGES_DIR) as fd:
                if fd is None:  # nothing was ever sent; a peek creates nothing
                    yield _NothingSent()
                    return
        with open_store_folder(self.store_root, MESSAGES_DIR) as fd:
            fsio.make_dir(READ_DIR, dir_fd=fd, exist_ok=True)
            with fsio.open_dir(READ_DIR, dir_fd=fd) as read_fd:
                if exclusive:
                    fcntl.flock(read_fd, fcntl.LOCK_EX)  # released when the descriptor closes
                yield _FolderReader(fd, read_fd, reader)

    def _next_id(self, fd: int) -> int:
        try:
            last = int(fsio.read_file(COUNTER, dir_fd=fd, max_bytes=64).decode("ascii").strip())
        except (FileNotFoundError, ValueError, UnicodeDecodeError, CorruptTask):
            # No counter, or a damaged one: the log says which ids were handed out (we hold the lock).
            last = max((raw["id"] for raw in (_json(line) for line, _ in _complete_lines(fd, 0))
                        if isinstance(raw, dict) and isinstance(raw.get("id"), int)), default=0)
        fsio.write_atomic(COUNTER, f"{last + 1}\n", dir_fd=fd)
        return last + 1


class _NothingSent:
    high_water = 0

    def since(self) -> Iterator[tuple[Any, int]]:
        return iter(())

    def advance(self, high_water: int, cursor: int | None) -> None:
        pass


class _FolderReader:
    def __init__(self, fd: int, read_fd: int, reader: str) -> None:
        self._fd = fd
        self._read_fd = read_fd
        self._reader = reader
        self.high_water, self._offset = self._load()

    def since(self) -> Iterator[tuple[Any, int]]:
        for line, end in _complete_lines(self._fd, self._offset):
            yield _json(line), end

    def advance(self, high_water: int, cursor: int | None) -> None:
        offset = self._offset if cursor is None else cursor
        if (high_water, offset) != (self.high_water, self._offset):
            data = {"agent": self._reader, "high_water": high_water, "offset": offset}
            fsio.write_atomic(record_file_name(self._reader), fsio.dumps_json(data), dir_fd=self._read_fd)

    def _load(self) -> tuple[int, int]:
        try:
            raw = json.loads(fsio.read_file(record_file_name(self._reader), dir_fd=self._read_fd, max_bytes=4096))
        except FileNotFoundError:
            return 0, 0
        except (ValueError, UnicodeDecodeError, CorruptTask):
            return 0, 0  # damaged: read everything again rather than lose a message
        if not isinstance(raw, dict) or raw.get("agent") != self._reader:
            return 0, 0
        high, offset = raw.get("high_water"), raw.get("offset")
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (high, offset)):
            return 0, 0
        return high, offset  # type: ignore[return-value]


def _json(line: bytes) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


def _complete_lines(fd: int, offset: int) -> Iterator[tuple[bytes, int]]:
    """Each newline-terminated line of the log from `offset` on, with the offset just past it.

    A last line without its newline is an append in progress (or a torn one): not
    yielded, so a cursor stops before it. An offset that does not follow a newline
    is not where a line starts (the log was replaced?): the scan starts over.
    A line longer than any message can be (planted) is skipped without holding it.
    """
    try:
        raw = os.open(LOG, _READ_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        return
    with os.fdopen(raw, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise CorruptTask(f"{LOG} is not a regular file")
        if offset > 0 and os.pread(handle.fileno(), 1, offset - 1) != b"\n":
            offset = 0
        handle.seek(offset)
        position = offset
        while True:
            line = handle.readline(MAX_LINE_BYTES + 1)
            if not line.endswith(b"\n"):
                if len(line) <= MAX_LINE_BYTES:
                    return  # the end, or an unfinished last line
                while line and not line.endswith(b"\n"):  # over-long: skip to its end
                    position += len(line)
                    line = handle.readline(MAX_LINE_BYTES + 1)
                if not line:
                    return
                position += len(line)
                continue
            position += len(line)
            yield line, position
