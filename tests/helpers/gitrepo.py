"""Real git repositories for the worktree tests: a workspace made a repository, git run on it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from helpers.supervisor import make_settings, supervising
from lanes_tui.engine import events as ev


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


def make_repository(workspace) -> str:
    """The workspace as a git repository on `main` with one commit; its HEAD."""
    root = workspace.root
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Test")
    git(root, "config", "user.email", "test@example.com")
    (root / ".gitignore").write_text("handoff/state/\n*.md\n!request.md\n.env\n")
    (root / "app.py").write_text("print('hello')\n")
    git(root, "add", ".gitignore", "app.py", "request.md")
    git(root, "commit", "-q", "-m", "first")
    return git(root, "rev-parse", "HEAD")


def edit_settings(workspace, tmp_path: Path, *, top: dict | None = None, **lane):
    """Settings whose default lane lets its agents edit (`lane` over that), with worktrees under
    tmp_path; `top`: other top-level settings."""
    return make_settings(workspace, worktrees_dir=str(tmp_path / "worktrees"),
                         lane={"permissions": "edit", "timeout_seconds": 20, **lane}, **(top or {}))


def repository_state(root: Path) -> dict[str, str]:
    """Everything a refused operation must leave as it was: every ref and where it points, HEAD,
    the index and the working tree's status (untracked files included), and every commit."""
    return {
        "refs": git(root, "for-each-ref", "--format=%(refname) %(objectname)"),
        "head": git(root, "rev-parse", "HEAD"),
        "status": git(root, "status", "--porcelain=v1", "--untracked-files=all"),
        "index": git(root, "ls-files", "--stage"),
        "commits": git(root, "rev-list", "--all", "--reflog"),
    }


async def finished_tasks(workspace, settings, *prompts: str, metadata: dict | None = None) -> list[str]:
    """One task per prompt, run to completion by a supervisor on `settings`; their ids."""
    ids = [workspace.submit(prompt=p, name=f"out{n}", metadata=metadata)["id"] for n, p in enumerate(prompts)]
    async with supervising(workspace.store(), settings) as h:
        for task_id in ids:
            await h.events.wait_for(ev.TaskCompleted, task_id)
    return ids
