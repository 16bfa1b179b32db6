"""A worktree task run on one host is merged on another (issue 14, item 5): on a PostgreSQL
queue the supervisor bundles the task's branch with its answer, and `merge` on a clone that
lacks the branch fetches it from the queue, checked, before merging. The lead's clone is
imitated by the same repository with the branch, its worktree, its attempt refs and their
objects removed (the task's workspace path must be the same on both hosts, so one machine
cannot hold both clones there at once)."""

from __future__ import annotations

import json
import subprocess

import pytest
from helpers.gitrepo import edit_settings, git, make_repository
from helpers.supervisor import supervising

from lanes_tui.core.errors import ConflictError
from lanes_tui.engine import events as ev
from lanes_tui.gitwork import bundles, refs


def submit(store, workspace, prompt: str) -> str:
    return store.create_task(workspace_id="ws", correlation_id=prompt, source_agent="lead", lane="default",
                             workspace_root=workspace.root, request_path=workspace.request,
                             response_path=workspace.root / "out.md", prompt=prompt,
                             metadata={"required_vendor": "claude"})["id"]


def git_exit(root, *args: str) -> int:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True).returncode


def forget_the_branch(root, task_id: str, git_facts: dict) -> None:
    """What the lead's clone looks like: none of the task's refs, worktree or objects."""
    git(root, "worktree", "remove", "--force", git_facts["worktree"])
    git(root, "branch", "-D", refs.task_branch(task_id))
    for ref in git(root, "for-each-ref", "--format=%(refname)", "refs/lanes").splitlines():
        git(root, "update-ref", "-d", ref)
    git(root, "reflog", "expire", "--expire=now", "--all")
    git(root, "gc", "--quiet", "--prune=now")
    assert git_exit(root, "cat-file", "-e", git_facts["head"]) != 0  # its commits are gone


@pytest.fixture
def pg_store(postgres_url):
    from lanes_tui.storage.postgres import PostgresBackend

    store = PostgresBackend(postgres_url)
    yield store
    store.close()


@pytest.mark.parametrize("via", ["merge", "diff"])
async def test_a_branch_run_elsewhere_comes_back_as_a_bundle_and_merges_here(
        workspace, standins, monkeypatch, tmp_path, pg_store, postgres_url, via):
    base = make_repository(workspace)
    monkeypatch.setenv("STANDIN_WRITE", "feature.txt=done")
    task_id = submit(pg_store, workspace, "Add the feature")
    async with supervising(pg_store, edit_settings(workspace, tmp_path)) as h:
        await h.events.wait_for(ev.TaskCompleted, task_id)
    facts = pg_store.read_response(task_id)["metadata"]["git"]
    head, data = pg_store.result_bundle(task_id)
    assert head == facts["head"] and facts["commits"] >= 1
    assert facts["bundle"] == {"sha256": bundles.digest(data), "bytes": len(data)}
    assert data.startswith(b"# v2 git bundle\n") or data.startswith(b"# v3 git bundle\n")

    forget_the_branch(workspace.root, task_id, facts)
    if via == "diff":  # the dashboard's diff view, first to need the branch here
        from lanes_tui.engine.task_git import branch_diff

        diff = branch_diff(pg_store, task_id)
        assert diff.head == facts["head"] and "+++ b/feature.txt" in diff.lines
    merged = workspace.run("--store", postgres_url, "merge", task_id, "--json")
    assert merged.returncode == 0, merged.stderr
    out = json.loads(merged.stdout)
    assert out["how"] == "fast-forward" and out["into"] == "main"
    assert git(workspace.root, "rev-parse", refs.task_branch(task_id)) == facts["head"]  # fetched, as recorded
    assert git(workspace.root, "rev-parse", "main") == facts["head"]
    assert git_exit(workspace.root, "merge-base", "--is-ancestor", base, "main") == 0
    assert (workspace.root / "feature.txt").read_text().startswith("done")
    assert git(workspace.root, "for-each-ref", "refs/lanes/incoming") == ""  # the staging ref is gone


async def test_a_bundle_that_is_not_the_recorded_one_is_refused_and_nothing_is_fetched(
        workspace, standins, monkeypatch, tmp_path, pg_store, postgres_url):
    make_repository(workspace)
    monkeypatch.setenv("STANDIN_WRITE", "feature.txt=done")
    first, second = submit(pg_store, workspace, "One"), submit(pg_store, workspace, "Two")
    async with supervising(pg_store, edit_settings(workspace, tmp_path)) as h:
        for task_id in (first, second):
            await h.events.wait_for(ev.TaskCompleted, task_id)
    facts = pg_store.read_response(first)["metadata"]["git"]
    forget_the_branch(workspace.root, first, facts)
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:  # the other task's bundle in its place
        conn.execute("UPDATE lanes_tui.result_bundles SET content = (SELECT content FROM lanes_tui.result_bundles "
                     "WHERE task_id = %s) WHERE task_id = %s", (second, first))
    refused = workspace.run("--store", postgres_url, "merge", first, "--json")
    assert refused.returncode == 13 and "not the one its answer recorded" in refused.stderr, refused.stderr
    assert git(workspace.root, "branch", "--list", refs.task_branch(first)) == ""


def test_only_the_claims_holder_keeps_a_bundle(workspace, pg_store):
    task_id = submit(pg_store, workspace, "held")
    claimed = pg_store.claim(task_id, owner="lanes-tui@a:1", lease_seconds=60)
    with pytest.raises(ConflictError):
        pg_store.keep_result_bundle(task_id, claim_token="not-the-token", head="0" * 40, content=b"x")
    assert pg_store.result_bundle(task_id) is None
    pg_store.keep_result_bundle(task_id, claim_token=claimed["claim_token"], head="1" * 40, content=b"y")
    assert pg_store.result_bundle(task_id) == ("1" * 40, b"y")


async def test_on_a_file_store_the_branch_stays_where_it_is(workspace, standins, monkeypatch, tmp_path):
    make_repository(workspace)
    monkeypatch.setenv("STANDIN_WRITE", "feature.txt=done")
    task = workspace.submit(prompt="Add the feature")
    store = workspace.store()
    async with supervising(store, edit_settings(workspace, tmp_path)) as h:
        await h.events.wait_for(ev.TaskCompleted, task["id"])
    facts = store.read_response(task["id"])["metadata"]["git"]
    assert facts["commits"] >= 1 and "bundle" not in facts and "bundle_problem" not in facts
    assert store.result_bundle(task["id"]) is None
