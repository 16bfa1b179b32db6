"""Verbs every backend runs the same way, built on its atomic primitives (the rest of
`Backend` is in base.py): building a new task, finding and claiming a lane's next task, and
requeue."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from lanes_tui.core import fsio, lifecycle
from lanes_tui.core.clock import id_stamp
from lanes_tui.core.errors import ConflictError, CorruptTask, InvalidInput, NotFound
from lanes_tui.core.ids import new_task_id
from lanes_tui.core.jsonvalue import json_value
from lanes_tui.core.request_files import check_task_files, request_problem
from lanes_tui.storage.results import ListingOutput, NextResult

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend


def build_task(now: Callable[[], datetime], *, workspace_id: str, correlation_id: str, source_agent: str,
               lane: str, workspace_root: Path | str, request_path: Path | str, response_path: Path | str,
               prompt: str, worktree_path: Path | str | None = None, expected_branch: str | None = None,
               supporting_paths: Iterable[Any] = (),
               metadata: dict[str, Any] | None = None) -> tuple[dict[str, Any], lifecycle.Event]:
    """A new task and its `created` event, after every check that needs no store (metadata is
    JSON, the files are inside the workspace and the request is hashed); `now` is asked only
    then, so a backend can take the time inside its own transaction."""
    metadata = json_value(dict(metadata or {}), "metadata")  # before anything is written
    files = check_task_files(workspace_root=workspace_root, request_path=request_path,
                             response_path=response_path, worktree_path=worktree_path,
                             supporting_paths=supporting_paths)
    moment = now()
    return lifecycle.new_task(
        task_id=new_task_id(id_stamp(moment), correlation_id, files.request_sha256), now=moment,
        workspace_id=workspace_id, correlation_id=correlation_id, source_agent=source_agent, lane=lane,
        workspace_root=files.workspace_root, worktree_path=files.worktree_path,
        expected_branch=expected_branch, request_path=files.request_path,
        request_sha256=files.request_sha256, supporting_paths=files.supporting_paths,
        response_path=files.response_path, prompt=prompt, metadata=metadata,
    )


def check_size(value: dict[str, Any], limit: int, what: str) -> None:
    """The bytes the file store would write, against its limit: one limit for every backend."""
    size = len(fsio.dumps_json(value))
    if size > limit:
        raise InvalidInput(f"{what} is too large ({size} bytes, limit {limit})")


def listing_output(shown: list[dict[str, Any]], *, status: bool) -> ListingOutput:
    """`list --json` (`status`: `status --all --json`) of task views, in one piece: for backends
    that hold the whole listing at once (the file store streams its own)."""
    from lanes_tui.core import jsonout, views

    head: dict[str, Any] = {"status": "ok", "count": len(shown)}
    if status:
        counts = views.summary(shown)
        head.update(summary=counts, next_action=views.queue_next_action(counts))
    return ListingOutput(iter([[jsonout.dumps({**head, "tasks": shown}).encode("utf-8")]]), [])


def next_task(backend: Backend, lane: str, *, candidates: Iterable[str], vendor: str | None = None,
              claim_owner: str | None = None, lease_seconds: float | None = None) -> NextResult:
    """First claimable task of `lane` among `candidates` (ids in queue order).

    With `claim_owner`, claims it atomically. Tasks for another vendor and tasks that can never
    be claimed as they stand are skipped and reported, never returned (no head-of-line
    blocking). Candidates come from an index or a scan; the claim re-checks the task
    atomically, so a stale candidate list only costs a retry."""
    stale: list[tuple[str, str]] = []
    skipped: list[str] = []
    for task_id in candidates:
        try:
            task = backend.effective_task(task_id)
        except NotFound:
            continue
        except CorruptTask as exc:
            stale.append((task_id, str(exc)))
            continue
        if task["lane"] != lane or not lifecycle.claimable(task, backend.now()):
            continue
        if not lifecycle.vendor_matches(task, vendor):
            skipped.append(task_id)
            continue
        problem = request_problem(task)
        if problem is not None:
            stale.append((task_id, problem))
            continue
        if claim_owner is None:
            return NextResult(task, None, tuple(stale), tuple(skipped))
        try:
            claimed = backend.claim(task_id, owner=claim_owner, lease_seconds=lease_seconds or 0)
        except (ConflictError, NotFound):
            continue  # someone else won the race for this one: try the next
        return NextResult(claimed, claimed["claim_token"], tuple(stale), tuple(skipped))
    return NextResult(None, None, tuple(stale), tuple(skipped))


def requeue(backend: Backend, task_id: str, *, by: str, metadata_overrides: dict[str, Any] | None = None,
            source_agent: str | None = None) -> dict[str, Any]:
    """A failed task's definition submitted again as a new task, linked both ways by events."""
    old = backend.effective_task(task_id)
    lifecycle.check_requeue(old)
    new = backend.create_task(**lifecycle.requeue_definition(
        old, by=by, metadata_overrides=metadata_overrides, source_agent=source_agent))
    event = lifecycle.requeued_event(new["id"], by)
    backend.append_event(task_id, event.type, event.message, event.data)
    return new
