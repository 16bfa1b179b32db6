"""One git worktree and branch per task, in a folder lanes-tui owns.

A task's worktree lives in `<root>/<repository name>-<8 hex>/<short id>`: outside the
repository's working tree (an agent in one worktree never sees another's files, and
`git status` in the main tree stays clean), and not under `.claude/worktrees/`, which Claude
Code manages (and cleans) itself. `<root>` is the settings' `worktrees_dir`, by default
`$XDG_DATA_HOME/lanes-tui/worktrees` (`~/.local/share/...`).

`prepare` is idempotent: a supervisor that died mid-run left the worktree registered with git
and on the task's branch, and the next one simply reuses it, with whatever the agent had done.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from lanes_tui.core.errors import InvalidInput
from lanes_tui.gitwork.git import GitError, run
from lanes_tui.gitwork.refs import short_id, task_branch
from lanes_tui.gitwork.repository import Repository, ref_exists


@dataclass(frozen=True)
class Worktree:
    path: Path
    branch: str  # without refs/heads/
    base: str  # the commit the branch was made from
    reused: bool = False  # it was there already (a crashed or earlier attempt's), not made now


@dataclass(frozen=True)
class ListedWorktree:
    path: Path
    head: str | None
    branch: str | None  # without refs/heads/; None when detached
    locked: bool
    prunable: bool


def default_root() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "lanes-tui" / "worktrees"


def repository_folder(root: Path, repo: Repository) -> Path:
    """Where this repository's worktrees go: one folder per repository (by name and identity)."""
    identity = hashlib.sha256(str(repo.common_dir).encode("utf-8")).hexdigest()[:8]
    return Path(root) / f"{repo.top.name}-{identity}"


def folder_for(root: Path, repo: Repository, task_id: str) -> Path:
    """Where the task's worktree goes."""
    return repository_folder(root, repo) / short_id(task_id)


def _checked_root(root: Path, repo: Repository) -> Path:
    root = Path(root).resolve()
    if root == repo.top or repo.top in root.parents:
        raise InvalidInput(f"worktrees_dir {root} is inside the repository's working tree {repo.top}")
    return root


@contextmanager
def repository_lock(root: Path, repo: Repository) -> Iterator[None]:
    """The repository's worktree folder, exclusively (an flock, released if the holder dies):
    preparing a worktree and removing one never interleave."""
    folder = repository_folder(_checked_root(root, repo), repo)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def prepare(repo: Repository, *, task_id: str, base: str, root: Path) -> Worktree:
    """The task's worktree on its branch: made from `base` (a commit id) the first time,
    the same one again after a crash."""
    with repository_lock(root, repo):
        return _prepare(repo, task_id=task_id, base=base, root=_checked_root(root, repo))


def _prepare(repo: Repository, *, task_id: str, base: str, root: Path) -> Worktree:
    path = folder_for(root, repo, task_id)
    branch = task_branch(task_id)
    if not path.exists() and not path.is_symlink():
        return _make(repo, path, branch, base)  # the usual case: two git calls fewer
    for listed in list_worktrees(repo):
        if listed.path == path and not listed.prunable:
            if listed.branch != branch:
                raise GitError(f"{path} is a worktree of another branch ({listed.branch or 'detached'})")
            return Worktree(path, branch, base, reused=True)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists() and any(path.iterdir()):
        raise GitError(f"{path} exists and is not a worktree of {repo.top}: move it away first")
    return _make(repo, path, branch, base)


def _make(repo: Repository, path: Path, branch: str, base: str) -> Worktree:
    """A new worktree at `path` on `branch`: made from `base`, or on the branch as it is when it
    exists already (its worktree was deleted by hand: its commits are kept)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    made = run(repo.top, "worktree", "add", "--quiet", "-b", branch, str(path), base, check=False)
    if made.returncode == 0:
        return Worktree(path, branch, base)
    # Not the first try's usual outcome: clear what a deleted folder left registered, then
    # use the branch if it is there (`-B` would reset it: never).
    run(repo.top, "worktree", "prune")
    if ref_exists(repo, f"refs/heads/{branch}"):
        run(repo.top, "worktree", "add", "--quiet", str(path), branch)
    else:
        run(repo.top, "worktree", "add", "--quiet", "-b", branch, str(path), base)
    return Worktree(path, branch, base)


@contextmanager
def scratch_checkout(repo: Repository, commit: str, root: Path) -> Iterator[Path]:
    """A detached checkout of `commit` in a new folder beside the tasks' worktrees, removed
    afterwards (it only ever holds a commit that exists, and what commands made from it)."""
    parent = repository_folder(_checked_root(root, repo), repo)
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="scratch-", dir=parent))
    try:
        run(repo.top, "worktree", "add", "--quiet", "--detach", str(path), commit)
        yield path
    finally:
        run(repo.top, "worktree", "remove", "--force", "--force", str(path), check=False)
        shutil.rmtree(path, ignore_errors=True)
        run(repo.top, "worktree", "prune", check=False)


def list_worktrees(repo: Repository) -> list[ListedWorktree]:
    """Every worktree git knows of for this repository, the main one included."""
    out = run(repo.top, "worktree", "list", "--porcelain", "-z").stdout
    found: list[ListedWorktree] = []
    fields: dict[str, str] = {}
    for item in out.split(b"\0") + [b""]:
        if not item:
            if "worktree" in fields:
                branch = fields.get("branch")
                found.append(ListedWorktree(
                    Path(fields["worktree"]).resolve(), fields.get("HEAD"),
                    branch.removeprefix("refs/heads/") if branch else None,
                    "locked" in fields, "prunable" in fields))
            fields = {}
            continue
        key, _, value = item.decode("utf-8", "surrogateescape").partition(" ")
        fields[key] = value
    return found
