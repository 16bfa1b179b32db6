"""The file store's journal logs: `<store>/journal/intents.jsonl` and `history.jsonl`.

Appends take an exclusive flock on the `journal/` folder so concurrent writers never
interleave a line; reads take none and only trust newline-terminated lines, so a torn
(or in-progress) last line is skipped, and read backwards, so a long log costs nothing.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from lanes_tui.core import fsio
from lanes_tui.core.errors import CorruptTask
from lanes_tui.core.wire import parse_event_lines
from lanes_tui.storage.files.folders import locked_store_folder, read_store_folder

JOURNAL_DIR = "journal"
_TAIL_CHUNK = 64 << 10
_TAIL_BUDGET = 16 << 20  # a reader never pulls more than this, whatever was planted in the file
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class FolderLogs:
    """`core/records.Logs` as `<store>/<folder>/<log>.jsonl` files."""

    def __init__(self, store_root: Path, folder: str) -> None:
        self.store_root = Path(store_root)
        self.folder = folder
        self.path = self.store_root / folder

    def append(self, log: str, entry: dict[str, Any]) -> None:
        with locked_store_folder(self.store_root, self.folder) as fd:
            fsio.append_line(f"{log}.jsonl", json.dumps(entry, sort_keys=True) + "\n", dir_fd=fd)

    def tail(self, log: str, limit: int) -> list[Any]:
        with read_store_folder(self.store_root, self.folder) as fd:
            lines = _tail_lines(f"{log}.jsonl", fd, limit) if fd is not None else []
        return parse_event_lines(b"\n".join(lines)).events


def _tail_lines(name: str, dir_fd: int, limit: int) -> list[bytes]:
    """The last `limit` newline-terminated lines, read backwards so a long log costs nothing.

    What follows the last newline is torn or still being written: dropped."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return []
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CorruptTask(f"{name} is not a regular file")
        start, chunks, newlines = info.st_size, [], 0
        # limit + 1 newlines: the text before the first one may be the cut-off end of an older line.
        while start > 0 and newlines <= limit and info.st_size - start < _TAIL_BUDGET:
            size = min(_TAIL_CHUNK, start)
            start -= size
            chunk = os.pread(fd, size, start)
            chunks.append(chunk)
            newlines += chunk.count(b"\n")
    finally:
        os.close(fd)
    data = b"".join(reversed(chunks))
    data = data[: data.rfind(b"\n") + 1]
    lines = data.split(b"\n")[:-1]
    if start > 0 and lines:
        lines = lines[1:]
    return lines[-limit:]
