"""The names lanes-tui gives to branches and refs, and the check every name from outside passes.

    lanes/<short id>                    a task's branch (what the lead merges)
    refs/lanes/attempts/<short id>/<n>  the tip each attempt left (kept across retries)
    refs/lanes/wip/<short id>/<stamp>   a snapshot taken before a worktree is removed
    refs/lanes/incoming/lanes/<short id> a branch fetched from a bundle, until it is checked

`<short id>` is the first 12 hex digits of sha256(task id): task ids can be long, and tasks
submitted on one request share their sha tail, so neither the id nor its tail would do.
A base or branch named in task metadata is agent- or user-written: it must pass
`git check-ref-format`, must not start with `-` (it would read as an option), and is
resolved to a commit once, when the task is first claimed.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from lanes_tui.core.errors import InvalidInput
from lanes_tui.core.sanitize import one_line
from lanes_tui.gitwork.git import run

BRANCH_PREFIX = "lanes/"
ATTEMPTS = "refs/lanes/attempts"
WIP = "refs/lanes/wip"
INCOMING = "refs/lanes/incoming"
MAX_NAME = 200
_HEX = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def short_id(task_id: str) -> str:
    return hashlib.sha256(task_id.encode("utf-8")).hexdigest()[:12]


def task_branch(task_id: str) -> str:
    return f"{BRANCH_PREFIX}{short_id(task_id)}"


def attempt_ref(task_id: str, attempt: int) -> str:
    return f"{ATTEMPTS}/{short_id(task_id)}/{attempt}"


def wip_ref(task_id: str, stamp: str) -> str:
    return f"{WIP}/{short_id(task_id)}/{stamp}"


def checked_branch_name(repo: Path, name: object, what: str) -> str:
    """A branch name from task metadata, or InvalidInput saying why not."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME or name.startswith("-"):
        raise InvalidInput(f"{what} must be a branch name (1-{MAX_NAME} characters, not starting with '-')")
    result = run(repo, "check-ref-format", "--branch", name, check=False)
    if result.returncode != 0:
        raise InvalidInput(f"{what} is not a valid branch name: {one_line(name, 80)!r}")
    return name


def is_commit_id(text: object) -> bool:
    return isinstance(text, str) and bool(_HEX.match(text))
