"""A worktree and branch per task on real git repositories: isolation, reuse after a crash,
leftovers committed by the supervisor, attempt tips kept, hostile names refused."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from lanes_tui.core.errors import InvalidInput
from lanes_tui.gitwork import refs, results, worktrees
from lanes_tui.gitwork.repository import current_branch, find_repository, resolve_commit


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    top = tmp_path / "repo"
    top.mkdir()
    git(top, "init", "-q", "-b", "main")
    git(top, "config", "user.name", "Test")
    git(top, "config", "user.email", "test@example.com")
    (top / "app.py").write_text("print('hello')\n")
    git(top, "add", "app.py")
    git(top, "commit", "-q", "-m", "first")
    return top


def all_commits(top: Path) -> set[str]:
    return set(git(top, "rev-list", "--all", "--reflog").split())


def test_each_task_edits_the_same_file_on_its_own_branch_in_parallel(repo, tmp_path):
    found = find_repository(repo)
    base = resolve_commit(found, None)
    root = tmp_path / "worktrees"
    made: dict[str, worktrees.Worktree] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def agent(n: int) -> None:
        try:
            start.wait()
            task_id = f"20261202T120000000000Z-t{n}-0123456789ab"
            tree = worktrees.prepare(found, task_id=task_id, base=base, root=root)
            (tree.path / "app.py").write_text(f"print('task {n}')\n")  # every agent edits the same file
            results.commit_leftovers(tree.path, results.commit_message(task_id, f"Task {n}\nmore"))
            made[task_id] = tree
        except BaseException as exc:  # reported below, with the thread's name
            errors.append(exc)

    threads = [threading.Thread(target=agent, args=(n,), name=f"agent-{n}") for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(made) == 8
    assert (repo / "app.py").read_text() == "print('hello')\n"  # the main tree is untouched
    assert git(repo, "status", "--porcelain") == ""
    branches = set()
    for task_id, tree in made.items():
        assert tree.path.parent.parent == root.resolve() and repo not in tree.path.parents
        branch = refs.task_branch(task_id)
        assert tree.branch == branch and branch.startswith("lanes/")
        n = task_id.split("-")[1][1:]
        assert git(repo, "show", f"{branch}:app.py") == f"print('task {n}')"
        assert git(repo, "log", "-1", "--format=%B", branch).startswith(f"Task {n}\n\nCommitted by lanes-tui for task {task_id}")
        commits, stat = results.summary(tree.path, base, results.head_of(tree.path))
        assert (commits, stat.files, stat.insertions, stat.deletions, stat.paths) == (1, 1, 1, 1, ("app.py",))
        branches.add(branch)
    assert len(branches) == 8


def test_a_crashed_run_is_picked_up_where_it_was(repo, tmp_path):
    found = find_repository(repo)
    base = resolve_commit(found, None)
    task_id = "20261202T120000000000Z-crash-0123456789ab"
    first = worktrees.prepare(found, task_id=task_id, base=base, root=tmp_path / "wt")
    (first.path / "half.txt").write_text("work in progress\n")  # the supervisor dies here
    again = worktrees.prepare(found, task_id=task_id, base=base, root=tmp_path / "wt")
    assert (again.path, again.branch, again.base) == (first.path, first.branch, first.base)
    assert (first.reused, again.reused) == (False, True)
    assert (again.path / "half.txt").read_text() == "work in progress\n"
    assert results.is_dirty(again.path)
    head = results.commit_leftovers(again.path, "m")
    results.keep_attempt(again.path, refs.attempt_ref(task_id, 1), head)
    assert git(repo, "rev-parse", refs.attempt_ref(task_id, 1)) == head
    assert results.commit_leftovers(again.path, "nothing left") is None


def test_a_worktree_deleted_by_hand_is_made_again_on_its_branch(repo, tmp_path):
    import shutil

    found = find_repository(repo)
    base = resolve_commit(found, None)
    task_id = "20261202T120000000000Z-gone-0123456789ab"
    tree = worktrees.prepare(found, task_id=task_id, base=base, root=tmp_path / "wt")
    (tree.path / "kept.txt").write_text("x\n")
    kept = results.commit_leftovers(tree.path, "kept")
    before = all_commits(repo)
    shutil.rmtree(tree.path)
    again = worktrees.prepare(found, task_id=task_id, base=base, root=tmp_path / "wt")
    assert results.head_of(again.path) == kept and (again.path / "kept.txt").exists()
    assert before <= all_commits(repo)


def test_a_folder_in_the_way_is_never_overwritten(repo, tmp_path):
    found = find_repository(repo)
    task_id = "20261202T120000000000Z-busy-0123456789ab"
    squatter = worktrees.folder_for(tmp_path / "wt", found, task_id)
    squatter.mkdir(parents=True)
    (squatter / "precious.txt").write_text("mine\n")
    with pytest.raises(Exception, match="not a worktree"):
        worktrees.prepare(found, task_id=task_id, base=resolve_commit(found, None), root=tmp_path / "wt")
    assert (squatter / "precious.txt").read_text() == "mine\n"


def test_worktrees_never_go_inside_the_repository(repo):
    found = find_repository(repo)
    with pytest.raises(InvalidInput, match="inside the repository"):
        worktrees.prepare(found, task_id="20261202T120000000000Z-in-0123456789ab",
                          base=resolve_commit(found, None), root=repo / ".lanes-worktrees")


@pytest.mark.parametrize("name", ["-delete-me", "../escape", "a..b", "has space", "ends.lock", "x\x1b[2J", "", "@{-1}",
                                  "refs/../../x", "a" * 300, 7])
def test_hostile_base_names_are_refused_before_git_sees_them(repo, name):
    with pytest.raises(InvalidInput):
        resolve_commit(find_repository(repo), name, what="metadata.base")


def test_bases_by_branch_and_by_commit_id_and_a_detached_head(repo):
    found = find_repository(repo)
    first = resolve_commit(found, None)
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "f.txt").write_text("f\n")
    git(repo, "add", "f.txt")
    git(repo, "commit", "-q", "-m", "feature")
    feature = resolve_commit(found, "feature")
    assert feature != first and resolve_commit(found, "main") == first
    assert resolve_commit(found, first) == first
    git(repo, "checkout", "-q", "--detach", first)
    assert current_branch(found) is None and resolve_commit(found, None) == first
    with pytest.raises(InvalidInput, match="is not a commit"):
        resolve_commit(found, "no-such-branch")


def test_no_commits_and_no_repository_are_told_apart(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    found = find_repository(empty)
    assert found is not None
    with pytest.raises(InvalidInput, match="no commits yet"):
        resolve_commit(found, None)
    plain = tmp_path / "plain"
    plain.mkdir()
    assert find_repository(plain) is None


def test_leftovers_are_committed_without_hooks_or_an_identity(repo, tmp_path, monkeypatch):
    git(repo, "config", "--unset", "user.name")
    git(repo, "config", "--unset", "user.email")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")  # this machine's own identity must not count
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    found = find_repository(repo)
    tree = worktrees.prepare(found, task_id="20261202T120000000000Z-h-0123456789ab",
                             base=resolve_commit(found, None), root=tmp_path / "wt")
    (tree.path / "new.txt").write_text("n\n")
    (tree.path / ".gitignore").write_text("*.log\n")
    (tree.path / "noise.log").write_text("ignored\n")
    head = results.commit_leftovers(tree.path, "by the supervisor")
    assert head is not None
    assert git(tree.path, "log", "-1", "--format=%an <%ae>") == "lanes-tui <lanes-tui@localhost>"
    assert sorted(git(tree.path, "show", "--name-only", "--format=", "HEAD").split()) == [".gitignore", "new.txt"]
