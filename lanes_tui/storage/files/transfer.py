"""Whole tasks out of and into a file store, for `store copy` (storage/copying.py).

Out: each task of tasks/ as it reads once its recorded answer is rolled forward (G8; nothing
is written), then each of archive/. In: the task's folder is built under a temporary name
beside where it goes (events.jsonl, response.json, then task.json, each durable) and renamed
into place under the store lock, so agent-lanes and lanes-tui readers see the task whole or
not at all, and a copy killed midway leaves no half task (only a dot-named folder that no
reader takes for a task).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import TYPE_CHECKING, Iterator

from lanes_tui.core import fsio
from lanes_tui.core.errors import NotFound
from lanes_tui.core.ids import is_valid_task_id
from lanes_tui.core.lifecycle import apply_response
from lanes_tui.core.states import TERMINAL_STATES
from lanes_tui.core.wire import MAX_TASK_BYTES, event_line, parse_event_lines
from lanes_tui.storage.results import WholeTask
from lanes_tui.storage.task_records import already_here, record_id

if TYPE_CHECKING:
    from pathlib import Path

    from lanes_tui.storage.files.store import TaskStore


def export_tasks(store: TaskStore) -> Iterator[WholeTask]:
    for folder, archived in ((store.tasks_dir, False), (store.archive_dir, True)):
        for task_id in _ids_in(folder):
            record = _read(store, folder, task_id, archived)
            if record is not None:
                yield record


def import_task(store: TaskStore, record: WholeTask) -> bool:
    task_id = record_id(record)
    with store._guard(f"copy task {task_id} into {store.root}"), store.locked():
        existing = _read(store, store.tasks_dir, task_id, False) or _read(store, store.archive_dir, task_id, True)
        if already_here(existing, record, str(store.root)):
            return False
        parent = store.archive_dir if record.archived else store.tasks_dir
        parent.mkdir(mode=fsio.DIR_MODE, exist_ok=True)
        with fsio.open_dir(parent) as parent_fd:
            building = f".copy-{task_id}.{uuid.uuid4().hex}"
            os.mkdir(building, fsio.DIR_MODE, dir_fd=parent_fd)
            try:
                with fsio.open_dir(building, dir_fd=parent_fd) as fd:
                    fsio.write_new_file("events.jsonl", "".join(event_line(e) for e in record.events).encode(),
                                        dir_fd=fd)
                    if record.response is not None:
                        fsio.write_atomic("response.json", fsio.dumps_json(record.response), dir_fd=fd)
                    fsio.write_atomic("task.json", fsio.dumps_json(record.task), dir_fd=fd)
                os.rename(building, task_id, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
                os.fsync(parent_fd)  # the task's folder entry is durable too (G1)
            except BaseException:
                _remove_tree(parent_fd, building)
                raise
    return True


def _ids_in(folder: Path) -> list[str]:
    try:
        return sorted(name for name in os.listdir(folder) if is_valid_task_id(name))
    except FileNotFoundError:
        return []


def _read(store: TaskStore, folder: Path, task_id: str, archived: bool) -> WholeTask | None:
    """The task in `folder`, whole; None when there is none (a folder without task.json is a
    submit in progress, not a task)."""
    try:
        with fsio.open_dir(folder) as parent_fd, store._task_dir(task_id, parent_fd) as fd:
            task = store._read_task_at(fd, task_id)
            response = store._read_response_at(fd, task_id)
            try:
                log = parse_event_lines(fsio.read_file("events.jsonl", dir_fd=fd, max_bytes=MAX_TASK_BYTES))
            except FileNotFoundError:
                log = parse_event_lines(b"")
    except (FileNotFoundError, NotFound):
        return None
    if response is not None and task["state"] not in TERMINAL_STATES:
        apply_response(task, response)  # G8, as every reader sees it; the source is not written
    return WholeTask(task, response, log.events, archived, log.bad_lines)


def _remove_tree(parent_fd: int, name: str) -> None:
    with contextlib.suppress(OSError), fsio.open_dir(name, dir_fd=parent_fd) as fd:
        for entry in os.listdir(fd):
            with contextlib.suppress(OSError):
                os.unlink(entry, dir_fd=fd)
    with contextlib.suppress(OSError):
        os.rmdir(name, dir_fd=parent_fd)
