"""The in-memory index's rows of finished tasks, kept between runs (an advisory cache).

A dashboard or supervisor starting on 10,000 tasks read and parsed every task.json
before its first frame: most of a second, and several times that while Textual's
start-up competes for the interpreter in the same process. Nine tasks in ten are
finished, and a finished task's task.json is not rewritten unless its state moves
(requeue writes a new file: a new inode), so their summaries are kept in
`<store>/.lanes-tui/summaries` with the task.json version they were read at
(inode, size, mtime: the index's own version of a task). At start the index takes
a kept row whose task.json still has that version (one stat, no read) and reads
the rest as before. Live tasks are never kept: their files move with every claim
and answer, and a response.json written beside an unrolled task.json (G8) must
be seen at once.

The file is `lanes-tui summaries 1 <crc32 of the body>\\n` then a marshal body
`(fields, rows)`, where `fields` names the index's columns (a change of the
index's row shape ignores old files) and each row is
`(task_id, inode, size, mtime_ns, *values)`. Missing, truncated, foreign or
corrupt files are ignored; it is written by a rename, never fsynced and never
locked: losing it costs only time.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import stat
import zlib
from pathlib import Path
from typing import Any, Hashable, Mapping

from lanes_tui.core import fsio
from lanes_tui.core.errors import StoreError
from lanes_tui.storage.files.scan import CACHE_DIR

SUMMARIES_FILE = "summaries"
MAGIC = b"lanes-tui summaries 1"
MAX_BYTES = 256 << 20  # a million tasks is ~200 MB; anything larger is not ours
_MARSHAL_VERSION = 4
_VALUE_TYPES = {str, bool, type(None)}


class SummaryCache:
    """Load and save `{task_id: (version, values)}` for one file store."""

    def __init__(self, store_root: Path) -> None:
        self.root = Path(store_root)

    def load(self, fields: tuple[str, ...]) -> dict[str, tuple[Hashable, tuple[Any, ...]]]:
        """The kept rows, if the file is intact and has rows of this shape; else nothing."""
        try:
            data = self._read()
            line_end = data.index(b"\n", 0, 100)
            magic, _, crc = data[:line_end].rpartition(b" ")
            body = memoryview(data)[line_end + 1:]
            if magic != MAGIC or int(crc, 16) != zlib.crc32(body):
                return {}
            stored_fields, rows = marshal.loads(body)
        except (OSError, ValueError, EOFError, TypeError):
            return {}
        if stored_fields != fields or not isinstance(rows, tuple):
            return {}
        width = 4 + len(fields)
        # The checksum catches damage; the shapes are checked too (a file of a broken or foreign
        # writer), column by column, where the type checks run in C: per row they were a fifth
        # of the start-up scan at 10,000 tasks. One bad cell ignores the whole file.
        if not all(type(row) is tuple and len(row) == width for row in rows):
            return {}
        columns = list(zip(*rows))
        if columns and not (set(map(type, columns[0])) == {str}
                            and all(set(map(type, column)) == {int} for column in columns[1:4])
                            and all(set(map(type, column)) <= _VALUE_TYPES for column in columns[4:])):
            return {}
        return {row[0]: (row[1:4], row[4:]) for row in rows}

    def save(self, fields: tuple[str, ...], rows: Mapping[str, tuple[Hashable, tuple[Any, ...]]]) -> None:
        """Replace the file with these rows (best effort: a read-only store just keeps none)."""
        packed = tuple((task_id, *version, *values) for task_id, (version, values) in rows.items()
                       if isinstance(version, tuple) and len(version) == 3)
        body = marshal.dumps((tuple(fields), packed), _MARSHAL_VERSION)
        first = b"%s %08x\n" % (MAGIC, zlib.crc32(body))
        with contextlib.suppress(OSError, StoreError):  # StoreError: a file or symlink where the folder goes
            with fsio.open_dir(self.root) as root_fd:
                fsio.make_dir(CACHE_DIR, dir_fd=root_fd, exist_ok=True)
                with fsio.open_dir(CACHE_DIR, dir_fd=root_fd) as fd:
                    fsio.write_atomic_chunks(SUMMARIES_FILE, [first, body], dir_fd=fd, durable=False)

    def _read(self) -> bytes:
        fd = os.open(self.root / CACHE_DIR / SUMMARIES_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
                raise ValueError("not a summaries file")
            with os.fdopen(os.dup(fd), "rb") as handle:
                return handle.read()
        finally:
            os.close(fd)
