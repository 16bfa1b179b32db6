"""The task store: agent-lanes v0.1 on-disk layout, with sturdier verbs.

Layout and JSON bytes are exactly agent-lanes 0.1.1's, so its CLI, dispatchers
and chats work on the same folder. What we do differently is all internal:

* every change holds `flock(<store>/lock)` for one task's read-modify-write only;
  nothing here scans the store under the lock (listings are lock-free, see
  `lanes_tui.storage.files.scan`);
* paths inside the store are opened with O_NOFOLLOW (`fsio`);
* a corrupt task raises `CorruptTask` for that task alone;
* response.json present means answered: mutating verbs roll task.json forward
  first (G8), so a crash between the two writes cannot be answered twice (G4);
* operator verbs (cancel, break, requeue, archive) write ordinary events so
  agent-lanes clients still understand what happened.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from lanes_tui.core import fsio, lifecycle
from lanes_tui.core.clock import Clock, after, format_ts, system_clock
from lanes_tui.core.errors import (
    ConflictError,
    CorruptTask,
    InvalidInput,
    LanesError,
    NotFound,
    StoreError,
)
from lanes_tui.core.ids import is_valid_task_id, slug, validate_task_id
from lanes_tui.core.lifecycle import Event, apply_response
from lanes_tui.core.paths import expand_user
from lanes_tui.core.request_files import read_request, request_problem
from lanes_tui.core.states import COMPLETED, TERMINAL_STATES, attempts_of
from lanes_tui.core.wire import (
    MAX_RESPONSE_BYTES,
    MAX_TASK_BYTES,
    EventLog,
    event_line,
    parse_event_lines,
    parse_task_bytes,
)
from lanes_tui.storage import verbs
from lanes_tui.storage.files.storecheck import check_store_root
from lanes_tui.storage.results import NextResult


class TaskStore:
    def __init__(self, root: str | os.PathLike[str], *, clock: Clock = system_clock, create: bool = True):
        self.clock = clock
        root_path = expand_user(root, "store path")
        if create:
            try:
                root_path.mkdir(mode=fsio.DIR_MODE, parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(fsio.describe_os_error(exc, f"cannot create store {root_path}")) from exc
        self.root = root_path.resolve()
        if not self.root.is_dir():
            raise NotFound(f"store does not exist: {self.root}")
        check_store_root(self.root)
        self.tasks_dir = self.root / "tasks"
        self.archive_dir = self.root / "archive"
        self.lock_path = self.root / "lock"
        if create:
            self._ensure_layout()

    # -- layout and locking -------------------------------------------------

    def _ensure_layout(self) -> None:
        try:
            with fsio.open_dir(self.root) as root_fd:
                fsio.make_dir("tasks", dir_fd=root_fd, exist_ok=True)
                fsio.make_dir("indexes", dir_fd=root_fd, exist_ok=True)
                with fsio.open_dir("indexes", dir_fd=root_fd) as idx_fd:
                    fsio.make_dir("correlations", dir_fd=idx_fd, exist_ok=True)
                with fsio.open_dir("tasks", dir_fd=root_fd):
                    pass  # refuses a symlinked tasks/ folder
        except OSError as exc:
            raise StoreError(fsio.describe_os_error(exc, f"cannot prepare store {self.root}")) from exc

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive flock on <store>/lock, robust to the file being replaced.

        If another process deletes or replaces `lock` while we wait, our flock is
        on an orphaned inode that a newcomer would not contend for; we re-check
        that the path still names our inode after locking, and retry if not.

        That re-check cannot protect a holder: once `lock` is unlinked or replaced
        while we hold it, a newcomer locks the fresh file and walks in. So
        lanes-tui processes first take a flock on the store folder itself (which
        nobody can swap under us); the `lock` file's flock keeps agent-lanes out.
        Always folder first, then file: no lock-order cycle.
        """
        try:
            root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise StoreError(fsio.describe_os_error(exc, f"cannot open {self.root}")) from exc
        try:
            fcntl.flock(root_fd, fcntl.LOCK_EX)
            while True:
                try:
                    fd = os.open(
                        self.lock_path,
                        os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                        fsio.FILE_MODE,
                    )
                except OSError as exc:
                    raise StoreError(fsio.describe_os_error(exc, f"cannot open {self.lock_path}")) from exc
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    try:
                        current = os.stat(self.lock_path, follow_symlinks=False)
                    except FileNotFoundError:
                        current = None
                    held = os.fstat(fd)
                    if current is not None and (current.st_ino, current.st_dev) == (held.st_ino, held.st_dev):
                        break
                except BaseException:
                    os.close(fd)
                    raise
                os.close(fd)
            try:
                yield
            finally:
                os.close(fd)  # closing releases the flock
        finally:
            os.close(root_fd)

    def open_tasks_dir(self) -> "contextlib.AbstractContextManager[int]":
        """tasks/ opened once, for a caller that reads many tasks (TaskIndex.rescan)."""
        return fsio.open_dir(self.tasks_dir)

    @contextlib.contextmanager
    def _task_dir(self, task_id: str, tasks_fd: int | None = None) -> Iterator[int]:
        validate_task_id(task_id)
        try:
            with contextlib.nullcontext(tasks_fd) if tasks_fd is not None else fsio.open_dir(self.tasks_dir) as tasks_fd:
                opened = False
                try:
                    with fsio.open_dir(task_id, dir_fd=tasks_fd) as fd:
                        opened = True
                        yield fd
                except FileNotFoundError:
                    raise NotFound(f"unknown task: {task_id}") from None
                except StoreError:
                    if opened:
                        raise
                    # A planted symlink (or a file) in place of the task folder: this
                    # task is corrupt, the others are fine (listings keep working).
                    raise CorruptTask(
                        f"task {task_id}: task folder is a symlink or not a folder (refused)"
                    ) from None
        except OSError as exc:
            raise StoreError(fsio.describe_os_error(exc, f"task {task_id}")) from exc

    # -- lock-free reads -------------------------------------------------------

    def now(self) -> Any:
        return self.clock()

    def task_ids(self, known: "set[str] | dict[str, Any] | None" = None) -> list[str]:
        """Folder names under tasks/ that are valid ids (those in `known` were checked before)."""
        try:
            names = os.listdir(self.tasks_dir)
        except FileNotFoundError:
            return []
        if known:
            return [n for n in names if n in known or is_valid_task_id(n)]
        return [n for n in names if is_valid_task_id(n)]

    def read_task(self, task_id: str) -> dict[str, Any]:
        with self._task_dir(task_id) as fd:
            return self._read_task_at(fd, task_id)

    def _read_task_at(self, fd: int, task_id: str) -> dict[str, Any]:
        try:
            data = fsio.read_file("task.json", dir_fd=fd, max_bytes=MAX_TASK_BYTES)
        except CorruptTask as exc:  # too large, not a regular file: say which task
            raise CorruptTask(f"task {task_id}: {exc}") from None
        except FileNotFoundError:
            # A folder without task.json is a submit still in progress, or one killed
            # before its task.json was renamed into place: not a task yet (agent-lanes'
            # scanners ignore it too), so not "corrupt" either.
            raise NotFound(f"unknown task: {task_id} (no task.json)") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise CorruptTask(f"task {task_id}: task.json is a symlink (refused)") from None
            raise StoreError(fsio.describe_os_error(exc, f"task {task_id}")) from exc
        return parse_task_bytes(data, task_id)

    def read_response(self, task_id: str) -> dict[str, Any] | None:
        with self._task_dir(task_id) as fd:
            return self._read_response_at(fd, task_id)

    def _read_response_at(self, fd: int, task_id: str) -> dict[str, Any] | None:
        try:
            data = fsio.read_file("response.json", dir_fd=fd, max_bytes=MAX_RESPONSE_BYTES)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise CorruptTask(f"task {task_id}: response.json is a symlink (refused)") from None
            raise StoreError(fsio.describe_os_error(exc, f"task {task_id}")) from exc
        try:
            response = json.loads(data.decode("utf-8"))
        except (ValueError, RecursionError):
            raise CorruptTask(f"task {task_id}: response.json is not valid JSON") from None
        if not isinstance(response, dict):
            raise CorruptTask(f"task {task_id}: response.json is not a JSON object")
        if "task_id" in response and response["task_id"] != task_id:
            # Another task's answer (copied or moved in): rolling it forward (G8) would answer
            # this task with it. Refused, and the task is reported corrupt instead.
            other = str(response["task_id"])[:80]
            raise CorruptTask(f"task {task_id}: response.json belongs to task {other!r}")
        if response.get("metadata") is None:
            response["metadata"] = {}
        return response

    def response_exists(self, task_id: str) -> bool:
        validate_task_id(task_id)
        return os.path.lexists(self.tasks_dir / task_id / "response.json")

    def read_events(self, task_id: str, *, limit: int | None = None) -> EventLog:
        with self._task_dir(task_id) as fd:
            try:
                if limit is not None:
                    # Read the tail; widen it while it holds fewer than `limit` good
                    # events (lines may be up to MAX_EVENT_LINE_BYTES, or torn) and
                    # the file goes further back.
                    window = 64 * 1024 * max(1, limit)
                    while True:
                        data, size = fsio.read_tail("events.jsonl", dir_fd=fd, max_bytes=window)
                        whole = len(data) >= size
                        if not whole:  # the window starts mid-line: drop that partial line
                            data = data.split(b"\n", 1)[1] if b"\n" in data else b""
                        log = parse_event_lines(data)
                        if whole or len(log.events) >= limit or window >= MAX_TASK_BYTES:
                            break
                        window *= 4
                else:
                    log = parse_event_lines(fsio.read_file("events.jsonl", dir_fd=fd, max_bytes=MAX_TASK_BYTES))
            except FileNotFoundError:
                return EventLog()
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise CorruptTask(f"task {task_id}: events.jsonl is a symlink (refused)") from None
                raise
        if limit is not None:
            log.events = log.events[-limit:] if limit > 0 else []
        return log

    def last_event(self, task_id: str) -> dict[str, Any] | None:
        log = self.read_events(task_id, limit=1)
        return log.events[-1] if log.events else None

    def attempts(self, task_id: str) -> int:
        """How many times the task was claimed (by any client: counted from events)."""
        return attempts_of(self.read_events(task_id).events).claims

    def effective_task(self, task_id: str) -> dict[str, Any]:
        """task.json as it will be after roll-forward recovery (no write)."""
        return self.effective_task_and_repair(task_id)[0]

    def effective_task_and_repair(self, task_id: str, *, tasks_fd: int | None = None) -> tuple[dict[str, Any], bool]:
        """(effective task, whether task.json on disk still awaits its roll-forward, G8).

        `tasks_fd`: tasks/ already opened (open_tasks_dir), saving two system calls per task."""
        with self._task_dir(task_id, tasks_fd) as fd:
            task = self._read_task_at(fd, task_id)
            if task["state"] not in TERMINAL_STATES:
                response = self._read_response_at(fd, task_id)
                if response is not None:
                    apply_response(task, response)
                    return task, True
            return task, False

    # -- verbs (the state machine is core/lifecycle.py; this is how it is made atomic on disk) --

    def create_task(
        self,
        *,
        workspace_id: str,
        correlation_id: str,
        source_agent: str,
        lane: str,
        workspace_root: Path | str,
        request_path: Path | str,
        response_path: Path | str,
        prompt: str,
        worktree_path: Path | str | None = None,
        expected_branch: str | None = None,
        supporting_paths: Iterable[Any] = (),
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        task, created = verbs.build_task(
            self.now, workspace_id=workspace_id, correlation_id=correlation_id, source_agent=source_agent, lane=lane,
            workspace_root=workspace_root, request_path=request_path, response_path=response_path, prompt=prompt,
            worktree_path=worktree_path, expected_branch=expected_branch, supporting_paths=supporting_paths,
            metadata=metadata)
        task_id = task["id"]
        text = fsio.dumps_json(task)
        if len(text) > MAX_TASK_BYTES:
            raise InvalidInput(f"task is too large ({len(text)} bytes, limit {MAX_TASK_BYTES})")
        with self._guard(f"submit to {self.root}"), self.locked():
            with fsio.open_dir(self.tasks_dir) as tasks_fd:
                try:
                    os.mkdir(task_id, fsio.DIR_MODE, dir_fd=tasks_fd)
                except FileExistsError:
                    raise ConflictError(f"task already exists: {task_id}") from None
                try:
                    with fsio.open_dir(task_id, dir_fd=tasks_fd) as fd:
                        # events.jsonl first: a task.json never exists without it.
                        fsio.write_new_file("events.jsonl", b"", dir_fd=fd)
                        fsio.write_atomic("task.json", text, dir_fd=fd)
                        os.fsync(tasks_fd)  # G1: the new folder entry is durable too
                        self._record(fd, created)
                except BaseException:
                    _remove_partial_task(tasks_fd, task_id)
                    raise
            # Advisory (agent-lanes never reads it back): the task is already durable, so a
            # failing index write must not report the submit failed (a retry would duplicate it).
            with contextlib.suppress(OSError, LanesError):
                self._write_correlation_index(workspace_id, correlation_id, task_id)
        return task

    def claim(self, task_id: str, *, owner: str, lease_seconds: float) -> dict[str, Any]:
        lifecycle.check_lease(lease_seconds)
        with self._update(f"claim {task_id}", task_id) as (fd, task):
            events = parse_event_lines(_read_events_bytes(fd)).events
            self._write(fd, task, lifecycle.claim(task, owner=owner, lease_seconds=lease_seconds, now=self.now(),
                                                  events=events))
            return task

    def next_task(self, lane: str, *, candidates: Iterable[str], vendor: str | None = None,
                  claim_owner: str | None = None, lease_seconds: float | None = None) -> NextResult:
        """First claimable task of `lane` among `candidates` (storage/verbs.py): each is re-read
        from disk, under the lock when claiming, so a stale index only costs a retry."""
        return verbs.next_task(self, lane, candidates=candidates, vendor=vendor, claim_owner=claim_owner,
                               lease_seconds=lease_seconds)

    def renew(self, task_id: str, *, claim_token: str, lease_seconds: float) -> dict[str, Any]:
        lifecycle.check_lease(lease_seconds)
        with self._update(f"renew {task_id}", task_id) as (fd, task):
            lifecycle.require_holder(task, claim_token, "renew")
            self._write(fd, task, lifecycle.apply_renew(task, lease_seconds=lease_seconds, now=self.now()))
            return task

    def release(self, task_id: str, *, claim_token: str, reason: str | None = None) -> dict[str, Any]:
        with self._update(f"release {task_id}", task_id) as (fd, task):
            lifecycle.require_holder(task, claim_token, "release")
            self._write(fd, task, lifecycle.apply_release(task, now=self.now(), reason=reason))
            return task

    def append_event(
        self,
        task_id: str,
        event_type: str,
        message: str,
        data: dict[str, Any] | None = None,
        *,
        claim_token: str | None = None,
    ) -> None:
        """Append an event; with a claim token, only while that claim is current (G7)."""
        with self._guard(f"event on {task_id}"), self.locked(), self._task_dir(task_id) as fd:
            task = self._read_task_at(fd, task_id)
            if claim_token is not None:
                lifecycle.require_holder(task, claim_token, "add an event to")
            self._record(fd, Event(event_type, message, data or {}))

    def respond(
        self,
        task_id: str,
        *,
        body: str,
        reviewer: str,
        claim_token: str | None = None,
        status: str = COMPLETED,
        follow_up_required: bool = False,
        verdict: str | None = None,
        blocking_count: int | None = None,
        nonblocking_count: int | None = None,
        expect_sha256: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record the answer, at most once and only by the current holder (G4)."""
        reply = lifecycle.Reply(body, reviewer, status, follow_up_required, verdict, blocking_count,
                                nonblocking_count, expect_sha256, metadata)
        with self._update(f"respond to {task_id}", task_id) as (fd, task):
            response = lifecycle.answer(task, reply, claim_token=claim_token, now=self.now())
            text = fsio.dumps_json(response)
            if len(text) > MAX_RESPONSE_BYTES:
                raise InvalidInput(f"response is too large ({len(text)} bytes, limit {MAX_RESPONSE_BYTES})")
            # response.json first: once it exists the task counts as answered (G8).
            fsio.write_atomic("response.json", text, dir_fd=fd)
            apply_response(task, response)
            self._write(fd, task, lifecycle.response_event(reviewer))
            return response

    def cancel(self, task_id: str, *, by: str, reason: str | None = None) -> dict[str, Any]:
        """queued or claimed -> failed with failure_reason `cancelled`."""
        with self._update(f"cancel {task_id}", task_id) as (fd, task):
            lifecycle.check_cancel(task)
            self._write(fd, task, lifecycle.apply_cancel(task, now=self.now(), by=by, reason=reason))
            return task

    def break_claim(self, task_id: str, *, by: str, reason: str) -> dict[str, Any]:
        """Force-release a claim: back to queued; the old token is dead (G7)."""
        with self._update(f"break {task_id}", task_id) as (fd, task):
            lifecycle.check_break(task)
            self._write(fd, task, lifecycle.apply_break(task, now=self.now(), by=by, reason=reason))
            return task

    def requeue(self, task_id: str, *, by: str, metadata_overrides: dict[str, Any] | None = None,
                source_agent: str | None = None) -> dict[str, Any]:
        """A failed task's definition submitted again as a new task linked to the old."""
        return verbs.requeue(self, task_id, by=by, metadata_overrides=metadata_overrides, source_agent=source_agent)

    def archive(self, *, older_than_days: float, dry_run: bool = False) -> list[str]:
        """Move terminal tasks finished more than N days ago to <store>/archive/.

        Candidates are found lock-free; each move re-checks under the lock and is
        a rename, so a task is always either fully in tasks/ or in archive/.
        """
        lifecycle.check_archive_age(older_than_days)
        cutoff = after(self.now(), -older_than_days * 86400)
        moved: list[str] = []
        for task_id in sorted(self.task_ids()):
            if not self._finished_before(task_id, cutoff):
                continue
            if dry_run:
                moved.append(task_id)
                continue
            with self._guard(f"archive {task_id}"), self.locked():
                if not self._finished_before(task_id, cutoff):
                    continue
                with fsio.open_dir(self.root) as root_fd:
                    fsio.make_dir("archive", dir_fd=root_fd, exist_ok=True)
                    with fsio.open_dir("tasks", dir_fd=root_fd) as src, fsio.open_dir("archive", dir_fd=root_fd) as dst:
                        os.rename(task_id, task_id, src_dir_fd=src, dst_dir_fd=dst)
                        os.fsync(src)
                        os.fsync(dst)
            moved.append(task_id)
        return moved

    def recover(self, task_id: str) -> dict[str, Any]:
        """Roll task.json forward if a response was written before a crash (G8)."""
        with self._guard(f"recover {task_id}"), self.locked(), self._task_dir(task_id) as fd:
            return self._load_for_update(fd, task_id)

    def request_problem(self, task: dict[str, Any]) -> str | None:
        """Why the task's request cannot be claimed as it stands, or None."""
        return request_problem(task)

    def request_content(self, task: dict[str, Any]) -> bytes | None:
        return read_request(task)

    # -- results that cross hosts: not on a single-host store ---------------------------------

    @property
    def results_travel(self) -> bool:
        return False

    def keep_result_bundle(self, task_id: str, *, claim_token: str, head: str, content: bytes) -> str:
        raise InvalidInput("a task's branch travels only on a shared queue: this store's repository has it")

    def result_bundle(self, task_id: str) -> tuple[str, bytes] | None:
        return None

    # -- helpers -------------------------------------------------------------------

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Turn OS errors (disk full, EIO from fsync) into one-line StoreErrors."""
        try:
            yield
        except LanesError:
            raise
        except OSError as exc:
            raise StoreError(fsio.describe_os_error(exc, f"cannot {what}")) from exc

    @contextlib.contextmanager
    def _update(self, what: str, task_id: str) -> Iterator[tuple[int, dict[str, Any]]]:
        """One task's read-modify-write: under the store lock, rolled forward first (G8), all or
        nothing (`_undo_on_error`). Yields the task folder's fd and the task as loaded."""
        with self._guard(what), self.locked(), self._task_dir(task_id) as fd, _undo_on_error(fd):
            yield fd, self._load_for_update(fd, task_id)

    def _load_for_update(self, fd: int, task_id: str) -> dict[str, Any]:
        task = self._read_task_at(fd, task_id)
        if task["state"] not in TERMINAL_STATES:
            response = self._read_response_at(fd, task_id)
            if response is not None:
                apply_response(task, response)
                self._write(fd, task, lifecycle.roll_forward_event(task))
        return task

    def _write(self, fd: int, task: dict[str, Any], event: Event) -> None:
        fsio.write_atomic("task.json", fsio.dumps_json(task), dir_fd=fd)
        self._record(fd, event)

    def _record(self, fd: int, event: Event) -> None:
        fsio.append_line("events.jsonl", event_line(event.to_wire(self.now())), dir_fd=fd)

    def _write_correlation_index(self, workspace_id: str, correlation_id: str, task_id: str) -> None:
        name = f"{slug(workspace_id)}--{slug(correlation_id)}.json"
        if len(name) > 250:
            return  # agent-lanes would crash here; the index is advisory, the task is saved
        record = {
            "workspace_id": workspace_id,
            "correlation_id": correlation_id,
            "task_id": task_id,
            "updated_at": format_ts(self.now()),
        }
        with fsio.open_dir(self.root / "indexes" / "correlations") as fd:
            fsio.write_atomic(name, fsio.dumps_json(record), dir_fd=fd)

    def _finished_before(self, task_id: str, cutoff: Any) -> bool:
        try:
            task = self.effective_task(task_id)
        except (NotFound, CorruptTask):
            return False
        return lifecycle.finished_before(task, cutoff)


def _read_events_bytes(fd: int) -> bytes:
    try:
        return fsio.read_file("events.jsonl", dir_fd=fd, max_bytes=MAX_TASK_BYTES)
    except FileNotFoundError:
        return b""


@contextlib.contextmanager
def _undo_on_error(fd: int) -> Iterator[None]:
    """All or nothing for a verb that writes several files (row 12: EIO, disk full).

    A verb that fails after its first write (an fsync raising EIO after a rename, a
    full disk on the second file, a failed event append) must not leave its state
    change behind while reporting failure (a claim nobody holds the token of, an
    answer the caller will retry). task.json is kept as a hard link and put back;
    a response.json the verb created is removed. Renames and unlinks need no free
    space, so this works on a full disk too.
    """
    backup = f".task.json.{os.urandom(16).hex()}.tmp"  # secrets.token_hex, without its import cost
    try:
        os.link("task.json", backup, src_dir_fd=fd, dst_dir_fd=fd, follow_symlinks=False)
    except OSError:
        backup = None  # no task.json, or no hard links here: errors surface in the verb
    try:
        os.stat("response.json", dir_fd=fd, follow_symlinks=False)
        had_response = True
    except OSError:
        had_response = False
    try:
        yield
    except ConflictError:
        # A refusal is decided before the verb writes anything; keep what the
        # roll-forward in _load_for_update may have repaired (G8).
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            if not had_response:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink("response.json", dir_fd=fd)
            if backup is not None:
                os.replace(backup, "task.json", src_dir_fd=fd, dst_dir_fd=fd)
            os.fsync(fd)
        raise
    finally:
        if backup is not None:
            with contextlib.suppress(OSError):
                os.unlink(backup, dir_fd=fd)


def _remove_partial_task(tasks_fd: int, task_id: str) -> None:
    """Undo a submit that failed half-way (disk full): nothing torn stays behind."""
    with contextlib.suppress(OSError):
        with fsio.open_dir(task_id, dir_fd=tasks_fd) as fd:
            for name in os.listdir(fd):
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=fd)
        os.rmdir(task_id, dir_fd=tasks_fd)
