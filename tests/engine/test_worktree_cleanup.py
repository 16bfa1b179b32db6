"""`lanes-tui worktrees` and `--clean` on real repositories: the state of every task worktree,
and a cleanup that removes only what holds nothing to lose, never a commit (issue 11, G18)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers.gitrepo import edit_settings, finished_tasks, git, make_repository

from lanes_tui.gitwork import refs


def worktrees(workspace, *args: str) -> dict:
    result = workspace.run("worktrees", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def every_commit(root) -> set[str]:
    """Every commit reachable from any ref (wip refs included) or a reflog."""
    return set(git(root, "rev-list", "--all", "--reflog").split())


def by_task(listing: dict) -> dict[str, dict]:
    return {w["task_id"]: w for w in listing["worktrees"]}


async def test_the_listing_says_what_each_worktree_holds(workspace, standins, monkeypatch, tmp_path):
    make_repository(workspace)
    monkeypatch.setenv("STANDIN_WRITE", "notes-{task}.txt=notes")
    settings = edit_settings(workspace, tmp_path)
    merged, unmerged, dirty = await finished_tasks(workspace, settings, "Merge me", "Keep me", "Dirty me")
    monkeypatch.delenv("STANDIN_WRITE")
    [empty] = await finished_tasks(workspace, settings, "Change nothing")
    assert workspace.run("merge", merged).returncode == 0
    [dirty_path] = (tmp_path / "worktrees").glob(f"*/{refs.short_id(dirty)}")
    (dirty_path / "scratch.txt").write_text("a person's work in progress\n")
    listing = by_task(worktrees(workspace))
    assert {task: w["state"] for task, w in listing.items()} == {
        merged: "merged", unmerged: "finished-unmerged", dirty: "dirty", empty: "empty"}
    assert listing[unmerged]["branch"] == refs.task_branch(unmerged) and listing[unmerged]["size_bytes"] > 0
    assert listing[unmerged]["age_seconds"] >= 0 and listing[unmerged]["into"] == "main"
    text = workspace.run("worktrees")
    assert text.returncode == 0 and "finished-unmerged" in text.stdout and unmerged in text.stdout


async def test_clean_removes_only_merged_and_empty_ones_and_never_loses_a_commit(workspace, standins, monkeypatch,
                                                                                 tmp_path):
    make_repository(workspace)
    monkeypatch.setenv("STANDIN_WRITE", "notes-{task}.txt=notes")
    settings = edit_settings(workspace, tmp_path)
    merged, unmerged, dirty, busy = await finished_tasks(workspace, settings, "Merge me", "Keep me", "Dirty", "Busy")
    for task_id in (merged, busy):
        assert workspace.run("merge", task_id).returncode == 0
    monkeypatch.delenv("STANDIN_WRITE")
    [empty] = await finished_tasks(workspace, settings, "Change nothing")
    paths = {task: w["path"] for task, w in by_task(worktrees(workspace)).items()}
    (Path(paths[dirty]) / "wip.txt").write_text("uncommitted\n")
    # Someone is working in the merged `busy` worktree: a live process whose cwd is inside it.
    holder = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], cwd=paths[busy],
                              stdin=subprocess.PIPE)
    try:
        commits_before = every_commit(workspace.root)
        dry = worktrees(workspace, "--clean", "--dry-run")
        assert not any(w["removed"] for w in dry["worktrees"])
        assert all(Path(p).exists() for p in paths.values())
        cleaned = by_task(worktrees(workspace, "--clean"))
        assert {t for t, w in cleaned.items() if w["removed"]} == {merged, empty}
        assert cleaned[busy]["left_because"] == "running" and cleaned[busy]["busy_pids"] == [holder.pid]
        assert cleaned[dirty]["left_because"] == "dirty"
        assert cleaned[unmerged]["left_because"] == "finished-unmerged"
    finally:
        holder.communicate(b"")
    assert not Path(paths[merged]).exists() and not Path(paths[empty]).exists()
    for task_id in (unmerged, dirty, busy):
        assert Path(paths[task_id]).exists()
    assert (Path(paths[dirty]) / "wip.txt").read_text() == "uncommitted\n"
    assert every_commit(workspace.root) >= commits_before  # not one commit lost
    # The merged branch is deleted (its tip is in main), the others stay; every tip is kept.
    branches = set(git(workspace.root, "for-each-ref", "--format=%(refname:short)", "refs/heads/").split())
    assert refs.task_branch(merged) not in branches
    assert {refs.task_branch(t) for t in (unmerged, dirty, busy)} <= branches
    wip = git(workspace.root, "for-each-ref", "--format=%(refname)", "refs/lanes/wip/")
    assert f"refs/lanes/wip/{refs.short_id(merged)}/" in wip and f"refs/lanes/wip/{refs.short_id(empty)}/" in wip
    assert by_task(worktrees(workspace)).keys() == {unmerged, dirty, busy}


async def test_a_worktree_nobody_owns_is_orphaned_and_kept(workspace, standins, monkeypatch, tmp_path):
    make_repository(workspace)
    monkeypatch.setenv("STANDIN_WRITE", "x.txt=x")
    [task_id] = await finished_tasks(workspace, edit_settings(workspace, tmp_path), "Edit")
    path = by_task(worktrees(workspace))[task_id]["path"]
    stray = tmp_path / "worktrees" / next((tmp_path / "worktrees").iterdir()).name / "0123456789ab"
    stray.mkdir()
    (stray / "file").write_text("not lanes-tui's\n")
    listing = worktrees(workspace)
    orphans = [w for w in listing["worktrees"] if w["task_id"] is None]
    assert [(w["path"], w["state"]) for w in orphans] == [(str(stray), "orphaned")]
    worktrees(workspace, "--clean")
    assert (stray / "file").exists() and Path(path).exists()


def test_worktrees_outside_a_repository_is_a_one_line_error(workspace):
    result = workspace.run("worktrees")
    assert result.returncode == 6 and "not in a git repository" in result.stderr
    assert result.stderr.count("\n") == 1


async def test_a_worktree_that_changed_since_the_survey_is_left(workspace, standins, monkeypatch, tmp_path):
    """The re-check under the lock: someone started editing after `survey` saw it empty."""
    from lanes_tui.engine.worktree_cleanup import (
        _remove_if_still_removable,
        repository_of,
        survey,
    )

    make_repository(workspace)
    settings = edit_settings(workspace, tmp_path)
    [task_id] = await finished_tasks(workspace, settings, "Change nothing")
    store, repo = workspace.store(), repository_of(workspace.root)
    [report] = survey(store, settings, repo)
    assert report.state == "empty"
    (report.path / "new.txt").write_text("started since\n")
    outcome = _remove_if_still_removable(store, settings, repo, report)
    assert (outcome.removed, outcome.reason) == (False, "now dirty")
    assert (report.path / "new.txt").exists()
