"""The task state machine and its fencing rules, as pure functions on agent-lanes task dicts.

Every backend applies the same transitions: it loads a task (rolled forward if an answer
is already recorded, G8), asks a `check_*` function whether the verb may proceed (a
`ConflictError` if not, decided before anything is written), applies the change with the
matching `apply_*` function and records the `Event` it returns. Only how a backend makes
that read-modify-write atomic differs (a flock and renames for files, a mutex in memory).

    queued --claim--> claimed --respond--> completed | failed
      ^                 |  renew (holder only, G7)
      +--release/break--+
    queued | claimed --cancel--> failed ("cancelled")

A claim whose lease expired can be claimed again by anyone; its old token is dead from
then on (G7), as it is after a release or break, even while the task sits queued.
"""

from __future__ import annotations

import math
import os
from datetime import datetime
from typing import Any, NamedTuple

from lanes_tui.core.clock import after, format_ts, parse_ts
from lanes_tui.core.errors import ConflictError, InvalidInput
from lanes_tui.core.request_files import request_problem
from lanes_tui.core.states import (
    CANCELLED,
    CLAIMED,
    COMPLETED,
    FAILED,
    QUEUED,
    TERMINAL_STATES,
    attempts_of,
)

MAX_LEASE_SECONDS = 10 * 365 * 86400


class Event(NamedTuple):  # a NamedTuple, not a dataclass: the one-shot CLI defines it on every run
    """One line of events.jsonl, before the backend stamps its time."""

    type: str
    message: str
    data: dict[str, Any] | None = None

    def to_wire(self, now: datetime) -> dict[str, Any]:
        return {"created_at": format_ts(now), "type": self.type, "message": self.message, "data": self.data or {}}


# -- questions ---------------------------------------------------------------------------


def lease_expired(task: dict[str, Any], now: datetime) -> bool:
    try:
        expiry = parse_ts(task.get("lease_expires_at"))
    except ValueError:
        return True  # an unreadable lease cannot protect a claim
    return expiry is not None and expiry <= now


def claimable(task: dict[str, Any], now: datetime) -> bool:
    return task["state"] == QUEUED or (task["state"] == CLAIMED and lease_expired(task, now))


def vendor_matches(task: dict[str, Any], vendor: str | None) -> bool:
    if vendor is None:
        return True
    wanted = (task.get("metadata") or {}).get("required_vendor") or "any"
    return wanted in ("any", vendor)


def finished_before(task: dict[str, Any], cutoff: datetime) -> bool:
    """Whether a task ended before `cutoff` (what `archive` moves)."""
    if task["state"] not in TERMINAL_STATES:
        return False
    try:
        finished = parse_ts(task.get("completed_at") or task.get("failed_at") or task.get("updated_at"))
    except ValueError:
        return False
    return finished is not None and finished < cutoff


def check_lease(seconds: float) -> None:
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not (0 < seconds <= MAX_LEASE_SECONDS):
        raise InvalidInput(f"lease seconds must be a finite number > 0 (got {seconds!r})")


def check_archive_age(older_than_days: float) -> None:
    if not (older_than_days >= 0) or math.isinf(older_than_days):
        raise InvalidInput("--older-than-days must be a finite number >= 0")


# -- new tasks ----------------------------------------------------------------------------


def new_task(
    *,
    task_id: str,
    now: datetime,
    workspace_id: str,
    correlation_id: str,
    source_agent: str,
    lane: str,
    workspace_root: str,
    worktree_path: str | None,
    expected_branch: str | None,
    request_path: str,
    request_sha256: str,
    supporting_paths: list[dict[str, str]],
    response_path: str,
    prompt: str,
    metadata: dict[str, Any],
) -> tuple[dict[str, Any], Event]:
    """A queued task as agent-lanes writes one, and its `created` event."""
    if not isinstance(lane, str) or not lane.strip():
        raise InvalidInput("lane must be a non-empty string")
    stamp = format_ts(now)
    task = {
        "id": task_id,
        "workspace_id": workspace_id,
        "correlation_id": correlation_id,
        "source_agent": source_agent,
        "lane": lane,
        "workspace_root": workspace_root,
        "worktree_path": worktree_path,
        "expected_branch": expected_branch,
        "request_path": request_path,
        "request_sha256": request_sha256,
        "supporting_paths": supporting_paths,
        "response_path": response_path,
        "prompt": prompt,
        "metadata": metadata,
        "state": QUEUED,
        "created_at": stamp,
        "updated_at": stamp,
        "claim_owner": None,
        "claim_token": None,
        "lease_expires_at": None,
        "claimed_at": None,
        "completed_at": None,
        "failed_at": None,
        "failure_reason": None,
    }
    return task, Event("created", "task queued", {"lane": lane})


# -- claims -------------------------------------------------------------------------------


def check_claim(task: dict[str, Any], now: datetime) -> None:
    if task["state"] in TERMINAL_STATES:
        raise ConflictError(f"cannot claim {task['id']}; task is {task['state']}")
    if task["state"] == CLAIMED and not lease_expired(task, now):
        raise ConflictError(f"cannot claim {task['id']}; active lease held by {task['claim_owner']}")


def apply_claim(task: dict[str, Any], *, owner: str, lease_seconds: float, now: datetime,
                attempt: int) -> Event:
    """Claim with a fresh token; `attempt` is 1 + the claims the task's events hold."""
    stamp = format_ts(now)
    task.update(
        {
            "state": CLAIMED,
            "claim_owner": owner,
            "claim_token": _new_token(),
            "lease_expires_at": format_ts(after(now, lease_seconds)),
            "claimed_at": stamp,
            "updated_at": stamp,
        }
    )
    return Event("claimed", "task claimed", {"owner": owner, "attempt": attempt})


def claim(task: dict[str, Any], *, owner: str, lease_seconds: float, now: datetime,
          events: list[dict[str, Any]], request_carried: bool = False) -> Event:
    """The whole claim step: refused if the task cannot be claimed or its request changed;
    `events` are the task's events so far (the attempt number counts their claims). A store
    that keeps the request submitted (`request_carried`) runs the task on that: the file is
    not looked at."""
    check_claim(task, now)
    problem = None if request_carried else request_problem(task)
    if problem is not None:
        raise ConflictError(problem)
    return apply_claim(task, owner=owner, lease_seconds=lease_seconds, now=now,
                       attempt=1 + attempts_of(events).claims)


def require_holder(task: dict[str, Any], claim_token: str | None, verb: str) -> None:
    """G7: only the current claim's token may act on it."""
    if task["state"] != CLAIMED:
        raise ConflictError(f"cannot {verb} {task['id']}; task is {task['state']}")
    if not claim_token or claim_token != task["claim_token"]:
        raise ConflictError("claim token does not match active lease")


def apply_renew(task: dict[str, Any], *, lease_seconds: float, now: datetime) -> Event:
    task.update({"lease_expires_at": format_ts(after(now, lease_seconds)), "updated_at": format_ts(now)})
    return Event("renewed", "claim lease renewed", {"owner": task["claim_owner"]})


def apply_requeue_in_place(task: dict[str, Any], *, now: datetime, message: str, data: dict[str, Any]) -> Event:
    """Back to queued with no claim (release, break): the old token is dead from here on."""
    task.update(
        {
            "state": QUEUED,
            "claim_owner": None,
            "claim_token": None,
            "lease_expires_at": None,
            "claimed_at": None,
            "updated_at": format_ts(now),
        }
    )
    return Event("released", message, data)


def apply_release(task: dict[str, Any], *, now: datetime, reason: str | None) -> Event:
    return apply_requeue_in_place(task, now=now, message="claim released", data={"reason": reason} if reason else {})


def check_break(task: dict[str, Any]) -> None:
    if task["state"] != CLAIMED:
        raise ConflictError(f"cannot break {task['id']}; task is {task['state']}, not claimed")


def apply_break(task: dict[str, Any], *, now: datetime, by: str, reason: str) -> Event:
    data = {
        "action": "break",
        "by": by,
        "reason": reason,
        "previous_owner": task["claim_owner"],
        "claimed_at": task["claimed_at"],
        "lease_expires_at": task["lease_expires_at"],
    }
    return apply_requeue_in_place(task, now=now, message=f"claim broken by {by}", data=data)


# -- answers ------------------------------------------------------------------------------


def check_respond_input(*, status: str, verdict: str | None, blocking_count: int | None) -> None:
    if status not in (COMPLETED, FAILED):
        raise InvalidInput(f"status must be completed or failed, not {status!r}")
    if verdict is not None and blocking_count is not None and blocking_count > 0 and verdict != "needs-revision":
        raise InvalidInput("blocking-count > 0 requires verdict needs-revision")


def check_respond(task: dict[str, Any], *, claim_token: str | None, expect_sha256: str | None) -> None:
    """G4: at most one answer, and only from the current holder."""
    task_id = task["id"]
    if task["state"] == COMPLETED:
        raise ConflictError(f"task is already completed: {task_id}")
    if task["state"] == FAILED:
        raise ConflictError(f"task is failed: {task_id}")
    if task["state"] == CLAIMED and claim_token != task["claim_token"]:
        raise ConflictError("claim token does not match active lease")
    if task["state"] == QUEUED and claim_token is not None:
        # G7: a token from a claim that was broken or released is dead even while the task
        # sits queued (agent-lanes would accept it here). Tokenless responds to a queued task
        # stay allowed, as in agent-lanes.
        raise ConflictError(f"claim token does not match active lease: {task_id} is queued, not claimed")
    if expect_sha256 is not None and expect_sha256 != task["request_sha256"]:
        raise ConflictError(
            f"reviewed request hash does not match task: expected {task['request_sha256']}, got {expect_sha256}"
        )


class Reply:
    """What a `respond` says, checked on its own (InvalidInput) before the task is even read."""

    __slots__ = ("body", "reviewer", "status", "follow_up_required", "verdict", "blocking_count",
                 "nonblocking_count", "expect_sha256", "metadata")

    def __init__(self, body: str, reviewer: str, status: str = COMPLETED, follow_up_required: bool = False,
                 verdict: str | None = None, blocking_count: int | None = None, nonblocking_count: int | None = None,
                 expect_sha256: str | None = None, metadata: dict[str, Any] | None = None) -> None:
        check_respond_input(status=status, verdict=verdict, blocking_count=blocking_count)
        self.body, self.reviewer, self.status = body, reviewer, status
        self.follow_up_required, self.verdict = follow_up_required, verdict
        self.blocking_count, self.nonblocking_count = blocking_count, nonblocking_count
        self.expect_sha256, self.metadata = expect_sha256, metadata


def answer(task: dict[str, Any], reply: Reply, *, claim_token: str | None, now: datetime,
           request_carried: bool = False) -> dict[str, Any]:
    """The whole respond step's decision: the response to record (G4: at most once, by the
    holder; a changed request fails only a success, and is noted on a failure). A store that
    carries the request submitted (`request_carried`) ran the task on that: its file plays no part."""
    check_respond(task, claim_token=claim_token, expect_sha256=reply.expect_sha256)
    problem = None if request_carried else request_problem(task)
    if problem is not None and reply.status == COMPLETED:
        raise ConflictError(problem)
    return new_response(
        task, now=now, body=reply.body, reviewer=reply.reviewer, status=reply.status,
        request_changed=problem is not None, follow_up_required=reply.follow_up_required,
        verdict=reply.verdict, blocking_count=reply.blocking_count, nonblocking_count=reply.nonblocking_count,
        expect_sha256=reply.expect_sha256, metadata=reply.metadata,
    )


def new_response(
    task: dict[str, Any],
    *,
    now: datetime,
    body: str,
    reviewer: str,
    status: str,
    request_changed: bool,
    follow_up_required: bool,
    verdict: str | None,
    blocking_count: int | None,
    nonblocking_count: int | None,
    expect_sha256: str | None,
    metadata: dict[str, Any] | None,
) -> dict[str, Any]:
    """response.json as agent-lanes writes it."""
    return {
        "task_id": task["id"],
        "reviewer": reviewer,
        "status": status,
        "body": body,
        "reviewed_request_sha256": expect_sha256 or task["request_sha256"],
        "request_changed_before_response": request_changed,
        "follow_up_required": follow_up_required,
        "verdict": verdict,
        "blocking_count": blocking_count,
        "nonblocking_count": nonblocking_count,
        "metadata": dict(metadata or {}),
        "created_at": format_ts(now),
    }


def apply_response(task: dict[str, Any], response: dict[str, Any]) -> None:
    """The task as its answer leaves it: the same fields agent-lanes updates on respond (claim
    fields are kept as they were). Also the G8 roll-forward of a task whose answer is recorded."""
    completed = response.get("status") == COMPLETED
    stamp = response.get("created_at") or task.get("updated_at")
    task.update(
        {
            "state": COMPLETED if completed else FAILED,
            "updated_at": stamp,
            "completed_at": stamp if completed else None,
            "failed_at": None if completed else stamp,
            "failure_reason": None if completed else response.get("body"),
        }
    )


RESPONSE_EVENT = "response"


def response_event(reviewer: str) -> Event:
    return Event(RESPONSE_EVENT, "response submitted", {"reviewer": reviewer})


def roll_forward_event(task: dict[str, Any]) -> Event:
    return Event("recovered", "response.json present; task.json rolled forward", {"state": task["state"]})


# -- operator verbs -----------------------------------------------------------------------


def check_cancel(task: dict[str, Any]) -> None:
    if task["state"] in TERMINAL_STATES:
        raise ConflictError(f"cannot cancel {task['id']}; task is {task['state']}")


def apply_cancel(task: dict[str, Any], *, now: datetime, by: str, reason: str | None) -> Event:
    """queued or claimed -> failed with failure_reason `cancelled`."""
    previous = {"previous_state": task["state"], "previous_owner": task["claim_owner"]}
    stamp = format_ts(now)
    task.update(
        {
            "state": FAILED,
            "failed_at": stamp,
            "updated_at": stamp,
            "failure_reason": CANCELLED,
            "claim_owner": None,
            "claim_token": None,
            "lease_expires_at": None,
            "claimed_at": None,
        }
    )
    return Event("cancelled", "task cancelled by operator", {"by": by, "reason": reason, **previous})


def check_requeue(task: dict[str, Any]) -> None:
    if task["state"] != FAILED:
        raise ConflictError(f"cannot requeue {task['id']}; task is {task['state']}, not failed")


def requeue_definition(old: dict[str, Any], *, by: str, metadata_overrides: dict[str, Any] | None,
                       source_agent: str | None) -> dict[str, Any]:
    """The keyword arguments of `create_task` that submit a failed task's definition again,
    linked to it by `metadata.requeued_from`."""
    metadata = {k: v for k, v in old["metadata"].items() if k != "requeued_from"}
    metadata.update(metadata_overrides or {})
    metadata["requeued_from"] = old["id"]
    return {
        "workspace_id": old.get("workspace_id") or "",
        "correlation_id": old.get("correlation_id") or old["lane"],
        "source_agent": source_agent or old.get("source_agent") or by,
        "lane": old["lane"],
        "workspace_root": old["workspace_root"],
        "request_path": old["request_path"],
        "response_path": old["response_path"],
        "prompt": old.get("prompt") or "",
        "worktree_path": old.get("worktree_path") or None,
        "expected_branch": old.get("expected_branch"),
        "supporting_paths": [item.get("path") for item in old.get("supporting_paths") or [] if isinstance(item, dict)],
        "metadata": metadata,
    }


def requeued_event(new_task_id: str, by: str) -> Event:
    return Event("requeued", f"requeued as {new_task_id}", {"by": by, "new_task_id": new_task_id})


def _new_token() -> str:
    # What secrets.token_hex(16) returns, without importing secrets (hashlib, hmac and random
    # under it: ~5 ms) in read-only commands (`list`, `status`) that only need lease_expired.
    return os.urandom(16).hex()
