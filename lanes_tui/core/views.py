"""Task views and queue summaries in agent-lanes 0.1.1's JSON shapes.

Pure functions of (task, response_exists, last_event, now), so the same views
serve the one-shot CLI, the cache and the dashboard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lanes_tui.core.clock import parse_ts
from lanes_tui.core.lifecycle import lease_expired
from lanes_tui.core.states import CLAIMED, COMPLETED, FAILED, QUEUED

REVIEW_SCOPE = (
    "Review request_path as the primary artifact. Use worktree_path only as implementation "
    "context unless the task prompt says otherwise."
)


def task_view(
    task: dict[str, Any], *, response_exists: bool, last_event: dict[str, Any] | None, now: datetime
) -> dict[str, Any]:
    view = dict(task)
    claimed = task["state"] == CLAIMED
    view["response_exists"] = response_exists
    view["lease_expired"] = lease_expired(task, now) if claimed else False
    view["missing_response"] = task["state"] == COMPLETED and not response_exists
    view["last_event"] = last_event
    view["last_event_age_seconds"] = age_seconds(last_event.get("created_at"), now) if last_event else None
    if claimed:
        view["claimed_age_seconds"] = age_seconds(task.get("claimed_at"), now)
        view["seconds_until_lease_expiry"] = seconds_until(task.get("lease_expires_at"), now)
    view["navigation"] = {
        "workspace_root": task.get("workspace_root"),
        "worktree_path": task.get("worktree_path"),
        "expected_branch": task.get("expected_branch"),
        "request_path": task.get("request_path"),
        "response_path": task.get("response_path"),
        "review_scope": REVIEW_SCOPE,
    }
    view["next_action"] = task_next_action(view)
    return view


def task_next_action(view: dict[str, Any]) -> str:
    state = view["state"]
    if state == QUEUED:
        return "monitor: report task JSON and stop; reviewer: claim this task when ready"
    if state == CLAIMED:
        if view.get("lease_expired"):
            return "claim lease expired; safe to reclaim if the reviewer is stale or abandoned"
        owner = view.get("claim_owner") or "unknown"
        lease = view.get("lease_expires_at") or "unknown"
        last_event = view.get("last_event") or {}
        last_type = last_event.get("type", "none") if isinstance(last_event, dict) else "none"
        return (
            f"claimed by {owner}; wait for response or inspect that worker if no progress appears. "
            f"Lease expires at {lease}; last_event={last_type}"
        )
    if state == COMPLETED and view.get("missing_response"):
        return "response file is missing from state; inspect task state before continuing"
    if state == COMPLETED:
        return f"orchestrator: run wait {view['id']} to write the configured response output"
    if state == FAILED:
        return "inspect failure response and decide whether to resubmit the task"
    return "inspect task state"


def summary(views: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "queued": sum(1 for v in views if v["state"] == QUEUED),
        "claimed": sum(1 for v in views if v["state"] == CLAIMED),
        "completed": sum(1 for v in views if v["state"] == COMPLETED),
        "failed": sum(1 for v in views if v["state"] == FAILED),
        "stale_claims": sum(1 for v in views if v.get("lease_expired")),
        "missing_response": sum(1 for v in views if v.get("missing_response")),
    }


def queue_next_action(counts: dict[str, int]) -> str:
    if counts["queued"]:
        return "reviewer should claim queued tasks; monitors should only report task JSON"
    if counts["claimed"]:
        return "wait for reviewer responses; recover claimed tasks only if stale or abandoned"
    if counts["failed"]:
        return "inspect failed tasks and decide whether to resubmit"
    if counts["completed"]:
        return "orchestrator should ensure wait <task-id> wrote each configured response output"
    return "no tasks exist yet; orchestrator should submit a task when ready"


def age_seconds(value: Any, now: datetime) -> int | None:
    moment = _parse(value)
    return None if moment is None else int((now - moment).total_seconds())


def seconds_until(value: Any, now: datetime) -> int | None:
    moment = _parse(value)
    return None if moment is None else int((moment - now).total_seconds())


def _parse(value: Any) -> datetime | None:
    try:
        return parse_ts(str(value)) if value else None
    except ValueError:
        return None
