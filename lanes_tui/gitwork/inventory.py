"""What is in a repository's worktree folder, as git and the filesystem see it, and the safe
removal of one worktree.

A folder under `<worktrees_dir>/<repo>-<8 hex>/` is a task's worktree (its name is the task's
short id). It may be registered with git and present (the usual case), present but unknown
to git (git's record was pruned), or known to git but gone (deleted by hand: prunable).

Removal never loses work: the branch tip and, when the tree is dirty, a snapshot commit of
everything in it (staged, unstaged and untracked files; ignored files aside) are kept under
`refs/lanes/wip/<short id>/...` first, and git's own `worktree remove` (no `--force`) refuses a
tree with changes as a second line of defence. The branch itself is left to the caller.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lanes_tui.gitwork.git import GitError, run
from lanes_tui.gitwork.refs import WIP
from lanes_tui.gitwork.repository import Repository
from lanes_tui.gitwork.results import identity, is_dirty
from lanes_tui.gitwork.worktrees import list_worktrees, repository_folder

SCRATCH_PREFIX = "scratch-"


@dataclass(frozen=True)
class FoundWorktree:
    path: Path
    short_id: str  # the folder's name: the task's short id
    registered: bool  # git knows it and its folder is there
    present: bool  # the folder exists
    branch: str | None  # without refs/heads/; None: detached or unknown
    head: str | None
    created: float | None  # when git made it (its `.git` file's mtime), seconds since the epoch


def found_worktrees(repo: Repository, root: Path) -> list[FoundWorktree]:
    """Every task worktree of `repo` under `root`, registered or not, sorted by path."""
    folder = repository_folder(Path(root).resolve(), repo)
    listed = {w.path: w for w in list_worktrees(repo) if w.path.parent == folder}
    on_disk: set[Path] = set()
    if folder.is_dir():
        on_disk = {entry.resolve() for entry in folder.iterdir()
                   if entry.is_dir() and not entry.is_symlink() and not entry.name.startswith(SCRATCH_PREFIX)}
    found = []
    for path in sorted(set(listed) | on_disk):
        known = listed.get(path)
        present = path in on_disk
        created = None
        try:
            created = (path / ".git").lstat().st_mtime
        except OSError:
            pass
        found.append(FoundWorktree(path, path.name, known is not None and not known.prunable and present, present,
                                   known.branch if known else None, known.head if known else None, created))
    return found


def size_of(path: Path) -> int:
    """Bytes used by the files under `path` (symlinks not followed)."""
    total = 0
    for folder, dirs, files in os.walk(path):
        for name in files + dirs:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def snapshot(tree: Path, keep_out: list[str]) -> str:
    """A commit of everything in the tree as it stands: HEAD itself when it is clean, else a
    commit on top of HEAD made through a private index (the tree's own index and files are
    not touched), untracked files included."""
    head = run(tree, "rev-parse", "HEAD").text
    if not is_dirty(tree, keep_out):
        return head
    with tempfile.TemporaryDirectory(prefix="lanes-snapshot-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        run(tree, "read-tree", "HEAD", env=env)
        run(tree, "add", "--all", "--", ".", env=env)
        if keep_out:  # after the add: see results.commit_leftovers
            run(tree, "reset", "--quiet", "--", *(f":(literal){path}" for path in keep_out), env=env)
        written = run(tree, "write-tree", env=env).text
    return run(tree, *identity(tree), "commit-tree", written, "-p", head, "-F", "-",
               input=b"lanes-tui: snapshot of a worktree before its removal\n").text


def keep_before_removal(repo: Repository, found: FoundWorktree, keep_out: list[str]) -> str | None:
    """The ref under which the tree's work is kept (None when there is no tree or commit to keep)."""
    commit = None
    if found.registered:
        commit = snapshot(found.path, keep_out)
    elif found.head:
        commit = found.head
    if commit is None:
        return None
    ref = f"{WIP}/{found.short_id}/{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{commit[:8]}"
    run(repo.top, "update-ref", ref, commit)
    return ref


def remove(repo: Repository, found: FoundWorktree, copied: list[str]) -> None:
    """Remove the worktree (its work already kept). `copied`: files lanes-tui copied in from
    `.worktreeinclude`, removed first when they still equal the main tree's, so git's own
    check for untracked files does not stop on them; a changed one stops the removal."""
    if found.registered:
        for relative in copied:
            inside, original = found.path / relative, repo.top / relative
            try:
                if inside.is_file() and not inside.is_symlink() and inside.read_bytes() == original.read_bytes():
                    inside.unlink()
            except OSError:
                continue
        result = run(repo.top, "worktree", "remove", str(found.path), check=False)
        if result.returncode != 0:
            raise GitError(f"git would not remove {found.path}: it has changes (kept, nothing removed)")
    elif found.present:
        raise GitError(f"{found.path} is not a worktree git knows: left for you to look at")
    run(repo.top, "worktree", "prune", check=False)
