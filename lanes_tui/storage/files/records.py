"""Keyed coordination records as files: `core/records.Records` for locks and presence.

On disk, one folder per kind beside the queue (`<store>/locks/`, `<store>/agents/`; never
inside `tasks/`, which agent-lanes scans):

    <sha256(key)[:40]>.json   one file per record
    events.jsonl              append-only audit trail
    <counter>                 the last number handed out (locks: `fence`)

Every change happens under an exclusive flock on the folder itself (`folders.py`): a folder
cannot be swapped under a holder the way a lock file can be deleted or replaced, so exactly
one process wins any race. Reads take no lock: records are replaced atomically (rename).

Locks are not fsynced, deliberately (`durable=False`). A crashed *process* loses nothing (the
page cache outlives it and every change is one rename); only a crash of the *machine* can lose
recent changes, and that kills every local agent holding a lock anyway. The fence may then
roll back: a reissued token equals one held by an agent that no longer exists, and a resource
that saw a higher token refuses the new holder, the safe way round. That makes a lock a few
system calls instead of five disk flushes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterator

from lanes_tui.core import fsio
from lanes_tui.core.errors import StoreError
from lanes_tui.core.sanitize import one_line
from lanes_tui.storage.files.folders import (
    locked_store_folder,
    read_json_record,
    read_store_folder,
)

EVENTS = "events.jsonl"
MAX_RECORD_BYTES = 64 << 10


def record_file_name(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:40] + ".json"


class FolderRecords:
    def __init__(self, store_root: Path, folder: str, *, key_field: str, what: str, durable: bool,
                 counter: str = "counter") -> None:
        self.store_root = Path(store_root)
        self.folder = folder
        self.path = self.store_root / folder
        self.key_field = key_field
        self.what = what
        self.durable = durable
        self.counter = counter

    def get(self, key: str) -> Any | None:
        with read_store_folder(self.store_root, self.folder) as fd:
            return None if fd is None else self._read(fd, key)

    def values(self) -> list[Any]:
        found = []
        with read_store_folder(self.store_root, self.folder) as fd:
            for name in sorted(os.listdir(fd)) if fd is not None else ():
                if not name.endswith(".json") or len(name) != 45:
                    continue
                with contextlib.suppress(OSError, ValueError, StoreError):
                    raw = json.loads(fsio.read_file(name, dir_fd=fd, max_bytes=MAX_RECORD_BYTES))
                    key = raw.get(self.key_field) if isinstance(raw, dict) else None
                    # a record copied in under another key's name is not trusted
                    if isinstance(key, str) and name == record_file_name(key):
                        found.append(raw)
        return found

    @contextlib.contextmanager
    def exclusive(self) -> Iterator["FolderTxn"]:
        with locked_store_folder(self.store_root, self.folder) as fd:
            yield FolderTxn(self, fd)

    def _read(self, fd: int, key: str) -> Any | None:
        return read_json_record(fd, record_file_name(key), f"the {self.what} for {one_line(key, 200)}",
                                MAX_RECORD_BYTES)


class FolderTxn:
    def __init__(self, records: FolderRecords, fd: int) -> None:
        self._records = records
        self._fd = fd

    def get(self, key: str) -> Any | None:
        return self._records._read(self._fd, key)

    def put(self, key: str, record: dict[str, Any]) -> None:
        fsio.write_atomic(record_file_name(key), fsio.dumps_json(record), dir_fd=self._fd,
                          durable=self._records.durable)

    def remove(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(record_file_name(key), dir_fd=self._fd)

    def log(self, entry: dict[str, Any]) -> None:
        # An audit trail: never fsynced (the records themselves are what counts).
        fsio.append_line(EVENTS, json.dumps(entry, sort_keys=True) + "\n", dir_fd=self._fd, durable=False)

    def next_number(self, recover: Callable[[], int]) -> int:
        name = self._records.counter
        try:
            last = int(fsio.read_file(name, dir_fd=self._fd, max_bytes=64).decode("ascii").strip() or 0)
        except FileNotFoundError:
            last = 0
        except (ValueError, UnicodeDecodeError):
            last = recover()
        number = last + 1
        # Rewritten in place, not renamed: only ever read under the folder lock, and a torn
        # write reads as damaged, which recovers above every number in use: a rename cost
        # more than the rest of a lock.
        out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, fsio.FILE_MODE, dir_fd=self._fd)
        try:
            data = f"{number}\n".encode("ascii")
            os.pwrite(out, data, 0)
            os.ftruncate(out, len(data))
        finally:
            os.close(out)
        return number
