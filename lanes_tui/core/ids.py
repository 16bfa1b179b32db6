"""Task ids and slugs, exactly as agent-lanes builds and validates them."""

from __future__ import annotations

import re

from lanes_tui.core.errors import InvalidInput

_TASK_ID_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")
_SLUG_RE = re.compile(r"[^A-Za-z0-9_.-]+")
# Task ids become folder names; 255 bytes is the usual file-name limit and
# agent-lanes crashes with a traceback past it. We refuse long ids up front.
MAX_TASK_ID_LENGTH = 200


def slug(value: str) -> str:
    cleaned = _SLUG_RE.sub("-", value.strip())
    return cleaned.strip("-") or "item"


def is_valid_task_id(task_id: object) -> bool:
    return (
        isinstance(task_id, str)
        and len(task_id) <= MAX_TASK_ID_LENGTH
        and _TASK_ID_RE.fullmatch(task_id) is not None
        and ".." not in task_id
    )


def validate_task_id(task_id: object) -> str:
    if not isinstance(task_id, str):
        raise InvalidInput(f"invalid task id: {task_id!r}")
    if len(task_id) > MAX_TASK_ID_LENGTH:
        raise InvalidInput(
            f"invalid task id: {len(task_id)} characters (at most {MAX_TASK_ID_LENGTH})"
        )
    if not is_valid_task_id(task_id):
        shown = task_id if len(task_id) <= 80 else task_id[:80] + "..."
        raise InvalidInput(f"invalid task id: {shown!r}")
    return task_id


def new_task_id(stamp: str, correlation_id: str, request_sha256: str) -> str:
    task_id = f"{stamp}-{slug(correlation_id)}-{request_sha256[:12]}"
    if len(task_id) > MAX_TASK_ID_LENGTH:
        raise InvalidInput(
            "correlation id is too long to form a task id "
            f"(task ids are at most {MAX_TASK_ID_LENGTH} characters)"
        )
    if not is_valid_task_id(task_id):
        # agent-lanes builds the same id (slug keeps dots), then no command of either tool can
        # address it (".." is refused in every id): refuse it here, before anything is written.
        raise InvalidInput(f"correlation id {correlation_id[:60]!r} makes a task id no command could address "
                           f"({task_id[:100]!r}); use letters, digits, '-', '_' and single dots")
    return task_id
