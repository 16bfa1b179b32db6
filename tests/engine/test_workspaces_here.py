"""A supervisor serves only repositories it has (issue 14, "paths do not cross hosts"), with real
git: a task's repository identity is its project's first commit, recorded by `submit`; a task
whose workspace is not on this host, or is another repository there, is left to the hosts that
have it (it waits, visibly, and `--drain` does not wait for it) instead of being claimed and
failed."""

from __future__ import annotations

import shutil

from helpers.gitrepo import git, make_repository
from helpers.supervisor import make_settings, supervising

from lanes_tui.core.handoff import load_config
from lanes_tui.engine import events as ev
from lanes_tui.engine.submitting import Submission, submit
from lanes_tui.gitwork.identity import IDENTITY_KEY, has_repository, repository_identity


def test_every_clone_has_the_identity_and_another_or_a_shallow_repository_does_not(workspace, tmp_path):
    first = make_repository(workspace)
    (workspace.root / "app.py").write_text("print('again')\n")
    git(workspace.root, "commit", "-q", "-am", "second")
    identity = repository_identity(workspace.root)
    assert identity == f"git:{first}"
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(workspace.root), str(clone))
    assert repository_identity(clone) == identity and has_repository(clone, identity)
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{workspace.root}", str(shallow))
    assert not has_repository(shallow, identity)
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    assert repository_identity(other) is None  # no commits: no identity
    git(other, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "--allow-empty", "-m", "x")
    assert not has_repository(other, identity)
    assert not has_repository(tmp_path / "nowhere", identity)
    assert not has_repository(clone, "git:--output=/tmp/x")  # only an identity is ever given to git


def test_submit_records_the_repository_and_a_workspace_outside_git_records_none(workspace):
    config = load_config(workspace.config)
    store = workspace.store()
    plain = submit(store, config, Submission(lane="default", prompt="no repository yet"), source_agent="t",
                   base=workspace.root, generate=True)
    assert IDENTITY_KEY not in plain["metadata"]
    first = make_repository(workspace)
    task = submit(store, config, Submission(lane="default", prompt="in a repository"), source_agent="t",
                  base=workspace.root, generate=True)
    assert task["metadata"][IDENTITY_KEY] == f"git:{first}"


async def test_a_supervisor_runs_only_the_tasks_whose_repository_it_has(workspace, standins, tmp_path):
    make_repository(workspace)
    here = workspace.submit(name="here", metadata={IDENTITY_KEY: repository_identity(workspace.root)})
    another_repository = workspace.submit(name="other", metadata={IDENTITY_KEY: "git:" + "ab" * 20})
    gone_root = tmp_path / "elsewhere"
    shutil.copytree(workspace.root, gone_root)
    store = workspace.store()
    elsewhere = store.create_task(workspace_id="ws", correlation_id="far", source_agent="t", lane="default",
                                  workspace_root=gone_root, request_path=gone_root / "request.md",
                                  response_path=gone_root / "far.md", prompt="p")
    shutil.rmtree(gone_root)  # the submitter's host had it; this one does not
    async with supervising(store, make_settings(workspace), drain=True) as h:
        await h.events.wait_for(ev.TaskCompleted, here["id"])
        other = await h.events.wait_for(ev.TaskWaiting, another_repository["id"])
        far = await h.events.wait_for(ev.TaskWaiting, elsewhere["id"])
        await h.job  # --drain ends: what only other hosts can run is not waited for
    assert "is not the one it was submitted in" in other.reason and str(workspace.root) in other.reason
    assert "is not here" in far.reason and str(gone_root) in far.reason
    for task in (another_repository, elsewhere):
        assert store.read_task(task["id"])["state"] == "queued"  # not claimed, not failed: left to others
        assert not h.events.of(ev.WorkerStarted, task["id"])
