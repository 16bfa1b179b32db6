"""A worktree task's branch across hosts, on a shared queue (gitwork/bundles.py for the git side).

The host that ran the task bundles its branch when it records the answer (`carry`); a host
whose clone lacks the branch, the lead's, fetches it from the queue before it diffs or merges
the task (`bring_here`). On a single-host store neither does anything: the one repository has
the branch already. Everything here blocks (git runs): callers use a thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanes_tui.core.errors import LanesError, NotFound
from lanes_tui.core.sanitize import one_line
from lanes_tui.gitwork import bundles, refs
from lanes_tui.gitwork.git import GitError, run
from lanes_tui.gitwork.repository import Repository

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend


def carry(store: Backend, task_id: str, claim_token: str, git: dict[str, Any], worktree: Path) -> None:
    """Keep the branch's bundle with the queue, and say so in the answer's `git` metadata:
    `bundle` (sha256, bytes) or `bundle_problem` (why it stays on this host only). Never raises:
    the answer is worth recording without it."""
    if not store.results_travel or not git.get("commits"):
        return  # nothing beyond the base: there is nothing to carry
    try:
        data = bundles.create(worktree, str(git["branch"]), str(git["base"]))
        sha = store.keep_result_bundle(task_id, claim_token=claim_token, head=str(git["head"]), content=data)
    except (LanesError, OSError) as exc:
        git["bundle_problem"] = one_line(f"the branch stays on the host that ran the task: {exc}", 300)
        return
    git["bundle"] = {"sha256": sha, "bytes": len(data)}


def bring_here(store: Backend, repo: Repository, task_id: str, git: dict[str, Any]) -> bool:
    """Make sure the task's branch is in `repo`, fetching it from the queue's bundle when it is
    not; True when it was fetched now. A branch already here is left as it is."""
    branch = refs.task_branch(task_id)  # ours, never read back from the answer
    if _has_branch(repo, branch) or not store.results_travel:
        return False
    kept = store.result_bundle(task_id)
    if kept is None:
        why = git.get("bundle_problem") or "its host kept no bundle of it"
        raise NotFound(f"task {task_id}'s branch {branch} is not in this clone ({repo.top}) and the queue has "
                       f"no copy: {one_line(str(why), 300)}")
    head, data = kept
    recorded = git.get("bundle") if isinstance(git.get("bundle"), dict) else {}
    if head != git.get("head") or (recorded.get("sha256") not in (None, bundles.digest(data))):
        raise GitError(f"task {task_id}'s bundle in the queue is not the one its answer recorded; nothing was fetched")
    bundles.fetch(repo.top, data, branch, head)
    return True


def _has_branch(repo: Repository, branch: str) -> bool:
    return run(repo.top, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}",
               check=False).returncode == 0
