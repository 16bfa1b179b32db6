"""The storage seam: what engine, ui and commands may ask of wherever the queue lives.

A backend is one object with the queue verbs of the agent-lanes protocol (submit, claim,
renew, release, respond, cancel, break, requeue, archive, recover), the reads around them,
a change feed for long-running processes, a blocking watch for the one-shot CLI, and where
people can be told the queue is (`location`). Every backend applies the same state machine
(`core/lifecycle.py`) to agent-lanes task dicts; they differ only in how a read-modify-write
is made atomic and how a change is noticed.

Two backends implement it: `storage.files.FileBackend` (the agent-lanes folder, the embedded
default) and `storage.memory.MemoryBackend` (one process, for tests and embedding). The
contract suite (`tests/storage/test_contract.py`) runs the same checks against both.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Hashable, Iterable, Iterator, Mapping, Protocol

from lanes_tui.core.clock import Clock
from lanes_tui.storage.results import (  # noqa: F401 (part of the seam)
    Listing,
    ListingOutput,
    Loaded,
    NextResult,
    WholeTask,
)

if TYPE_CHECKING:  # annotations only
    from lanes_tui.core.journal import Journal
    from lanes_tui.core.locks import LockTable
    from lanes_tui.core.messages import MessageBox
    from lanes_tui.core.presence import Presence
    from lanes_tui.core.requests import RequestBook
    from lanes_tui.core.supervisors import SupervisorRegistry, SupervisorStatus
    from lanes_tui.core.wire import EventLog


class TaskChanges(Protocol):
    """The change feed of a long-running process (armed when created)."""

    async def changes(self, timeout: float) -> set[str] | None:
        """Ids of tasks that changed or appeared; empty on a quiet timeout; None once closed."""

    def close(self) -> None:
        """Stop; a pending `changes` returns None promptly. Safe from any thread."""


class RecordChanges(Protocol):
    """Changes to one kind of coordination record (locks, agents, messages), for a screen."""

    async def changed(self, timeout: float) -> bool | None:
        """True on a change, False on a quiet timeout, None once closed."""

    def close(self) -> None: ...


class RecordWatch(Protocol):
    def wait(self, timeout: float) -> bool:
        """True on a change, False after a quiet `timeout`."""

    def close(self) -> None: ...


class TaskWatch(Protocol):
    """A blocking watch for the one-shot CLI: arm it, then look, then wait."""

    def wait(self, timeout: float) -> set[str]:
        """Ids of watched (or new) tasks that changed; an empty set after a quiet `timeout`."""

    def close(self) -> None: ...

    def __enter__(self) -> "TaskWatch": ...

    def __exit__(self, *exc: object) -> None: ...


class SummaryCache(Protocol):
    """Rows of an in-memory index kept between runs: `{task_id: (version, values)}`, `values`
    in the order `fields` names (an advisory cache: load may return less than was saved)."""

    def load(self, fields: tuple[str, ...]) -> dict[str, tuple[Hashable, tuple[Any, ...]]]: ...

    def save(self, fields: tuple[str, ...], rows: Mapping[str, tuple[Hashable, tuple[Any, ...]]]) -> None: ...


class Backend(Protocol):
    clock: Clock

    @property
    def location(self) -> str:
        """Where the queue lives, for people (a folder, a URL)."""

    @property
    def archive_location(self) -> str:
        """Where `archive` moves finished tasks, for people."""

    @property
    def address(self) -> str | None:
        """What another process passes as `--store` to open this same queue (a worker's MCP
        server); None when no other process can (a queue in this process's memory)."""

    def now(self) -> datetime: ...

    # -- reads ------------------------------------------------------------------------

    def task_ids(self) -> list[str]: ...

    def read_task(self, task_id: str) -> dict[str, Any]:
        """The task as stored (NotFound, CorruptTask)."""

    def effective_task(self, task_id: str) -> dict[str, Any]:
        """The task as it is once a recorded answer is rolled forward (G8); writes nothing."""

    def read_response(self, task_id: str) -> dict[str, Any] | None: ...

    def response_exists(self, task_id: str) -> bool: ...

    def read_events(self, task_id: str, *, limit: int | None = None) -> EventLog: ...

    def last_event(self, task_id: str) -> dict[str, Any] | None: ...

    def attempts(self, task_id: str) -> int:
        """How many times the task was claimed, by any client."""

    def is_archived(self, task_id: str) -> bool: ...

    def request_problem(self, task: dict[str, Any]) -> str | None:
        """Why the task's request cannot be claimed as it stands, or None."""

    def request_content(self, task: dict[str, Any]) -> bytes | None:
        """The request a worker is given (at most MAX_REQUEST_BYTES), or None if it cannot be read:
        the file as it is now on a single-host store, what was submitted on a shared one."""

    # -- results that cross hosts (a shared queue; gitwork/bundles.py) ------------------------

    @property
    def results_travel(self) -> bool:
        """Whether a task may be run on one host and merged on another: its branch then travels
        as a bundle. False on a single-host store, whose one repository has the branch."""

    def keep_result_bundle(self, task_id: str, *, claim_token: str, head: str, content: bytes) -> str:
        """Keep the bundle of the task's branch (tip `head`) for the lead's host, while
        `claim_token` holds the claim (a stale holder is refused, ConflictError); its sha256."""

    def result_bundle(self, task_id: str) -> tuple[str, bytes] | None:
        """(head, bundle) kept for the task, or None."""

    # -- verbs (agent-lanes' semantics; ConflictError when the state machine refuses) ------

    def create_task(self, *, workspace_id: str, correlation_id: str, source_agent: str, lane: str,
                    workspace_root: Path | str, request_path: Path | str, response_path: Path | str,
                    prompt: str, worktree_path: Path | str | None = None, expected_branch: str | None = None,
                    supporting_paths: Iterable[Any] = (), metadata: dict[str, Any] | None = None) -> dict[str, Any]: ...

    def claim(self, task_id: str, *, owner: str, lease_seconds: float) -> dict[str, Any]: ...

    def next_task(self, lane: str, *, candidates: Iterable[str], vendor: str | None = None,
                  claim_owner: str | None = None, lease_seconds: float | None = None) -> NextResult: ...

    def renew(self, task_id: str, *, claim_token: str, lease_seconds: float) -> dict[str, Any]: ...

    def release(self, task_id: str, *, claim_token: str, reason: str | None = None) -> dict[str, Any]: ...

    def append_event(self, task_id: str, event_type: str, message: str, data: dict[str, Any] | None = None,
                     *, claim_token: str | None = None) -> None: ...

    def respond(self, task_id: str, *, body: str, reviewer: str, claim_token: str | None = None,
                status: str = "completed", follow_up_required: bool = False, verdict: str | None = None,
                blocking_count: int | None = None, nonblocking_count: int | None = None,
                expect_sha256: str | None = None, metadata: dict[str, Any] | None = None) -> dict[str, Any]: ...

    def cancel(self, task_id: str, *, by: str, reason: str | None = None) -> dict[str, Any]: ...

    def break_claim(self, task_id: str, *, by: str, reason: str) -> dict[str, Any]: ...

    def requeue(self, task_id: str, *, by: str, metadata_overrides: dict[str, Any] | None = None,
                source_agent: str | None = None) -> dict[str, Any]: ...

    def archive(self, *, older_than_days: float, dry_run: bool = False) -> list[str]: ...

    def recover(self, task_id: str) -> dict[str, Any]:
        """Roll the task forward if its answer is recorded (G8); returns it."""

    # -- finding tasks ----------------------------------------------------------------------

    def live_tasks(self, *, lane: str | None = None) -> Listing:
        """Queued and claimed tasks (of `lane`), oldest first."""

    def all_tasks(self, *, lane: str | None = None, include_terminal: bool = True) -> Listing: ...

    def listing_output(self, *, status: bool, lane: str | None = None,
                       include_terminal: bool = True) -> ListingOutput:
        """What `list --json` (`status`: `status --all --json`) prints."""

    def lane_candidates(self, lane: str | None, corrupt: list[tuple[str, str]] | None = None) -> list[str]:
        """Ids that may be live in `lane` (all lanes for None), in id order; cheap at any history size."""

    def read_new_tasks(self, task_ids: list[str], corrupt: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
        """The named tasks (just noticed by a watch), waiting for any still being submitted."""

    def lane_has_tasks(self, lane: str) -> bool:
        """Whether any task, live or finished, was ever submitted to `lane`."""

    def load(self, task_ids: Iterable[str], known: Mapping[str, Hashable] | None = None) -> Iterator[Loaded]:
        """Each named task for an in-memory index, skipping the read of those whose version is
        the one in `known`."""

    def summary_cache(self) -> SummaryCache | None:
        """Where an in-memory index may keep finished tasks' summaries between runs (None: nowhere;
        a backend that answers a full scan cheaply needs none)."""

    # -- moving a queue (`store copy`) -----------------------------------------------------------

    def export_tasks(self) -> Iterator[WholeTask]:
        """Every task, live, finished and archived, whole, in id order (CorruptTask for one that
        cannot be read: a copy must not quietly leave it behind)."""

    def import_task(self, record: WholeTask) -> bool:
        """Write `record` exactly as given (ids, tokens, times, events) if its id is new here;
        False when this very record is already here (a copy run again), ConflictError when the
        id holds something else. Atomic: a task is here whole or not at all."""

    # -- noticing changes -----------------------------------------------------------------

    def task_feed(self) -> TaskChanges:
        """A change feed, armed before it returns (blocking: call it off the event loop)."""

    def watch(self, task_ids: Iterable[str] = (), *, new_tasks: bool = True) -> TaskWatch:
        """A blocking watch of the named tasks (and of new ones), armed before it returns."""

    # -- coordination (core's rules over this backend's records) ----------------------------

    def locks(self) -> LockTable: ...

    def presence(self) -> Presence: ...

    def messages(self) -> MessageBox: ...

    def journal(self) -> Journal: ...

    def requests(self) -> RequestBook:
        """Where agents wait for a person: questions, blockers, permission requests."""

    def record_feed(self, kind: str) -> RecordChanges:
        """Changes to "locks", "agents", "messages" or "requests", armed before it returns (blocking)."""

    def record_watch(self, kind: str) -> RecordWatch:
        """The same for blocking code (`lock --wait`)."""

    # -- the supervisor and its workers' logs --------------------------------------------------

    def supervisor_registry(self) -> SupervisorRegistry:
        """The lifetime lock of the queue's one supervisor (G2) and its record of workers (G9)."""

    def supervisors(self) -> list[SupervisorStatus]:
        """Every supervisor the queue knows of (one per host), running or not, for the hosts view."""

    def attempt_log_path(self, task_id: str, attempt: int) -> Path:
        """Where this host keeps the raw output of one attempt."""

    # -- upkeep -------------------------------------------------------------------------------

    def sweep_temp_files(self) -> int:
        """Remove what writers killed mid-write left behind; how many were removed."""
