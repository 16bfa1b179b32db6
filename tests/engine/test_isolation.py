"""Worktree isolation under the real supervisor: stand-in agents edit files where they run, on a
real git repository; each task's work comes back as its own branch (issue 11)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from helpers.gitrepo import edit_settings, git, make_repository
from helpers.supervisor import (
    BOUND,
    events_of,
    json_event,
    make_settings,
    supervising,
    until,
)

from lanes_tui.core.model import COMPLETED, FAILED
from lanes_tui.engine import events as ev
from lanes_tui.gitwork import refs


async def test_parallel_tasks_each_leave_their_work_on_their_own_branch(workspace, standins, monkeypatch, tmp_path):
    base = make_repository(workspace)
    monkeypatch.setenv("STANDIN_WRITE", "app.py=print('edited by')")
    monkeypatch.setenv("STANDIN_BARRIER", f"{tmp_path / 'barrier'}:8")  # all 8 agents edit at the same time
    settings = edit_settings(workspace, tmp_path, top={"concurrency": {"global": 8, "vendors": {"claude": 8}}})
    ids = [workspace.submit(prompt=f"Change app.py, take {n}\nmore detail", name=f"out{n}")["id"] for n in range(8)]
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
    assert len(branches) == 8


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


@pytest.mark.parametrize("retry_from", ["base", "previous"])
async def test_a_sigkilled_supervisor_leaves_a_worktree_the_next_one_reuses_or_snapshots(
        workspace, standins, headless, monkeypatch, tmp_path, retry_from):
    """The agent had written a file (uncommitted) when its supervisor was SIGKILLed: the next
    supervisor goes on in the same worktree (`previous`) or keeps that work under a wip ref
    before starting over (`base`); either way nothing is lost (G17)."""
    base = make_repository(workspace)
    settings = edit_settings(workspace, tmp_path, lease_seconds=60, renew_seconds=5, retry_from=retry_from)
    task = workspace.submit(prompt="Write the notes")
    store = workspace.store()
    proc, out = headless.start(workspace, "--json", env={"STANDIN_MODE": "hang",
                                                         "STANDIN_WRITE": "notes.txt=first attempt"})
    out.wait_for(json_event("worker_started", task["id"]))
    log = store.attempt_log_path(task["id"], 1)
    await until(lambda: log.exists() and b'"subtype":"init"' in log.read_bytes())  # it wrote, then printed
    [prepared] = events_of(store, task["id"], "worktree_prepared")
    tree = Path(prepared["data"]["worktree"])
    assert (tree / "notes.txt").read_text() == f"first attempt {task['id']}\n"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(BOUND)

    monkeypatch.setenv("STANDIN_WRITE", "other.txt=second attempt")
    async with supervising(store, settings) as h:
        await h.events.wait_for(ev.TaskCompleted, task["id"], timeout=30)
    info = store.read_response(task["id"])["metadata"]["git"]
    assert info["worktree"] == str(tree) and info["base"] == base  # the same worktree, the same base
    kept = git(workspace.root, "for-each-ref", "--format=%(objectname)", f"refs/lanes/wip/{refs.short_id(task['id'])}")
    if retry_from == "previous":
        assert git(workspace.root, "show", f"{info['head']}:notes.txt") == f"first attempt {task['id']}"
        assert kept == ""
    else:
        assert git(workspace.root, "show", f"{kept}:notes.txt") == f"first attempt {task['id']}"
        assert "notes.txt" not in git(workspace.root, "ls-tree", "--name-only", info["head"])
    assert git(workspace.root, "show", f"{info['head']}:other.txt") == f"second attempt {task['id']}"


def test_worktreeinclude_names_ignored_files_only_as_claude_code_reads_it(workspace):
    """.gitignore syntax; a file is included when it matches and git ignores it: never a tracked
    file, an untracked one git would commit, or a symlink."""
    from lanes_tui.engine.isolation import included_files
    from lanes_tui.gitwork.repository import find_repository

    make_repository(workspace)
    root = workspace.root
    (root / ".gitignore").write_text((root / ".gitignore").read_text() + "config/*.local.yaml\nlink.env\n")
    (root / "config").mkdir()
    for name, text in {".env": "A=1", "config/db.local.yaml": "x: 1", "config/db.yaml": "x: 0",
                       "notes.txt": "untracked, not ignored"}.items():
        (root / name).write_text(text)
    git(root, "add", "config/db.yaml")
    git(root, "commit", "-q", "-m", "config")
    (root / "link.env").symlink_to(root / ".env")
    (root / ".worktreeinclude").write_text("# local files\n.env\nconfig/\nnotes.txt\n*.env\n")
    assert sorted(included_files(find_repository(root))) == [".env", "config/db.local.yaml"]


async def test_a_copied_in_secret_is_not_committed_even_when_the_agent_unignores_it(workspace, standins,
                                                                                   monkeypatch, tmp_path):
    make_repository(workspace)
    (workspace.root / ".env").write_text("SECRET=1\n")
    (workspace.root / ".worktreeinclude").write_text(".env\n")
    monkeypatch.setenv("STANDIN_WRITE", ".gitignore=*.md")  # the agent's .gitignore no longer ignores .env
    task_id = workspace.submit()["id"]
    store = workspace.store()
    async with supervising(store, edit_settings(workspace, tmp_path)) as h:
        await h.events.wait_for(ev.TaskCompleted, task_id)
    info = store.read_response(task_id)["metadata"]["git"]
    assert info["commits"] == 1 and info["diffstat"]["paths"] == [".gitignore"]
    assert ".env" not in git(workspace.root, "ls-tree", "-r", "--name-only", info["head"]).split()
    assert (Path(info["worktree"]) / ".env").read_text() == "SECRET=1\n"  # still there for the agent


async def test_a_hostile_parent_id_names_no_branch_and_the_child_starts_from_head(workspace, standins, tmp_path):
    base = make_repository(workspace)
    hostile = ["-rf", "../../etc/passwd", "main", "lanes/../../x", "\x1b[31m"]
    ids = [workspace.submit(prompt="p", name=f"o{n}", metadata={"parent_task_id": p})["id"]
           for n, p in enumerate(hostile)]
    store = workspace.store()
    async with supervising(store, edit_settings(workspace, tmp_path)) as h:
        for task_id in ids:
            await h.events.wait_for(ev.TaskCompleted, task_id)
    for task_id in ids:
        info = store.read_response(task_id)["metadata"]["git"]
        assert (info["base"], info["base_branch"]) == (base, "main")
