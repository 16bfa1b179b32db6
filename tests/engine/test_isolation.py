"""Worktree isolation under the real supervisor: stand-in agents edit files where they run, on a
real git repository; each task's work comes back as its own branch (issue 11)."""

from __future__ import annotations

import subprocess

from helpers.supervisor import events_of, make_settings, supervising

from lanes_tui.core.model import COMPLETED, FAILED
from lanes_tui.engine import events as ev
from lanes_tui.gitwork import refs


def git(cwd, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


def make_repository(workspace) -> str:
    """The workspace as a git repository with one commit; its HEAD."""
    root = workspace.root
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Test")
    git(root, "config", "user.email", "test@example.com")
    (root / ".gitignore").write_text("handoff/state/\n*.md\n!request.md\n")
    (root / "app.py").write_text("print('hello')\n")
    git(root, "add", ".gitignore", "app.py", "request.md")
    git(root, "commit", "-q", "-m", "first")
    return git(root, "rev-parse", "HEAD")


def edit_settings(workspace, tmp_path, **lane):
    return make_settings(workspace, worktrees_dir=str(tmp_path / "worktrees"),
                         lane={"permissions": "edit", "timeout_seconds": 20, **lane})


async def test_parallel_tasks_each_leave_their_work_on_their_own_branch(workspace, standins, monkeypatch, tmp_path):
    base = make_repository(workspace)
    monkeypatch.setenv("STANDIN_WRITE", "app.py=print('edited by')")
    settings = edit_settings(workspace, tmp_path)
    ids = [workspace.submit(prompt=f"Change app.py, take {n}\nmore detail", name=f"out{n}")["id"] for n in range(4)]
    store = workspace.store()
    async with supervising(store, settings) as h:
        for task_id in ids:
            await h.events.wait_for(ev.TaskCompleted, task_id)
    assert (workspace.root / "app.py").read_text() == "print('hello')\n"  # the main tree is untouched
    branches = set()
    for n, task_id in enumerate(ids):
        response = store.read_response(task_id)
        info = response["metadata"]["git"]
        assert info["branch"] == refs.task_branch(task_id) and info["base"] == base and info["commits"] == 1
        assert info["diffstat"] == {"files": 1, "insertions": 1, "deletions": 1, "paths": ["app.py"]}
        assert git(workspace.root, "show", f"{info['branch']}:app.py") == f"print('edited by') {task_id}"
        assert git(workspace.root, "log", "-1", "--format=%s", info["branch"]) == f"Change app.py, take {n}"
        assert git(workspace.root, "rev-parse", refs.attempt_ref(task_id, 1)) == info["head"]
        assert response["body"].strip()  # the answer is still the agent's
        prepared = events_of(store, task_id, "worktree_prepared")
        assert [e["data"]["base"] for e in prepared] == [base]
        branches.add(info["branch"])
    assert len(branches) == 4


async def test_read_only_lanes_run_in_the_workspace(workspace, standins, monkeypatch, tmp_path):
    make_repository(workspace)
    settings = make_settings(workspace, worktrees_dir=str(tmp_path / "worktrees"))  # read-only by default
    task_id = workspace.submit()["id"]
    store = workspace.store()
    async with supervising(store, settings) as h:
        await h.events.wait_for(ev.TaskCompleted, task_id)
    assert "git" not in store.read_response(task_id)["metadata"]
    assert not (tmp_path / "worktrees").exists() and not events_of(store, task_id, "worktree_prepared")


async def test_set_up_runs_in_the_worktree_and_a_failed_one_fails_the_attempt(workspace, standins, tmp_path):
    make_repository(workspace)
    (workspace.root / ".env").write_text("SECRET=1\n")  # untracked, listed for copying
    (workspace.root / ".worktreeinclude").write_text("# local files\n.env\n")
    check = ["sh", "-c", "test -f .env && echo set-up saw .env && test -f app.py"]
    settings = edit_settings(workspace, tmp_path, setup=[check])
    good = workspace.submit(name="good")["id"]
    store = workspace.store()
    async with supervising(store, settings) as h:
        await h.events.wait_for(ev.TaskCompleted, good)
    log = store.attempt_log_path(good, 1).read_text()
    assert "set-up saw .env" in log
    info = store.read_response(good)["metadata"]["git"]
    assert info["commits"] == 0  # the agent changed nothing; the copied .env is not committed
    failing = ["sh", "-c", "echo missing dependency foo >&2; exit 3"]
    settings = edit_settings(workspace, tmp_path, setup=[failing], max_attempts=1)
    bad = workspace.submit(name="bad", prompt="another")["id"]
    async with supervising(store, settings, drain=True) as h:
        await h.events.wait_for(ev.TaskFailed, bad)
    task = store.read_task(bad)
    assert task["state"] == FAILED and "exited 3: missing dependency foo" in task["failure_reason"]


async def test_a_retry_starts_from_the_base_and_keeps_the_first_attempts_work(workspace, standins, monkeypatch,
                                                                             tmp_path):
    base = make_repository(workspace)
    monkeypatch.setenv("STANDIN_WRITE", "notes.txt=attempt")
    monkeypatch.setenv("STANDIN_FAIL_ONCE", str(tmp_path / "failed-once"))  # the first attempt fails after writing
    settings = edit_settings(workspace, tmp_path, max_attempts=2, backoff_seconds=0.05, backoff_max_seconds=0.1)
    task_id = workspace.submit()["id"]
    store = workspace.store()
    async with supervising(store, settings) as h:
        await h.events.wait_for(ev.TaskCompleted, task_id)
    assert len(events_of(store, task_id, "attempt_failed")) == 1
    first = git(workspace.root, "rev-parse", refs.attempt_ref(task_id, 1))
    assert git(workspace.root, "show", f"{first}:notes.txt") == f"attempt {task_id}"
    info = store.read_response(task_id)["metadata"]["git"]
    assert info["base"] == base and info["commits"] == 1  # started over: one commit on the base, not two
    wip = git(workspace.root, "for-each-ref", "--format=%(objectname)", f"refs/lanes/wip/{refs.short_id(task_id)}")
    assert wip.split() == [first]  # what was there before the reset is kept
    assert store.read_task(task_id)["state"] == COMPLETED


async def test_worktree_isolation_outside_a_repository_fails_the_task_with_the_reason(workspace, standins, tmp_path):
    settings = edit_settings(workspace, tmp_path, isolation="worktree")
    task_id = workspace.submit()["id"]
    store = workspace.store()
    async with supervising(store, settings, drain=True) as h:
        await h.events.wait_for(ev.TaskFailed, task_id)
    reason = store.read_task(task_id)["failure_reason"]
    assert "isolation: worktree" in reason and "not in a git repository" in reason
    assert len(reason.splitlines()) == 1
