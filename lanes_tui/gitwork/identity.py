"""Which repository a task is about, in a form that means the same on every host.

A task records its workspace as a path, and paths do not cross hosts: on a shared queue a
supervisor must know whether the folder at that path here is the same project before it runs
an agent in it. Every clone of a project shares its first commit, whatever its path, remote
URL or branches, so that commit is the identity (`git:<sha>`; of several root commits, the
smallest). `submit` records it in the task's metadata (IDENTITY_KEY); a supervisor serves the
task only where the repository at its path holds that commit (`has_repository`).

A shallow clone does not hold its project's first commit, so it does not count as having the
repository: it cannot make the task's base commit either, in general.
"""

from __future__ import annotations

import re
from pathlib import Path

from lanes_tui.gitwork.git import GitError, run

IDENTITY_KEY = "repository_id"
_IDENTITY = re.compile(r"git:[0-9a-f]{40}(?:[0-9a-f]{24})?")


def repository_identity(workspace: Path) -> str | None:
    """The identity of the repository holding `workspace`; None when it is not one with commits."""
    try:
        result = run(workspace, "rev-list", "--max-parents=0", "HEAD", check=False)
    except GitError:
        return None
    if result.returncode != 0:
        return None
    roots = sorted(result.text.split())
    return f"git:{roots[0]}" if roots else None


def has_repository(workspace: Path, identity: str) -> bool:
    """Whether the repository at `workspace` (on this host) holds the commit `identity` names."""
    if not _IDENTITY.fullmatch(identity) or not workspace.is_dir():
        return False
    try:
        result = run(workspace, "cat-file", "-e", f"{identity.removeprefix('git:')}^{{commit}}", check=False)
    except GitError:
        return False
    return result.returncode == 0
