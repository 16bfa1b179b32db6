"""`lanes-tui merge`: a finished task's branch into its base, on real repositories, through the
real CLI; refusals (conflict, failed verification, a dirty target) change nothing (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.gitrepo import (
    edit_settings,
    finished_tasks,
    git,
    make_repository,
    repository_state,
)
from helpers.supervisor import events_of

from lanes_tui.gitwork import refs


def merge(workspace, task_id: str, *args: str):
    result = workspace.run("merge", task_id, "--json", *args)
    return result, (json.loads(result.stdout) if result.stdout.strip() else None)


async def test_a_fast_forward_then_a_conflicting_branch_is_refused_with_nothing_changed(
        workspace, standins, monkeypatch, tmp_path):
    make_repository(workspace)
    monkeypatch.setenv("STANDIN_WRITE", "app.py=print('edited by')")  # both edit the same line
    first, second = await finished_tasks(workspace, edit_settings(workspace, tmp_path), "Change app.py", "Also app.py")
    result, out = merge(workspace, first)
    assert result.returncode == 0, result.stderr
    assert out["how"] == "fast-forward" and out["into"] == "main"
    assert git(workspace.root, "rev-parse", "main") == git(workspace.root, "rev-parse", refs.task_branch(first))
    assert (workspace.root / "app.py").read_text() == f"print('edited by') {first}\n"  # the lead's tree too
    assert [e["data"]["into"] for e in events_of(workspace.store(), first, "merged")] == ["main"]

    before = repository_state(workspace.root)
    result, out = merge(workspace, second)
    assert result.returncode == 14
    assert out["error"] == "merge_conflict" and "app.py" in out["message"] and "nothing was changed" in out["message"]
    assert "app.py" in result.stderr and "Traceback" not in result.stderr
    assert repository_state(workspace.root) == before
    assert (workspace.root / "app.py").read_text() == f"print('edited by') {first}\n"
    assert not events_of(workspace.store(), second, "merged")
    checked, out = merge(workspace, second, "--check")  # says so, and still changes nothing
    assert checked.returncode == 14 and out["how"] == "conflict" and out["conflicts"] == ["app.py"]
    assert repository_state(workspace.root) == before


async def test_branches_that_do_not_conflict_merge_with_a_merge_commit_once(workspace, standins, monkeypatch,
                                                                            tmp_path):
    make_repository(workspace)
    monkeypatch.setenv("STANDIN_WRITE", "notes-{task}.txt=notes")  # a file of its own per task
    first, second = await finished_tasks(workspace, edit_settings(workspace, tmp_path), "One", "Two")
    assert merge(workspace, first)[0].returncode == 0
    result, out = merge(workspace, second)
    assert result.returncode == 0, result.stderr
    assert out["how"] == "merge commit"
    parents = git(workspace.root, "rev-list", "--parents", "-n", "1", "main").split()[1:]
    assert parents == [git(workspace.root, "rev-parse", refs.task_branch(first)),
                       git(workspace.root, "rev-parse", refs.task_branch(second))]
    assert git(workspace.root, "log", "-1", "--format=%s", "main") == f"Merge {refs.task_branch(second)} into main"
    assert len(list(workspace.root.glob("notes-*.txt"))) == 2
    assert git(workspace.root, "status", "--porcelain", "--untracked-files=no") == ""  # the tree is the merge
    again, out = merge(workspace, second)
    assert again.returncode == 0 and out["how"] == "already merged"
    assert len(events_of(workspace.store(), second, "merged")) == 1  # recorded once


async def test_verify_runs_on_the_merged_result_and_a_failure_changes_nothing(workspace, standins, monkeypatch,
                                                                             tmp_path):
    make_repository(workspace)
    (workspace.root / ".env").write_text("TOKEN=1\n")  # untracked, copied for the tests to use
    (workspace.root / ".worktreeinclude").write_text(".env\n")
    monkeypatch.setenv("STANDIN_WRITE", "feature.txt=done")
    check = ["sh", "-c", "test -f .env && grep -q done feature.txt && echo verified-ok"]
    settings = edit_settings(workspace, tmp_path, verify=[check, ["sh", "-c", "exit ${FAIL_VERIFY:-0}"]])
    [task_id] = await finished_tasks(workspace, settings, "Add the feature")
    before = repository_state(workspace.root)
    monkeypatch.setenv("FAIL_VERIFY", "3")
    result, out = merge(workspace, task_id)
    assert result.returncode == 15 and out["error"] == "verify_failed" and "exited 3" in out["message"]
    assert "verified-ok" in result.stderr  # the commands' output, as it came
    assert repository_state(workspace.root) == before
    worktrees = git(workspace.root, "worktree", "list", "--porcelain")
    assert "scratch-" not in worktrees  # the scratch checkout is gone
    monkeypatch.delenv("FAIL_VERIFY")
    skipped, out = merge(workspace, task_id, "--check")
    assert out["verify"] == [check, ["sh", "-c", "exit ${FAIL_VERIFY:-0}"]]
    result, out = merge(workspace, task_id)
    assert result.returncode == 0, result.stderr
    assert out["verified"] is True and (workspace.root / "feature.txt").exists()
    assert events_of(workspace.store(), task_id, "merged")[0]["data"]["verified"] is True


async def test_an_uncommitted_change_in_the_target_is_never_overwritten(workspace, standins, monkeypatch, tmp_path):
    make_repository(workspace)
    monkeypatch.setenv("STANDIN_WRITE", "app.py=print('edited by')")
    [task_id] = await finished_tasks(workspace, edit_settings(workspace, tmp_path), "Change app.py")
    (workspace.root / "app.py").write_text("print('the lead is editing this')\n")
    before = repository_state(workspace.root)
    result, out = merge(workspace, task_id)
    assert result.returncode == 13 and out["error"] == "git_error" and "uncommitted" in out["message"]
    assert (workspace.root / "app.py").read_text() == "print('the lead is editing this')\n"
    assert repository_state(workspace.root) == before
    assert not events_of(workspace.store(), task_id, "merged")


async def test_a_child_task_builds_on_its_parents_branch_and_merges_into_it(workspace, standins, monkeypatch,
                                                                           tmp_path):
    base = make_repository(workspace)
    monkeypatch.setenv("STANDIN_WRITE", "part-{task}.txt=part")
    settings = edit_settings(workspace, tmp_path)
    [lead] = await finished_tasks(workspace, settings, "Lead the work")
    lead_head = git(workspace.root, "rev-parse", refs.task_branch(lead))
    [child] = await finished_tasks(workspace, settings, "A part of it", metadata={"parent_task_id": lead})
    info = workspace.store().read_response(child)["metadata"]["git"]
    assert info["base"] == lead_head and info["base_branch"] == refs.task_branch(lead)
    result, out = merge(workspace, child)
    assert result.returncode == 0, result.stderr
    assert out["into"] == refs.task_branch(lead) and out["how"] == "fast-forward"
    assert git(workspace.root, "rev-parse", "main") == base  # main is the lead's to merge, later
    lead_tree = Path(info["worktree"]).parent / refs.short_id(lead)
    assert len(list(lead_tree.glob("part-*.txt"))) == 2  # the lead's worktree has the child's part too


async def test_merge_refuses_what_it_cannot_merge_with_one_line_errors(workspace, standins, monkeypatch, tmp_path):
    make_repository(workspace)
    monkeypatch.setenv("STANDIN_WRITE", "x.txt=x")
    [task_id] = await finished_tasks(workspace, edit_settings(workspace, tmp_path), "Edit")
    plain = workspace.submit(name="plain")["id"]  # still queued
    cases = [
        ((plain,), 1, "conflict"),
        (("no-such-task",), 4, "not_found"),
        ((task_id, "--into=-rf"), 5, "invalid_input"),
        ((task_id, "--into", "a..b"), 5, "invalid_input"),
        ((task_id, "--into", "no-such-branch"), 5, "invalid_input"),
        ((task_id, "--verify"), 5, "invalid_input"),  # the lane has no verify commands
    ]
    before = repository_state(workspace.root)
    for args, code, kind in cases:
        result, out = merge(workspace, *args)
        assert (result.returncode, out["error"]) == (code, kind), (args, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert repository_state(workspace.root) == before


async def test_a_task_run_without_a_worktree_has_no_branch_to_merge(workspace, standins, tmp_path):
    make_repository(workspace)
    settings = edit_settings(workspace, tmp_path, isolation="none")
    [task_id] = await finished_tasks(workspace, settings, "Just answer")
    result, out = merge(workspace, task_id)
    assert result.returncode == 4 and "no branch" in out["message"]
