"""`lanes-tui worktrees [--clean]`: every task worktree of the workspace's repository, what state
it is in, and the removal of the ones that hold nothing left to lose.

States, first match wins:
    running            its task is claimed, or a live process works inside it
    queued             its task waits for another attempt (which reuses the worktree)
    dirty              changes not committed (what lanes-tui copied in aside)
    orphaned           no task of this queue owns it, or git no longer knows it
    merged             its branch is merged (a `merged` event, or its tip is in the base branch)
    empty              its branch has no commit beyond its base
    finished-unmerged  its task is finished and its branch holds work not merged

`--clean` removes `merged` and `empty` worktrees only, and only after checking again, under the
repository's lock (the one `prepare` takes), that the task is still finished, the tree clean
and nobody inside. The branch tip (and a snapshot, were the tree dirty) is kept under
`refs/lanes/wip/...` first; a branch is deleted only when merged (G18).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanes_tui.core.errors import ConfigError, LanesError
from lanes_tui.core.procinfo import processes_inside
from lanes_tui.core.states import CLAIMED, QUEUED
from lanes_tui.gitwork import inventory, refs
from lanes_tui.gitwork.git import GitError, run
from lanes_tui.gitwork.inventory import FoundWorktree
from lanes_tui.gitwork.repository import Repository, find_repository
from lanes_tui.gitwork.results import is_dirty
from lanes_tui.gitwork.worktrees import default_root, repository_lock
from lanes_tui.settings import Settings

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend

RUNNING, QUEUED_AGAIN, DIRTY, ORPHANED = "running", "queued", "dirty", "orphaned"
MERGED, EMPTY, UNMERGED = "merged", "empty", "finished-unmerged"
REMOVABLE = frozenset({MERGED, EMPTY})


@dataclass(frozen=True)
class WorktreeReport:
    path: Path
    task_id: str | None
    lane: str | None
    task_state: str | None
    state: str
    branch: str | None
    head: str | None
    base: str | None
    into: str | None  # the branch its work merges into
    size_bytes: int
    age_seconds: float | None
    busy_pids: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "task_id": self.task_id, "lane": self.lane, "task_state": self.task_state,
                "state": self.state, "branch": self.branch, "head": self.head, "base": self.base,
                "into": self.into, "size_bytes": self.size_bytes, "age_seconds": self.age_seconds,
                "busy_pids": list(self.busy_pids)}


@dataclass(frozen=True)
class Cleaned:
    report: WorktreeReport
    removed: bool
    kept_as: str | None  # the wip ref holding its tip
    branch_deleted: bool
    reason: str  # why it was left (when not removed)


def repository_of(workspace_root: Path) -> Repository:
    repo = find_repository(Path(workspace_root))
    if repo is None:
        raise ConfigError(f"the workspace {workspace_root} is not in a git repository: it has no worktrees")
    return repo


def _tasks_by_short_id(store: Backend) -> dict[str, dict[str, Any]]:
    return {refs.short_id(task["id"]): task for task in store.all_tasks().tasks}


def survey(store: Backend, settings: Settings, repo: Repository) -> list[WorktreeReport]:
    """Every task worktree of the repository, with its state."""
    found = inventory.found_worktrees(repo, settings.worktrees_dir or default_root())
    tasks = _tasks_by_short_id(store)
    busy = processes_inside([str(f.path) for f in found if f.present])
    keep_out = _included(repo)
    return [_report(store, repo, f, tasks.get(f.short_id), tuple(busy.get(str(f.path), ())), keep_out) for f in found]


def _survey_one(store: Backend, settings: Settings, repo: Repository,
                report: WorktreeReport) -> tuple[FoundWorktree, WorktreeReport] | None:
    """The same worktree looked at again, its task read afresh (None: it is gone)."""
    found = next((f for f in inventory.found_worktrees(repo, settings.worktrees_dir or default_root())
                  if f.path == report.path), None)
    if found is None:
        return None
    task = None
    if report.task_id is not None:
        with contextlib.suppress(LanesError):
            task = store.effective_task(report.task_id)
    busy = tuple(processes_inside([str(found.path)])[str(found.path)]) if found.present else ()
    # Under the lock: the survey's size stands (walking the tree again would only hold others up).
    return found, _report(store, repo, found, task, busy, _included(repo), size=report.size_bytes)


def _included(repo: Repository) -> list[str]:
    from lanes_tui.engine.isolation import included_files

    return included_files(repo)


def _report(store: Backend, repo: Repository, found: FoundWorktree, task: dict[str, Any] | None,
            busy: tuple[int, ...], keep_out: list[str], *, size: int | None = None) -> WorktreeReport:
    git_info = _git_info(store, task) if task else {}
    base, into = git_info.get("base"), git_info.get("into")
    merged_event = _merged_event(store, task) if task else None
    if merged_event is not None:
        into = merged_event.get("into") or into
    state = _state(repo, found, task, busy, keep_out, base, into, merged_event is not None)
    age = time.time() - found.created if found.created is not None else None
    if size is None:
        size = inventory.size_of(found.path) if found.present else 0
    return WorktreeReport(found.path, task["id"] if task else None, task.get("lane") if task else None,
                          task.get("state") if task else None, state, found.branch, found.head, base, into,
                          size, age, busy)


def _state(repo: Repository, found: FoundWorktree, task: dict[str, Any] | None, busy: tuple[int, ...],
           keep_out: list[str], base: str | None, into: str | None, merged: bool) -> str:
    if busy or (task is not None and task.get("state") == CLAIMED):
        return RUNNING
    if task is not None and task.get("state") == QUEUED:
        return QUEUED_AGAIN
    if found.registered and is_dirty(found.path, keep_out):
        return DIRTY
    if task is None or not found.registered:
        return ORPHANED
    head = found.head
    if head is None:
        return UNMERGED
    if merged:
        return MERGED
    if base == head:
        return EMPTY
    if into and _contains(repo, into, head):
        return MERGED
    return UNMERGED


def _contains(repo: Repository, branch: str, commit: str) -> bool:
    tip = run(repo.top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"refs/heads/{branch}",
              check=False)
    if tip.returncode != 0:
        return False
    return run(repo.top, "merge-base", "--is-ancestor", commit, tip.text, check=False).returncode == 0


def _git_info(store: Backend, task: dict[str, Any]) -> dict[str, Any]:
    """Base and target branch: from the answer's `git`, else the first attempt's record."""
    from lanes_tui.engine.isolation import recorded_base
    from lanes_tui.engine.task_git import git_metadata

    info = git_metadata(store, task["id"]) or {}
    base, into = info.get("base"), info.get("base_branch")
    if base is None:
        recorded = recorded_base(store.read_events(task["id"]).events)
        if recorded is not None:
            base, into = recorded.commit, recorded.branch
    return {"base": base if refs.is_commit_id(base) else None, "into": into if isinstance(into, str) else None}


def _merged_event(store: Backend, task: dict[str, Any]) -> dict[str, Any] | None:
    from lanes_tui.engine.task_git import merged_event

    return merged_event(store.read_events(task["id"]).events)


def clean(store: Backend, settings: Settings, repo: Repository, *, dry_run: bool = False) -> list[Cleaned]:
    """Remove the merged and empty worktrees that are still so when checked under the lock."""
    root = settings.worktrees_dir or default_root()
    outcomes = []
    for report in survey(store, settings, repo):
        if report.state not in REMOVABLE:
            outcomes.append(Cleaned(report, False, None, False, report.state))
            continue
        if dry_run:
            outcomes.append(Cleaned(report, False, None, False, "dry run"))
            continue
        with repository_lock(root, repo):
            outcomes.append(_remove_if_still_removable(store, settings, repo, report))
    return outcomes


def _remove_if_still_removable(store: Backend, settings: Settings, repo: Repository,
                               report: WorktreeReport) -> Cleaned:
    # Checked again, under the lock: a supervisor may have claimed a retry, an agent or a person
    # may have started working in it since the survey.
    again = _survey_one(store, settings, repo, report)
    if again is None or again[1].state not in REMOVABLE:
        return Cleaned(report, False, None, False, f"now {again[1].state if again else 'gone'}")
    found, fresh = again
    keep_out = _included(repo)
    try:
        kept = inventory.keep_before_removal(repo, found, keep_out)
        inventory.remove(repo, found, keep_out)
    except (GitError, LanesError, OSError) as exc:
        return Cleaned(fresh, False, None, False, str(exc))
    deleted = False
    if fresh.branch and fresh.task_id and fresh.branch == refs.task_branch(fresh.task_id):
        deleted = _delete_merged_branch(repo, fresh)
    return Cleaned(fresh, True, kept, deleted, "")


def _delete_merged_branch(repo: Repository, report: WorktreeReport) -> bool:
    """Only a branch whose tip is in its target branch now (an empty branch's is), deleted only
    if it still has that tip (`update-ref -d <ref> <old>`)."""
    if not (report.into and report.head and _contains(repo, report.into, report.head)):
        return False  # recorded as merged (a squash), but git cannot confirm it: the branch stays
    result = run(repo.top, "update-ref", "-d", f"refs/heads/{report.branch}", report.head, check=False)
    return result.returncode == 0
