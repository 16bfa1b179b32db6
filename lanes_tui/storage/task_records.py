"""Whole tasks compared across backends: what makes two copies of a task "the same".

A record's digest is the sha256 of its canonical JSON (sorted keys, no spaces) of the task,
its answer, its events in order and whether it is archived. Each backend stores JSON in its
own layout (indented files, compact rows), so bytes differ while what reads back is equal;
the digest is taken over what reads back.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from lanes_tui.core.errors import ConflictError
from lanes_tui.core.ids import validate_task_id
from lanes_tui.storage.results import WholeTask


def digest(record: WholeTask) -> str:
    whole = [record.task, record.response, record.events, record.archived]
    text = json.dumps(whole, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_id(record: WholeTask) -> str:
    task_id = record.task.get("id") if isinstance(record.task, dict) else None
    validate_task_id(task_id)  # type: ignore[arg-type]
    return task_id  # type: ignore[return-value]


def already_here(existing: WholeTask | None, record: WholeTask, where: str) -> bool:
    """Whether importing `record` has nothing to do: True when `existing` is the same task,
    False when there is none; ConflictError when the id holds a different task (never
    overwritten: one of the two would be lost)."""
    if existing is None:
        return False
    if digest(existing) == digest(record):
        return True
    raise ConflictError(f"task {record_id(record)} is already in {where} with other contents "
                        f"(state {_state(existing)} there, {_state(record)} in the copy); nothing of it was changed")


def _state(record: WholeTask) -> Any:
    return ("archived " if record.archived else "") + str(record.task.get("state"))
