"""Verbs every backend runs the same way, built on its atomic primitives (the rest of
`Backend` is in base.py): finding and claiming a lane's next task, and requeue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from lanes_tui.core import lifecycle
from lanes_tui.core.errors import ConflictError, CorruptTask, NotFound
from lanes_tui.core.request_files import request_problem
from lanes_tui.storage.results import NextResult

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend


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
