"""Fault row 18 (G10): symlinks planted inside the store.

Someone (or something) replaces parts of the store with symlinks to files
outside it. lanes-tui must never read or write through them: each operation
is refused or the task is reported corrupt, listings keep working for the
other tasks, and the outside target keeps its exact bytes.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from lanes_tui.core.errors import LanesError, StoreError
from lanes_tui.storage.files.backend import FileBackend
from lanes_tui.storage.files.scan import all_tasks


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every file and folder under root, with file bytes: 'untouched' means equal."""
    out: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = None if path.is_dir() else path.read_bytes()
    return out


@pytest.fixture
def outside(tmp_path):
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(b"do not touch\n")
    return folder


def _try_everything(store: FileBackend, task_id: str, token: str | None) -> list[str]:
    """Run every verb on the task; return the ones that were NOT refused."""
    verbs = {
        "claim": lambda: store.claim(task_id, owner="w", lease_seconds=60),
        "renew": lambda: store.renew(task_id, claim_token=token or "x", lease_seconds=60),
        "event": lambda: store.append_event(task_id, "note", "hi"),
        "respond": lambda: store.respond(task_id, body="answer", reviewer="w", claim_token=token),
        "release": lambda: store.release(task_id, claim_token=token or "x"),
        "cancel": lambda: store.cancel(task_id, by="op"),
        "recover": lambda: store.recover(task_id),
    }
    accepted = []
    for name, verb in verbs.items():
        try:
            verb()
            accepted.append(name)
        except LanesError as exc:
            assert "\n" not in str(exc)
    return accepted


def _cli_list_flags(workspace, bad_id: str, good_ids: list[str]) -> None:
    for args in (("--json", "list"), ("--json", "status", "--all")):
        done = workspace.run(*args)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        payload = json.loads(done.stdout)
        assert [t["id"] for t in payload["tasks"]] == good_ids
        assert [c["task_id"] for c in payload.get("corrupt", [])] == [bad_id]


def test_symlinked_task_folder(workspace, outside):
    store = workspace.store()
    victim = workspace.submit(lane="a", name="victim")
    good = workspace.submit(lane="a", name="good")
    token = store.claim(victim["id"], owner="w", lease_seconds=600)["claim_token"]
    folder = store.tasks_dir / victim["id"]
    target = outside / "task-copy"
    shutil.copytree(folder, target)
    shutil.rmtree(folder)
    folder.symlink_to(target, target_is_directory=True)
    before = _tree(outside)

    assert _try_everything(store, victim["id"], token) == []
    listing = all_tasks(store)
    assert [t["id"] for t in listing.tasks] == [good["id"]]
    assert [tid for tid, _ in listing.corrupt] == [victim["id"]]
    assert "symlink" in listing.corrupt[0][1]
    _cli_list_flags(workspace, victim["id"], [good["id"]])
    done = workspace.run("respond", victim["id"], "--claim-token", token, "--body", "x")
    assert done.returncode in (7, 8) and len(done.stderr.strip().splitlines()) == 1, done.stderr
    nxt = workspace.run("--json", "next", "--lane", "a", "--timeout", "0", "--claim", "--quiet")
    assert nxt.returncode == 0 and json.loads(nxt.stdout)["task_id"] == good["id"], nxt.stderr
    assert _tree(outside) == before


@pytest.mark.parametrize("name", ["task.json", "response.json", "events.jsonl"])
def test_symlinked_file_inside_a_task(workspace, outside, name):
    store = workspace.store()
    victim = workspace.submit(lane="a", name="victim")
    good = workspace.submit(lane="a", name="good")
    token = store.claim(victim["id"], owner="w", lease_seconds=600)["claim_token"]
    path = store.tasks_dir / victim["id"] / name
    target = outside / f"target-{name}"
    if path.exists():
        target.write_bytes(path.read_bytes())  # a plausible copy, so following it would "work"
        path.unlink()
    else:
        target.write_bytes(json.dumps({"task_id": victim["id"], "status": "completed", "body": "forged"}).encode())
    path.symlink_to(target)
    before = _tree(outside)

    accepted = _try_everything(store, victim["id"], token)
    if name == "events.jsonl":
        # State files are fine; only verbs that must write or read the log are refused.
        assert "respond" not in accepted and "event" not in accepted and "claim" not in accepted
        assert store.read_task(victim["id"])["state"] == "claimed"
        assert not (store.tasks_dir / victim["id"] / "response.json").exists()
    else:
        # Appending a plain event touches only the real events.jsonl; everything
        # that reads or writes the task's state is refused.
        assert accepted == ([] if name == "task.json" else ["event"]), accepted
        listing = all_tasks(store)
        assert [t["id"] for t in listing.tasks] == [good["id"]]
        assert [tid for tid, _ in listing.corrupt] == [victim["id"]]
        _cli_list_flags(workspace, victim["id"], [good["id"]])
        status = workspace.run("status", victim["id"])
        assert status.returncode == 8, status.stderr
        assert "symlink" in status.stderr and len(status.stderr.strip().splitlines()) == 1
    assert path.is_symlink()
    assert _tree(outside) == before


@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-file", "dangling"])
def test_symlinked_lock_refuses_every_change(workspace, outside, dangling):
    store = workspace.store()
    task = workspace.submit(lane="a")
    target = outside / ("missing" if dangling else "secret.txt")
    store.lock_path.unlink(missing_ok=True)
    store.lock_path.symlink_to(target)
    before = _tree(outside)

    with pytest.raises(StoreError, match="symlink"):
        workspace.submit(lane="a")
    assert _try_everything(store, task["id"], None) == []
    done = workspace.run("claim", task["id"])
    assert done.returncode == 7, done.stderr
    assert "symlink" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    # Lock-free readers still work.
    listed = workspace.run("--json", "list")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)["tasks"]) == 1, listed.stderr
    assert _tree(outside) == before
    assert not (outside / "missing").exists()


@pytest.mark.parametrize("folder", ["tasks", "indexes/correlations", ".lanes-tui", "archive"])
def test_symlinked_store_folders_are_never_written_through(workspace, outside, folder):
    store = workspace.store()
    task = workspace.submit(lane="a")
    token = store.claim(task["id"], owner="w", lease_seconds=600)["claim_token"]
    store.respond(task["id"], body="ok", reviewer="w", claim_token=token)
    path = store.root / folder
    if path.exists():
        shutil.copytree(path, outside / "copy")
        shutil.rmtree(path)
    else:
        (outside / "copy").mkdir()
    path.symlink_to(outside / "copy", target_is_directory=True)
    before = _tree(outside)

    if folder == "tasks":
        with pytest.raises(StoreError):
            FileBackend(store.root)
        done = workspace.run("list")
        assert done.returncode == 7 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    else:
        workspace.submit(lane="a", name="second")  # the index is advisory: the task is saved
        listed = workspace.run("--json", "list")
        assert listed.returncode == 0, listed.stderr
        assert len(json.loads(listed.stdout)["tasks"]) == 2
        archived = workspace.run("archive", "--older-than-days", "0")
        if folder == "archive":
            assert archived.returncode == 7, archived.stderr
            assert (store.tasks_dir / task["id"] / "task.json").is_file()
        else:
            assert archived.returncode == 0, archived.stderr
    assert _tree(outside) == before


def test_response_output_symlinked_out_of_the_workspace(workspace, outside):
    """`wait` writes the answer to response_path; a symlink there must not carry it outside."""
    store = workspace.store()
    task = workspace.submit(lane="a", name="out")
    token = store.claim(task["id"], owner="w", lease_seconds=600)["claim_token"]
    store.respond(task["id"], body="the answer", reviewer="w", claim_token=token)
    (workspace.root / "out.md").symlink_to(outside / "secret.txt")
    before = _tree(outside)
    done = workspace.run("wait", task["id"], "--timeout", "5", "--quiet")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert _tree(outside) == before
    assert os.path.islink(workspace.root / "out.md")
