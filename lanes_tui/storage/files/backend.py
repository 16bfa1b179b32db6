"""The file store as a storage backend: `TaskStore`'s verbs plus the reads, feeds and upkeep
of `storage.base.Backend`, each done the file store's way (facts cache, inotify, stat
signatures). Nothing outside `storage/files` learns a path inside the store from here,
except the folder itself as `location`, for people.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Hashable, Iterable, Iterator, Mapping

from lanes_tui.core.errors import CorruptTask, NotFound
from lanes_tui.core.ids import validate_task_id
from lanes_tui.storage.files import scan
from lanes_tui.storage.files.store import TaskStore
from lanes_tui.storage.results import Listing, ListingOutput, Loaded, WholeTask

if TYPE_CHECKING:  # annotations only: the one-shot CLI loads what a verb needs when it runs it
    from lanes_tui.core.journal import Journal
    from lanes_tui.core.locks import LockTable
    from lanes_tui.core.messages import MessageBox
    from lanes_tui.core.presence import Presence
    from lanes_tui.core.requests import RequestBook
    from lanes_tui.core.supervisors import SupervisorStatus
    from lanes_tui.storage.files.registry import FileSupervisorRegistry
    from lanes_tui.storage.files.summaries import SummaryCache
    from lanes_tui.storage.files.watch import FolderFeed, TaskFeed


class FileBackend(TaskStore):
    @property
    def location(self) -> str:
        return str(self.root)

    @property
    def archive_location(self) -> str:
        return str(self.archive_dir)

    @property
    def address(self) -> str | None:
        return os.path.abspath(self.root)

    def is_archived(self, task_id: str) -> bool:
        return (self.archive_dir / task_id).is_dir()

    # -- finding tasks ---------------------------------------------------------------------

    def live_tasks(self, *, lane: str | None = None) -> Listing:
        return scan.live_tasks(self, lane=lane)

    def all_tasks(self, *, lane: str | None = None, include_terminal: bool = True) -> Listing:
        return scan.all_tasks(self, lane=lane, include_terminal=include_terminal)

    def listing_output(self, *, status: bool, lane: str | None = None,
                       include_terminal: bool = True) -> ListingOutput:
        """From the listing cache (listing.py): at 10,000 tasks, 230 ms instead of 1.66 s
        without it (docs/benchmarks.md, `bench/listing_bench.py`)."""
        from lanes_tui.storage.files import listing

        collected = listing.collect(self, lane=lane, include_terminal=include_terminal)
        render = listing.render_status_all_batches if status else listing.render_list_batches
        return ListingOutput(render(collected), list(collected.corrupt))

    def lane_candidates(self, lane: str | None, corrupt: list[tuple[str, str]] | None = None) -> list[str]:
        facts = scan.TaskFacts.load(self)
        candidates = scan.lane_candidates(self, lane, facts, corrupt)
        facts.save(self)
        return candidates

    def read_new_tasks(self, task_ids: list[str], corrupt: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
        return scan.read_new_tasks(self, task_ids, corrupt)

    def lane_has_tasks(self, lane: str) -> bool:
        return scan.lane_has_tasks(self, lane)

    def load(self, task_ids: Iterable[str], known: Mapping[str, Hashable] | None = None) -> Iterator[Loaded]:
        """task.json's (inode, size, mtime) is the version: an atomic rename changes the inode,
        so a task rewritten within one mtime tick is still seen as changed."""
        known = known or {}
        with self.open_tasks_dir() as tasks_fd:  # once, not twice per task
            for task_id in task_ids:
                yield self._load_one(task_id, known.get(task_id), tasks_fd, waited=False)

    def _load_one(self, task_id: str, known: Hashable | None, tasks_fd: int, *, waited: bool) -> Loaded:
        version = _stat(tasks_fd, task_id)
        if version is None:
            return Loaded(task_id, None)
        if known is not None and known == version:
            return Loaded(task_id, version, unchanged=True)
        try:
            task, needs_repair = self.effective_task_and_repair(task_id, tasks_fd=tasks_fd)
        except NotFound:
            if version == _BEING_CREATED and not waited:
                with self.locked():  # a submitter holds the lock until task.json is written
                    pass
                return self._load_one(task_id, None, tasks_fd, waited=True)
            return Loaded(task_id, None)
        except CorruptTask as exc:
            return Loaded(task_id, version, corrupt=str(exc))
        return Loaded(task_id, version, task=task, needs_repair=needs_repair)

    def export_tasks(self) -> Iterator[WholeTask]:
        from lanes_tui.storage.files.transfer import export_tasks

        return export_tasks(self)

    def import_task(self, record: WholeTask) -> bool:
        from lanes_tui.storage.files.transfer import import_task

        return import_task(self, record)

    def summary_cache(self) -> "SummaryCache":
        from lanes_tui.storage.files.summaries import (
            SummaryCache,  # only long-running processes keep one
        )

        return SummaryCache(self.root)

    # -- noticing changes ---------------------------------------------------------------------

    def task_feed(self) -> "TaskFeed":
        from lanes_tui.storage.files.watch import (
            TaskFeed,  # only long-running processes need watchfiles
        )

        return TaskFeed(self.tasks_dir)

    def watch(self, task_ids: Iterable[str] = (), *, new_tasks: bool = True) -> "TaskDirWatch":
        return TaskDirWatch(self.tasks_dir, task_ids, new_tasks)

    # -- coordination: advisory locks, presence, messages, the journal ---------------------------
    # The store's clock for all of them, so a status and an age agree with the queue's `now`.

    def locks(self) -> "LockTable":
        from lanes_tui.storage.files.coordination import file_locks

        return file_locks(self.root, clock=self.clock)

    def presence(self) -> "Presence":
        from lanes_tui.storage.files.coordination import file_presence

        return file_presence(self.root, clock=self.clock)

    def messages(self) -> "MessageBox":
        from lanes_tui.storage.files.coordination import file_messages

        return file_messages(self.root, clock=self.clock)

    def journal(self) -> "Journal":
        from lanes_tui.storage.files.coordination import file_journal

        return file_journal(self.root, clock=self.clock)

    def requests(self) -> "RequestBook":
        from lanes_tui.storage.files.coordination import file_requests

        return file_requests(self.root, clock=self.clock, task_events=self._request_event)

    def _request_event(self, task_id: str, kind: str, message: str, data: dict[str, Any]) -> None:
        self.append_event(task_id, kind, message, data)

    def record_feed(self, kind: str) -> "FolderFeed":
        """The folder of `kind` (locks, agents, messages, requests) watched; made first, so it can be."""
        from lanes_tui.storage.files.coordination import FOLDERS
        from lanes_tui.storage.files.watch import (  # only the dashboard watches these
            FEED_STEP_MS,
            URGENT_STEP_MS,
            FolderFeed,
        )

        folder = self.root / FOLDERS[kind]
        folder.mkdir(mode=0o700, exist_ok=True)
        return FolderFeed(folder, step_ms=URGENT_STEP_MS if kind == "requests" else FEED_STEP_MS)

    def record_watch(self, kind: str) -> "FolderWatch":
        from lanes_tui.storage.files.coordination import FOLDERS

        folder = self.root / FOLDERS[kind]
        folder.mkdir(mode=0o700, exist_ok=True)  # a watch of a folder not made yet would see nothing
        return FolderWatch(folder)

    # -- the supervisor and its workers' logs --------------------------------------------------

    def supervisor_registry(self) -> "FileSupervisorRegistry":
        from lanes_tui.storage.files.registry import FileSupervisorRegistry

        return FileSupervisorRegistry(self)

    def supervisors(self) -> list[SupervisorStatus]:
        return self.supervisor_registry().status()

    def attempt_log_path(self, task_id: str, attempt: int) -> Path:
        validate_task_id(task_id)
        return self.root / scan.CACHE_DIR / "logs" / task_id / f"attempt-{attempt}.log"

    # -- upkeep --------------------------------------------------------------------------------

    def sweep_temp_files(self) -> int:
        from lanes_tui.storage.files.sweep import (
            sweep_temp_files,  # the supervisor's start-up only
        )

        return len(sweep_temp_files(self.root))


_BEING_CREATED = (-1, -1, -1)  # a folder without task.json: a submit in progress, or one that died


def _stat(tasks_fd: int, task_id: str) -> tuple[int, int, int] | None:
    try:
        info = os.stat(f"{task_id}/task.json", dir_fd=tasks_fd, follow_symlinks=False)
    except FileNotFoundError:
        try:
            os.stat(task_id, dir_fd=tasks_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        return _BEING_CREATED
    except OSError:
        return _BEING_CREATED  # unreadable: read it again each time, it reports itself corrupt
    return (info.st_ino, info.st_size, info.st_mtime_ns)


class FolderWatch:
    """One coordination folder, for blocking code."""

    def __init__(self, folder: Path) -> None:
        from lanes_tui.storage.files.watch import (
            DirWatcher,  # only waiting needs watchfiles
        )

        self._watcher = DirWatcher([folder])

    def wait(self, timeout: float) -> bool:
        return bool(self._watcher.wait(timeout))

    def close(self) -> None:
        self._watcher.close()


class TaskDirWatch:
    """The named tasks' folders and (for new tasks) `tasks/` itself, not recursive."""

    def __init__(self, tasks_dir: Path, task_ids: Iterable[str], new_tasks: bool) -> None:
        from lanes_tui.storage.files.watch import (
            DirWatcher,  # only waiting needs watchfiles
        )

        self._tasks_dir = tasks_dir
        folders = [tasks_dir / t for t in task_ids]
        self._watcher = DirWatcher([tasks_dir, *folders] if new_tasks else folders)

    def wait(self, timeout: float) -> set[str]:
        from lanes_tui.storage.files.watch import task_ids_of

        return task_ids_of({str(p) for p in self._watcher.wait(timeout)}, self._tasks_dir)

    def close(self) -> None:
        self._watcher.close()

    def __enter__(self) -> "TaskDirWatch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
