"""Merging a task's branch into the branch it was based on, without touching anything on refusal.

The merge is worked out first, in git's object store only (`git merge-tree --write-tree`, git
2.38+): no working tree, index or ref changes, so a conflict is reported with the files named
and nothing to undo (a `git merge` that stops on a conflict would leave the lead's tree
half-merged, and `git merge --abort` cannot always restore uncommitted changes). Only then is
the target advanced, by a fast-forward to the new commit:

- in the worktree that has the target checked out (the lead's main tree, say), with
  `git merge --ff-only`, which refuses rather than overwrite an uncommitted change there;
- otherwise with `git update-ref <target> <new> <old>`, which fails if the target moved
  meanwhile (someone else merged): nothing is lost either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lanes_tui.core.sanitize import one_line
from lanes_tui.gitwork.git import GitError, run
from lanes_tui.gitwork.repository import Repository, resolve_commit
from lanes_tui.gitwork.results import identity
from lanes_tui.gitwork.worktrees import list_worktrees

MAX_CONFLICTS_NAMED = 50

FAST_FORWARD = "fast-forward"
MERGE_COMMIT = "merge commit"
ALREADY_MERGED = "already merged"
CONFLICT = "conflict"


@dataclass(frozen=True)
class MergePlan:
    branch: str
    head: str  # the task branch's tip
    into: str  # the target branch, without refs/heads/
    target: str  # the target's tip when planned
    how: str  # FAST_FORWARD, MERGE_COMMIT, ALREADY_MERGED or CONFLICT
    tree: str | None = None  # the merged tree (MERGE_COMMIT)
    conflicts: tuple[str, ...] = ()  # files that conflict (CONFLICT), at most MAX_CONFLICTS_NAMED


def _is_ancestor(repo: Repository, older: str, newer: str) -> bool:
    result = run(repo.top, "merge-base", "--is-ancestor", older, newer, check=False)
    if result.returncode not in (0, 1):
        raise GitError(f"git merge-base failed for {older[:12]} and {newer[:12]}")
    return result.returncode == 0


def plan_merge(repo: Repository, branch: str, into: str) -> MergePlan:
    """What merging `branch` into `into` would do; nothing is changed."""
    head = resolve_commit(repo, branch, what="the task's branch")
    target = resolve_commit(repo, into, what="the target branch")
    if _is_ancestor(repo, head, target):
        return MergePlan(branch, head, into, target, ALREADY_MERGED)
    if _is_ancestor(repo, target, head):
        return MergePlan(branch, head, into, target, FAST_FORWARD)
    result = run(repo.top, "merge-tree", "--write-tree", "--name-only", "-z", target, head, check=False)
    fields = result.stdout.split(b"\0")
    if result.returncode == 0:
        return MergePlan(branch, head, into, target, MERGE_COMMIT, tree=fields[0].decode("ascii"))
    if result.returncode != 1:
        raise GitError(f"git merge-tree could not merge {branch} into {into} (git 2.38 or later is needed)")
    conflicts: list[str] = []
    for name in fields[1:]:  # the tree id, then the conflicted paths up to an empty field
        if not name:
            break
        shown = one_line(name.decode("utf-8", "replace"), 300)
        if shown not in conflicts:
            conflicts.append(shown)
    return MergePlan(branch, head, into, target, CONFLICT, conflicts=tuple(conflicts[:MAX_CONFLICTS_NAMED]))


def merged_commit(repo: Repository, plan: MergePlan, message: str) -> str:
    """The commit the target moves to: the branch tip itself for a fast-forward, else a new
    merge commit (target first, as `git merge` makes it). Only writes objects."""
    if plan.how == FAST_FORWARD:
        return plan.head
    if plan.how != MERGE_COMMIT or plan.tree is None:
        raise GitError(f"nothing to merge: {plan.how}")
    return run(repo.top, *identity(repo.top), "commit-tree", plan.tree, "-p", plan.target, "-p", plan.head,
               "-F", "-", input=message.encode("utf-8")).text


def checked_out_in(repo: Repository, branch: str) -> Path | None:
    """The worktree that has `branch` checked out, if any."""
    for listed in list_worktrees(repo):
        if listed.branch == branch and not listed.prunable:
            return listed.path
    return None


def advance(repo: Repository, into: str, old: str, new: str) -> None:
    """Move `into` from `old` to `new` (a descendant), the way that keeps every change."""
    worktree = checked_out_in(repo, into)
    if worktree is None:
        run(repo.top, "update-ref", "-m", "lanes-tui merge", f"refs/heads/{into}", new, old)
        return
    current = run(worktree, "rev-parse", "HEAD").text
    if current != old:
        raise GitError(f"{into} moved while the merge was prepared (now {current[:12]}): try again")
    result = run(worktree, "merge", "--ff-only", "--quiet", "--no-edit", new, check=False)
    if result.returncode != 0:
        raise GitError(f"{into} is checked out in {worktree} and git would not update it there "
                       f"(uncommitted changes in the files the merge brings?): {_last_line(result.stderr)}")


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith("hint:")]
    return one_line((useful or ["no message"])[0].removeprefix("error: "), 200)
