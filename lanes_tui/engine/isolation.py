"""A task's own worktree, attempt by attempt: prepared after the claim, settled after the worker.

Which lanes get one is the lane's `isolation` (settings.py). The first attempt records its
base commit in a `worktree_prepared` event (an ordinary event: agent-lanes shows it), so every
later attempt, on any supervisor, starts from the same base. What an attempt leaves is
committed by the supervisor and kept under `refs/lanes/attempts/<short id>/<n>`; a retry
that starts over from the base (`retry_from: base`) first snapshots whatever is there under
`refs/lanes/wip/...`, so no attempt's work is ever lost (G17).

Everything here blocks (it runs git): the supervisor calls it in a thread.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from lanes_tui.core.errors import InvalidInput, LanesError
from lanes_tui.core.sanitize import one_line
from lanes_tui.gitwork import refs, results
from lanes_tui.gitwork.git import run
from lanes_tui.gitwork.repository import (
    Repository,
    find_repository,
    head,
    ref_exists,
    resolve_commit,
)
from lanes_tui.gitwork.worktrees import Worktree, default_root, prepare
from lanes_tui.settings import LaneSettings, Settings

PREPARED_EVENT = "worktree_prepared"
INCLUDE_FILE = ".worktreeinclude"
MAX_INCLUDED_FILES = 1000
SETUP_OUTPUT_SHOWN = 500  # characters of a failed set-up's (or verification's) output kept in the reason


class SetupFailed(LanesError):
    """The lane's set-up did not succeed in the task's worktree: the attempt fails with this."""


@dataclass(frozen=True)
class Isolation:
    repo: Repository
    tree: Worktree
    fresh: bool  # made (or started over) for this attempt: set-up runs
    base_branch: str | None  # the branch the base was taken from (what `merge` merges into); None: a commit
    included: tuple[str, ...] = ()  # what `.worktreeinclude` names in the main tree (see included_files)


@dataclass(frozen=True)
class Base:
    commit: str
    branch: str | None


def recorded_base(events: list[dict[str, Any]]) -> Base | None:
    """The base the task's first attempt recorded (`worktree_prepared`), if any."""
    for event in events:
        data = event.get("data") if isinstance(event, dict) else None
        if event.get("type") == PREPARED_EVENT and isinstance(data, dict) and refs.is_commit_id(data.get("base")):
            branch = data.get("base_branch")
            return Base(str(data["base"]), branch if isinstance(branch, str) and branch else None)
    return None


def choose_base(repo: Repository, task: dict[str, Any]) -> Base:
    """Where a task's branch starts, in this order: `metadata.base` (a branch or a commit id),
    `expected_branch`, the parent's branch for a child task (`metadata.parent_task_id`, when the
    parent has one: a lead's sub-tasks build on the lead's work), else the workspace's HEAD."""
    metadata = task.get("metadata") or {}
    for named, what in ((metadata.get("base"), "metadata.base"), (task.get("expected_branch"), "expected_branch")):
        if named:
            commit = resolve_commit(repo, named, what=what)
            return Base(commit, None if refs.is_commit_id(named) else str(named))
    parent = metadata.get("parent_task_id")
    if isinstance(parent, str) and parent:
        parent_branch = refs.task_branch(parent)  # a hash of the id: safe whatever the id holds
        if ref_exists(repo, f"refs/heads/{parent_branch}"):
            return Base(resolve_commit(repo, parent_branch, what="the parent's branch"), parent_branch)
    commit, branch = head(repo)
    return Base(commit, branch)


def prepare_attempt(task: dict[str, Any], lane: LaneSettings, settings: Settings, attempt: int,
                    events: list[dict[str, Any]]) -> Isolation | None:
    """The attempt's worktree, or None when the lane runs its agents in the workspace itself.

    InvalidInput for what no retry can fix (not a repository under `isolation: worktree`, no
    commits, a bad base): the supervisor fails the task with it."""
    if not lane.may_isolate():
        return None  # read-only or `none`: no git call for every task of such a lane
    workspace = Path(task["workspace_root"])
    repo = find_repository(workspace) if shutil.which("git") else None
    if not lane.isolated(repo is not None):
        return None
    if repo is None:  # isolation: worktree asked for explicitly
        raise InvalidInput(f"lane {one_line(task['lane'], 64)!r} has isolation: worktree, but "
                           f"{workspace} is not in a git repository")
    base = recorded_base(events) or choose_base(repo, task)
    root = settings.worktrees_dir or default_root()
    # git looks for the included files in the main tree while it checks the new worktree out:
    # both mostly wait on the filesystem, and the scan would otherwise add to every task's start.
    with ThreadPoolExecutor(max_workers=1) as pool:
        included = pool.submit(included_files, repo)
        tree = prepare(repo, task_id=task["id"], base=base.commit, root=root)
        keep_out = included.result()
    fresh = not tree.reused
    if tree.reused and attempt > 1 and lane.retry_from == "base" and _moved_on(tree, base.commit, keep_out):
        start_over(repo, tree, task["id"])
        fresh = True
    return Isolation(repo, tree, fresh, base.branch, tuple(keep_out))


def _moved_on(tree: Worktree, base: str, keep_out: list[str]) -> bool:
    """Whether the tree holds anything beyond its base: commits, or changes an attempt cut
    short (its supervisor killed) never got to commit."""
    return results.head_of(tree.path) != base or results.is_dirty(tree.path, keep_out)


def start_over(repo: Repository, tree: Worktree, task_id: str) -> str:
    """Back to the base for a new attempt; what was there is kept under a wip ref first."""
    keep_out = included_files(repo)
    if results.is_dirty(tree.path, keep_out):
        results.commit_leftovers(tree.path, results.commit_message(task_id, "work left by an attempt cut short"),
                                 keep_out=keep_out)
    kept = results.head_of(tree.path)
    ref = refs.wip_ref(task_id, time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{kept[:8]}")
    results.keep_attempt(tree.path, ref, kept)
    run(tree.path, "reset", "--quiet", "--hard", tree.base)
    return ref


def included_files(repo: Repository) -> list[str]:
    """The files of the main tree that the repository's `.worktreeinclude` names (`.env`, local
    config), relative to its top. The convention Claude Code, Codex and Conductor share: the
    file has .gitignore syntax, and a file is included only when it matches a pattern *and* git
    ignores it, so nothing tracked is ever copied. Regular files only, never through a symlink.
    Git finds them (`ls-files`, `check-ignore`): no walk of the tree in Python."""
    listing = repo.top / INCLUDE_FILE
    if not listing.is_file() or listing.is_symlink():
        return []
    matched = run(repo.top, "ls-files", "-z", "--others", "--ignored", f"--exclude-from={listing}").stdout
    candidates = [name for name in matched.split(b"\0") if name][:MAX_INCLUDED_FILES]
    if not candidates:
        return []
    ignored = run(repo.top, "check-ignore", "--stdin", "-z", input=b"\0".join(candidates) + b"\0", check=False)
    really_ignored = set(ignored.stdout.split(b"\0"))
    found = []
    for name in candidates:
        relative = name.decode("utf-8", "surrogateescape")
        path = repo.top / relative
        if name in really_ignored and not path.is_symlink() and path.is_file():
            found.append(relative)
    return found


def copy_included(repo: Repository, tree: Path, included: Iterable[str] | None = None) -> list[str]:
    """The included files (`included`, else looked up now) copied into a fresh worktree, never
    over a file already there. They are the user's local files (secrets, often):
    `settle_attempt` never commits them."""
    copied: list[str] = []
    for relative in included_files(repo) if included is None else included:
        target = tree / relative
        if target.exists() or target.is_symlink():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo.top / relative, target, follow_symlinks=False)
        copied.append(relative)
    return copied


def run_setup(commands: tuple[tuple[str, ...], ...], cwd: Path, timeout: float,
              log: Callable[[bytes], None]) -> None:
    """The lane's `setup` commands, in order, in the worktree (argv lists, no shell); their
    output goes to the attempt log. SetupFailed names the first that failed."""
    run_commands(commands, cwd, timeout, log, what="set-up", failure=SetupFailed)


def run_commands(commands: tuple[tuple[str, ...], ...], cwd: Path, timeout: float,
                 log: Callable[[bytes], None], *, what: str, failure: type[LanesError]) -> None:
    """Argv lists run in order in `cwd`, output (stdout and stderr together) to `log`; the
    first that fails, cannot start or outlasts `timeout` raises `failure` saying so."""
    for argv in commands:
        log(f"[lanes-tui: {what}: ".encode() + " ".join(argv).encode("utf-8", "replace") + b"]\n")
        try:
            proc = subprocess.run(list(argv), cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            log(exc.output or b"")
            raise failure(f"{what} {one_line(argv[0], 80)} took longer than {timeout:g} s") from None
        except OSError as exc:
            raise failure(f"{what} {one_line(argv[0], 80)} could not start: {exc.strerror or exc}") from None
        log(proc.stdout)
        if proc.returncode != 0:
            tail = one_line(proc.stdout.decode("utf-8", "replace")[-SETUP_OUTPUT_SHOWN:], SETUP_OUTPUT_SHOWN)
            raise failure(f"{what} {one_line(' '.join(argv), 120)} exited {proc.returncode}: {tail}")


def settle_attempt(isolation: Isolation, task: dict[str, Any], attempt: int) -> dict[str, Any]:
    """Commit what the agent left, keep the attempt's tip, and say what the branch holds now
    (the response metadata's `git`)."""
    tree = isolation.tree
    results.commit_leftovers(tree.path, results.commit_message(task["id"], str(task.get("prompt") or "")),
                             keep_out=isolation.included)
    head = results.head_of(tree.path)
    attempt_ref = refs.attempt_ref(task["id"], attempt)
    results.keep_attempt(tree.path, attempt_ref, head)
    commits, diffstat = results.summary(tree.path, tree.base, head)
    return {"branch": tree.branch, "base": tree.base, "base_branch": isolation.base_branch, "head": head,
            "commits": commits, "diffstat": diffstat.to_json(), "worktree": str(tree.path),
            "attempt_ref": attempt_ref}
