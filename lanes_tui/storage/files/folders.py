"""The lanes-tui folders beside the queue (`<store>/locks`, `agents`, `messages`, `journal`).

Each is created 0700 on first use (by a writer: readers create nothing, so a read-only
store can still be listed) and opened without following a symlink. Changes
happen under an exclusive flock on the folder's own descriptor: a folder cannot be
deleted or swapped under a holder the way a lock file can, so one process at a time
changes what is inside, however many race.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from pathlib import Path
from typing import Any, Iterator

from lanes_tui.core import fsio
from lanes_tui.core.errors import NotFound, StoreError


@contextlib.contextmanager
def open_store_folder(store_root: Path, name: str) -> Iterator[int]:
    folder = Path(store_root) / name
    try:
        folder.mkdir(mode=0o700, parents=False, exist_ok=True)
    except FileNotFoundError:
        raise NotFound(f"no queue at {store_root}") from None
    with fsio.open_dir(folder) as fd:
        yield fd


@contextlib.contextmanager
def read_store_folder(store_root: Path, name: str) -> Iterator[int | None]:
    """For readers: the folder's descriptor, or None while it does not exist (nothing was
    recorded yet). Creates nothing: listing locks on a read-only store must not fail."""
    folder = Path(store_root) / name
    try:
        fd = os.open(folder, fsio.DIR_OPEN_FLAGS)
    except FileNotFoundError:
        if not Path(store_root).is_dir():
            raise NotFound(f"no queue at {store_root}") from None
        yield None
        return
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise StoreError(f"{folder} is not a real directory (symlink?)") from exc
        raise
    try:
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked_store_folder(store_root: Path, name: str) -> Iterator[int]:
    with open_store_folder(store_root, name) as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the descriptor closes
        yield fd


def read_json_record(fd: int, name: str, what: str, max_bytes: int = 64 << 10) -> Any | None:
    """The JSON value in `name`; None when it is missing or not JSON (an unreadable record
    proves nothing, so callers treat it as absent). A symlink in its place is refused."""
    try:
        data = fsio.read_file(name, dir_fd=fd, max_bytes=max_bytes)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StoreError(f"{what} is a symlink (refused)") from None
        raise StoreError(fsio.describe_os_error(exc, f"cannot read {what}")) from exc
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
