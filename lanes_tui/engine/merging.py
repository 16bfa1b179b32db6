"""Merging a finished task's branch into the branch it was based on: `lanes-tui merge` and `m`.

The order is what makes a refusal change nothing: plan the merge in git's object store
(gitwork/merging.py), refuse on a conflict with the files named, run the lane's `verify`
commands on the merged result in a scratch checkout, and only then move the target branch.
The merge is recorded as a `merged` event on the task: a squash or rebase merge done by hand
leaves nothing in git that ties the result to the branch, so git alone cannot say later
whether a task's work landed; the event can (the dashboard and `worktrees` read it).

Everything here blocks (it runs git and the verify commands): the dashboard calls it in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from lanes_tui.core.errors import ConflictError, InvalidInput, LanesError, NotFound
from lanes_tui.core.sanitize import one_line
from lanes_tui.core.states import COMPLETED
from lanes_tui.engine.result_branches import bring_here
from lanes_tui.engine.task_git import MERGED_EVENT, git_metadata, merged_event
from lanes_tui.gitwork import merging, refs
from lanes_tui.gitwork.repository import Repository, find_repository
from lanes_tui.gitwork.worktrees import default_root, scratch_checkout
from lanes_tui.settings import Settings

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend

class MergeConflict(LanesError):
    """The task's branch conflicts with its target: nothing was changed."""

    exit_code = 14
    kind = "merge_conflict"


class VerifyFailed(LanesError):
    """The lane's verify commands failed on the merged result: nothing was changed."""

    exit_code = 15
    kind = "verify_failed"


@dataclass(frozen=True)
class MergeTarget:
    """What `merge` would do for a task, worked out without changing anything."""

    task_id: str
    repo: Repository
    plan: merging.MergePlan
    verify: tuple[tuple[str, ...], ...]  # the commands that will run first (empty: none)
    verify_timeout: float
    merged_before: dict[str, Any] | None  # the `merged` event's data, if it was merged already


@dataclass(frozen=True)
class MergeOutcome:
    task_id: str
    branch: str
    into: str
    how: str  # merging.FAST_FORWARD, MERGE_COMMIT or ALREADY_MERGED
    commit: str  # the target's tip afterwards
    verified: bool


def plan_task_merge(store: Backend, settings: Settings, task_id: str, *, into: str | None = None,
                    verify: bool | None = None) -> MergeTarget:
    """Check that the task can be merged and what the merge would be. `verify` None: run the
    lane's verify commands when it has some; False: skip them; True: they must exist."""
    task = store.effective_task(task_id)
    if task["state"] != COMPLETED:
        raise ConflictError(f"task {task_id} is {task['state']}: only a completed task's branch is merged "
                            f"(its branch, if any, is {refs.task_branch(task_id)})")
    git = git_metadata(store, task_id)
    if git is None:
        raise NotFound(f"task {task_id} has no branch: its lane ran it without a worktree")
    repo = find_repository(Path(task["workspace_root"]))
    if repo is None:
        raise NotFound(f"task {task_id}'s workspace {task['workspace_root']} is no longer a git repository")
    # The branch name is ours (a hash of the id), never read back from the response, which anyone
    # holding the claim could have written.
    branch = refs.task_branch(task_id)
    bring_here(store, repo, task_id, git)  # run on another host: its branch comes from the queue
    target = into if into is not None else git.get("base_branch")
    if not target:
        raise InvalidInput(f"task {task_id} was based on a commit, not a branch: say where to merge it with --into")
    target = refs.checked_branch_name(repo.top, target, "the target branch")
    lane = settings.lane(str(task["lane"]))
    if verify is True and not lane.verify:
        raise InvalidInput(f"lane {one_line(task['lane'], 64)!r} has no verify commands (settings: verify)")
    commands = lane.verify if verify is not False else ()
    plan = merging.plan_merge(repo, branch, target)
    return MergeTarget(task_id, repo, plan, commands, lane.verify_timeout_seconds,
                       merged_event(store.read_events(task_id).events))


def merge_task(store: Backend, settings: Settings, target: MergeTarget, *, by: str,
               log: Callable[[bytes], None] = lambda _chunk: None) -> MergeOutcome:
    """Carry out a planned merge. MergeConflict or VerifyFailed leave everything as it was."""
    from lanes_tui.engine.isolation import copy_included, run_commands

    plan, repo = target.plan, target.repo
    if plan.how == merging.CONFLICT:
        named = ", ".join(plan.conflicts) or "(git named no file)"
        raise MergeConflict(f"{plan.branch} conflicts with {plan.into} in {len(plan.conflicts)} file(s): {named}; "
                            "nothing was changed")
    if plan.how == merging.ALREADY_MERGED:
        if target.merged_before is None:
            _record(store, target, plan.target, by, verified=False)
        return MergeOutcome(target.task_id, plan.branch, plan.into, plan.how, plan.target, False)
    commit = merging.merged_commit(repo, plan, _message(store, target))
    if target.verify:
        with scratch_checkout(repo, commit, settings.worktrees_dir or default_root()) as scratch:
            copy_included(repo, scratch)
            run_commands(target.verify, scratch, target.verify_timeout, log, what="verify", failure=VerifyFailed)
    merging.advance(repo, plan.into, plan.target, commit)
    _record(store, target, commit, by, verified=bool(target.verify))
    return MergeOutcome(target.task_id, plan.branch, plan.into, plan.how, commit, bool(target.verify))


def _message(store: Backend, target: MergeTarget) -> str:
    task = store.read_task(target.task_id)
    first = next((line.strip() for line in str(task.get("prompt") or "").splitlines() if line.strip()), "")
    title = f"Merge {target.plan.branch} into {target.plan.into}"
    return f"{title}\n\n{one_line(first, 200)}\n\nlanes-tui task {target.task_id}\n" if first else f"{title}\n"


def _record(store: Backend, target: MergeTarget, commit: str, by: str, *, verified: bool) -> None:
    plan = target.plan
    store.append_event(target.task_id, MERGED_EVENT, f"{plan.branch} merged into {plan.into} ({plan.how})",
                       {"branch": plan.branch, "head": plan.head, "into": plan.into, "commit": commit,
                        "how": plan.how, "verified": verified, "by": by})
