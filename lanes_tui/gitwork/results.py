"""What a task's worktree holds once its agent is done: committed, kept, summarised.

The supervisor, not the agent, commits what the agent left uncommitted (agents forget), with
`--no-verify` (a hook that fails or waits for input must not lose the work) and without
signing prompts; the repository's own identity is used when it has one, else `lanes-tui`.
Each attempt's tip is kept under `refs/lanes/attempts/<short id>/<n>`, so a retry that starts
over from the base loses nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from lanes_tui.core.sanitize import one_line
from lanes_tui.gitwork.git import run

FALLBACK_NAME = "lanes-tui"
FALLBACK_EMAIL = "lanes-tui@localhost"
MAX_FILES_LISTED = 200
_SHORTSTAT = re.compile(r"(\d+) files? changed(?:, (\d+) insertions?\(\+\))?(?:, (\d+) deletions?\(-\))?")


@dataclass(frozen=True)
class Diffstat:
    files: int
    insertions: int
    deletions: int
    paths: tuple[str, ...]  # at most MAX_FILES_LISTED

    def to_json(self) -> dict[str, object]:
        return {"files": self.files, "insertions": self.insertions, "deletions": self.deletions,
                "paths": list(self.paths)}


def _pathspec(keep_out: Iterable[str]) -> list[str]:
    return ["--", ".", *(f":(exclude,literal){path}" for path in keep_out)]


def is_dirty(worktree: Path, keep_out: Iterable[str] = ()) -> bool:
    """Anything uncommitted: changes, staged or not, and untracked files not ignored (the paths
    in `keep_out` aside)."""
    return bool(run(worktree, "status", "--porcelain=v1", "-z", "--untracked-files=all", *_pathspec(keep_out)).stdout)


def commit_leftovers(worktree: Path, message: str, *, keep_out: Iterable[str] = ()) -> str | None:
    """Commit everything the agent left (ignored files, and the paths in `keep_out`, excepted);
    the new commit, or None when there was nothing."""
    keep_out = list(keep_out)
    if not is_dirty(worktree, keep_out):
        return None
    # Everything, then the kept-out paths taken out again: naming them in `add`'s pathspec
    # (even to exclude them) makes git refuse when they are ignored, as copied-in files are.
    run(worktree, "add", "--all", "--", ".")
    if keep_out:
        run(worktree, "reset", "--quiet", "--", *(f":(literal){path}" for path in keep_out))
    run(worktree, *identity(worktree), "-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify",
        "--allow-empty-message", "-F", "-", input=message.encode("utf-8"))
    return head_of(worktree)


def identity(worktree: Path) -> list[str]:
    """`-c user.name=... -c user.email=...` when the repository has no identity of its own."""
    name = run(worktree, "config", "user.name", check=False).text
    email = run(worktree, "config", "user.email", check=False).text
    options: list[str] = []
    if not name:
        options += ["-c", f"user.name={FALLBACK_NAME}"]
    if not email:
        options += ["-c", f"user.email={FALLBACK_EMAIL}"]
    return options


def head_of(worktree: Path) -> str:
    return run(worktree, "rev-parse", "HEAD").text


def keep_attempt(worktree: Path, ref: str, commit: str) -> None:
    run(worktree, "update-ref", ref, commit)


def commit_message(task_id: str, prompt: str) -> str:
    first = next((line.strip() for line in prompt.splitlines() if line.strip()), "")
    title = one_line(first, 72) if first else "work left by the agent"
    return f"{title}\n\nCommitted by lanes-tui for task {task_id}: the agent left these changes uncommitted.\n"


def summary(worktree: Path, base: str, head: str) -> tuple[int, Diffstat]:
    """(commits from base to head, what changed)."""
    commits = int(run(worktree, "rev-list", "--count", f"{base}..{head}").text or 0)
    short = run(worktree, "diff", "--shortstat", base, head).text
    match = _SHORTSTAT.search(short)
    files, insertions, deletions = (int(g or 0) for g in match.groups()) if match else (0, 0, 0)
    names = run(worktree, "diff", "--name-only", "-z", base, head).stdout.split(b"\0")
    paths = tuple(one_line(n.decode("utf-8", "replace"), 300) for n in names if n)[:MAX_FILES_LISTED]
    return commits, Diffstat(files, insertions, deletions, paths)
