"""What a task's branch holds, for the dashboard: a short "changes" cell, a detail line, and
the diff itself (bounded, sanitised: it is text an agent wrote).

The facts come from the answer's metadata (`git`, written by the supervisor) and the task's
`merged` event; the diff from git, between the recorded base and the branch's tip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanes_tui.core.errors import NotFound
from lanes_tui.core.sanitize import clean, one_line
from lanes_tui.gitwork import refs

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend

MERGED_EVENT = "merged"  # the task event `merge` records (engine/merging.py)
MAX_DIFF_BYTES = 2 * 1024 * 1024  # what the diff view shows at most; the rest is `git diff`'s
MAX_DIFF_LINE = 2000  # characters of one diff line shown


@dataclass(frozen=True)
class BranchDiff:
    branch: str
    base: str
    head: str
    stat: str  # `git diff --stat`'s last line: "3 files changed, 12 insertions(+), 3 deletions(-)"
    lines: list[str]  # sanitised, one per diff line
    cut: bool  # more than MAX_DIFF_BYTES: the rest is not shown


def merged_event(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The data of the task's last `merged` event, if any."""
    found = None
    for event in events:
        if isinstance(event, dict) and event.get("type") == MERGED_EVENT and isinstance(event.get("data"), dict):
            found = event["data"]
    return found


def git_metadata(store: Backend, task_id: str) -> dict[str, Any] | None:
    response = store.read_response(task_id)
    metadata = (response or {}).get("metadata")
    git = metadata.get("git") if isinstance(metadata, dict) else None
    return git if isinstance(git, dict) else None


def changes_text(git: dict[str, Any] | None, merged: bool) -> str:
    """The task table's CHANGES cell: `+12 -3`, `no edits`, `merged`, or "" without a branch."""
    if not isinstance(git, dict):
        return ""
    if merged:
        return "merged"
    if not git.get("commits"):
        return "no edits"
    stat = git.get("diffstat") if isinstance(git.get("diffstat"), dict) else {}
    return f"+{_count(stat.get('insertions'))} -{_count(stat.get('deletions'))}"


def detail_line(git: dict[str, Any] | None, merged: dict[str, Any] | None) -> str:
    """One line for the detail pane: branch, base, commits, diffstat, merged or not."""
    if not isinstance(git, dict):
        return ""
    stat = git.get("diffstat") if isinstance(git.get("diffstat"), dict) else {}
    parts = [one_line(str(git.get("branch") or "?"), 60)]
    base = str(git.get("base") or "")[:12]
    base_branch = git.get("base_branch")
    parts.append(f"from {one_line(str(base_branch), 60)} @ {base}" if base_branch else f"from {base}")
    parts.append(f"{_count(git.get('commits'))} commit(s), {_count(stat.get('files'))} file(s) "
                 f"+{_count(stat.get('insertions'))} -{_count(stat.get('deletions'))}")
    if merged is not None:
        parts.append(f"merged into {one_line(str(merged.get('into') or '?'), 60)} ({one_line(str(merged.get('how')), 20)})")
    else:
        parts.append("not merged (m merges, d shows the diff)")
    return "  ".join(parts)


def _count(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def branch_diff(store: Backend, task_id: str) -> BranchDiff:
    """The diff from the task's base to its branch's tip (blocking: git runs)."""
    from lanes_tui.gitwork.git import run
    from lanes_tui.gitwork.repository import find_repository, resolve_commit

    git = git_metadata(store, task_id)
    if git is None or not refs.is_commit_id(git.get("base")):
        raise NotFound(f"task {task_id} has no branch (its lane ran it without a worktree, or it is not finished)")
    task = store.effective_task(task_id)
    repo = find_repository(Path(task["workspace_root"]))
    if repo is None:
        raise NotFound(f"{task['workspace_root']} is no longer a git repository")
    branch = refs.task_branch(task_id)  # ours, never read back from the answer
    from lanes_tui.engine.result_branches import bring_here

    bring_here(store, repo, task_id, git)  # run on another host: its branch comes from the queue
    head = resolve_commit(repo, branch, what="the task's branch")
    base = str(git["base"])
    stat = run(repo.top, "diff", "--shortstat", base, head).text
    out = run(repo.top, "diff", "--no-color", "--no-ext-diff", "--no-textconv", base, head).stdout
    cut = len(out) > MAX_DIFF_BYTES
    text = out[:MAX_DIFF_BYTES].decode("utf-8", "replace")
    lines = [clean(line, MAX_DIFF_LINE) for line in text.splitlines()]
    if cut and lines:
        lines.pop()  # the last one may be cut mid-line
    return BranchDiff(branch, base, head, one_line(stat, 200), lines, cut)
