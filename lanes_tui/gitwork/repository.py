"""What a workspace is, seen from git: a repository (with commits), its top level, its HEAD."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lanes_tui.core.errors import InvalidInput
from lanes_tui.core.sanitize import one_line
from lanes_tui.gitwork.git import GitError, run
from lanes_tui.gitwork.refs import checked_branch_name, is_commit_id


@dataclass(frozen=True)
class Repository:
    top: Path  # the main working tree's top level
    common_dir: Path  # where refs and objects live (shared by every worktree)


def find_repository(workspace: Path) -> Repository | None:
    """The repository whose working tree holds `workspace`, or None when it is not in one."""
    result = run(workspace, "rev-parse", "--show-toplevel", "--git-common-dir", check=False)
    if result.returncode != 0:
        return None
    lines = result.text.splitlines()
    if len(lines) != 2:
        return None
    top = Path(lines[0])
    common = Path(lines[1])
    return Repository(top.resolve(), (common if common.is_absolute() else workspace / common).resolve())


def resolve_commit(repo: Repository, revision: object, *, what: str = "the base") -> str:
    """The commit id of `revision` (a branch name, or a commit id), or of HEAD for None.

    A repository without commits and an unknown name are one-line errors (InvalidInput)."""
    if revision is None:
        result = run(repo.top, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        if result.returncode != 0:
            raise InvalidInput(f"the repository at {repo.top} has no commits yet: worktree isolation needs one")
        return result.text
    if not is_commit_id(revision):
        revision = checked_branch_name(repo.top, revision, what)
    # `--end-of-options` keeps a name from ever being read as an option, whatever it is.
    result = run(repo.top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}",
                 check=False)
    if result.returncode != 0:
        raise InvalidInput(f"{what} {one_line(revision, 80)!r} is not a commit in {repo.top}")
    return result.text


def head(repo: Repository) -> tuple[str, str | None]:
    """HEAD's commit and the branch it is on (None: detached), in one git call; InvalidInput
    when the repository has no commits yet."""
    result = run(repo.top, "rev-parse", "HEAD^{commit}", "--symbolic-full-name", "HEAD", check=False)
    lines = result.text.splitlines()
    if result.returncode != 0 or len(lines) != 2 or not is_commit_id(lines[0]):
        return resolve_commit(repo, None), current_branch(repo)  # says why, in one line
    name = lines[1]
    return lines[0], name.removeprefix("refs/heads/") if name.startswith("refs/heads/") else None


def current_branch(repo: Repository) -> str | None:
    """The branch HEAD is on; None when HEAD is detached."""
    result = run(repo.top, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return result.text if result.returncode == 0 else None


def ref_exists(repo: Repository, ref: str) -> bool:
    try:
        return run(repo.top, "rev-parse", "--verify", "--quiet", "--end-of-options", ref, check=False).returncode == 0
    except GitError:
        return False
