"""The lanes-tui folders beside the queue (`<store>/locks`, `agents`, `messages`, `journal`).

Each is created 0700 on first use and opened without following a symlink. Changes
happen under an exclusive flock on the folder's own descriptor: a folder cannot be
deleted or swapped under a holder the way a lock file can, so one process at a time
changes what is inside, however many race.
"""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path
from typing import Iterator

from lanes_tui.core import fsio
from lanes_tui.core.errors import NotFound


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
def locked_store_folder(store_root: Path, name: str) -> Iterator[int]:
    with open_store_folder(store_root, name) as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the descriptor closes
        yield fd
