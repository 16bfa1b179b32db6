"""Leftover temporary files: what a writer killed mid-write leaves in the store (pure file I/O).

Every atomic write goes through a temporary `.<name>.<32 hex>.tmp` in the target's
folder (core/fsio.py; task.json backups are named the same way). A process
SIGKILLed between creating it and renaming it leaves it behind: harmless to
readers, but nothing else removes it (a soak of 300 kills left 77). The supervisor
sweeps them when it starts, while it holds the store's lifetime lock.

Only files older than `older_than` seconds are removed: a live writer of another
process (a CLI, agent-lanes) may be between its create and its rename right now.
Symlinks are never followed; only regular files with the exact temporary name go.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")
MIN_AGE_SECONDS = 600.0  # no atomic write takes ten minutes
MAX_DEPTH = 3  # root/tasks/<id>/..., root/messages/<box>/..., root/.lanes-tui/logs/<task>


def sweep_temp_files(root: Path, *, older_than: float = MIN_AGE_SECONDS, now: float | None = None) -> list[Path]:
    """Remove stale temporary files under `root`; returns what was removed."""
    cutoff = (time.time() if now is None else now) - older_than
    removed: list[Path] = []
    _sweep(Path(root), 0, cutoff, removed)
    return removed


def _sweep(folder: Path, depth: int, cutoff: float, removed: list[Path]) -> None:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return  # vanished, unreadable: nothing to sweep there
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                if depth < MAX_DEPTH:
                    _sweep(Path(entry.path), depth + 1, cutoff, removed)
            elif TEMP_NAME.match(entry.name) and entry.is_file(follow_symlinks=False) \
                    and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # gone meanwhile, or not ours to remove: leave it
