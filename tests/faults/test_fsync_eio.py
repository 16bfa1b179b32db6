"""Fault row 12: os.fsync raising EIO.

Every store write ends with fsync. When it fails, the verb must be reported as
failed (a one-line StoreError) and the queue state on disk must not advance:
nobody may be left holding a claim whose token was never handed out, and a
submit that failed must not leave a task behind.
"""

from __future__ import annotations

import errno
import os

import pytest

from lanes_tui.core.errors import StoreError
from lanes_tui.storage.files.backend import FileBackend


class FsyncFault:
    """Replace os.fsync: fail every call from number `fail_from` on (1-based)."""

    def __init__(self, fail_from: int = 1) -> None:
        self.real = os.fsync
        self.calls = 0
        self.fail_from = fail_from
        self.failed = 0

    def __call__(self, fd: int) -> None:
        self.calls += 1
        if self.calls >= self.fail_from:
            self.failed += 1
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        self.real(fd)


def _snapshot(store: FileBackend) -> dict[str, dict[str, bytes]]:
    """Every visible file of every task (temp files aside)."""
    result = {}
    for entry in sorted(os.scandir(store.tasks_dir), key=lambda e: e.name):
        result[entry.name] = {
            name: (store.tasks_dir / entry.name / name).read_bytes()
            for name in sorted(os.listdir(entry.path))
            if not name.startswith(".")
        }
    return result


def _temp_files(store: FileBackend) -> list[str]:
    return [
        str(path.relative_to(store.root))
        for path in store.root.rglob(".*.tmp")
    ]


def _submit(workspace, store, n=0):
    return store.create_task(
        workspace_id="ws", correlation_id=f"c{n}", source_agent="t", lane="a",
        workspace_root=workspace.root, request_path=workspace.request,
        response_path=workspace.root / "out.md", prompt="p",
    )


# -- every fsync fails -------------------------------------------------------------


def test_submit_fails_and_leaves_no_task(workspace, monkeypatch):
    store = workspace.store()
    before = _snapshot(store)
    monkeypatch.setattr(os, "fsync", FsyncFault())
    with pytest.raises(StoreError, match="Input/output error"):
        _submit(workspace, store)
    monkeypatch.undo()
    assert _snapshot(store) == before
    assert store.task_ids() == []
    assert _temp_files(store) == []


def test_claim_fails_and_the_task_stays_queued(workspace, monkeypatch):
    store = workspace.store()
    task = _submit(workspace, store)
    before = _snapshot(store)
    monkeypatch.setattr(os, "fsync", FsyncFault())
    with pytest.raises(StoreError):
        store.claim(task["id"], owner="w", lease_seconds=60)
    monkeypatch.undo()
    assert _snapshot(store) == before
    assert store.read_task(task["id"])["state"] == "queued"
    assert _temp_files(store) == []
    store.claim(task["id"], owner="w", lease_seconds=60)  # works again once the disk is healthy


def test_respond_fails_and_the_task_stays_claimed(workspace, monkeypatch):
    store = workspace.store()
    task = _submit(workspace, store)
    token = store.claim(task["id"], owner="w", lease_seconds=60)["claim_token"]
    before = _snapshot(store)
    monkeypatch.setattr(os, "fsync", FsyncFault())
    with pytest.raises(StoreError):
        store.respond(task["id"], body="answer", reviewer="w", claim_token=token)
    monkeypatch.undo()
    assert _snapshot(store) == before
    assert not (store.tasks_dir / task["id"] / "response.json").exists()
    assert store.effective_task(task["id"])["state"] == "claimed"
    assert _temp_files(store) == []
    store.respond(task["id"], body="answer", reviewer="w", claim_token=token)
    assert store.read_task(task["id"])["state"] == "completed"


def test_renew_and_release_fail_without_changing_the_claim(workspace, monkeypatch):
    store = workspace.store()
    task = _submit(workspace, store)
    token = store.claim(task["id"], owner="w", lease_seconds=60)["claim_token"]
    before = _snapshot(store)
    monkeypatch.setattr(os, "fsync", FsyncFault())
    with pytest.raises(StoreError):
        store.renew(task["id"], claim_token=token, lease_seconds=600)
    with pytest.raises(StoreError):
        store.release(task["id"], claim_token=token)
    monkeypatch.undo()
    assert _snapshot(store) == before


# -- the n-th fsync fails: every step of every verb ----------------------------------------


def _verb_cases():
    """(name, prepare(store, workspace) -> ctx, act(store, ctx))"""

    def prep_nothing(store, workspace):
        return {"workspace": workspace}

    def act_submit(store, ctx):
        ctx["new"] = _submit(ctx["workspace"], store, n=99)

    def prep_queued(store, workspace):
        return {"task": _submit(workspace, store)}

    def act_claim(store, ctx):
        ctx["token"] = store.claim(ctx["task"]["id"], owner="w", lease_seconds=60)["claim_token"]

    def prep_claimed(store, workspace):
        task = _submit(workspace, store)
        return {"task": task, "token": store.claim(task["id"], owner="w", lease_seconds=60)["claim_token"]}

    def act_respond(store, ctx):
        store.respond(ctx["task"]["id"], body="answer", reviewer="w", claim_token=ctx["token"])

    def act_release(store, ctx):
        store.release(ctx["task"]["id"], claim_token=ctx["token"])

    return [
        ("submit", prep_nothing, act_submit),
        ("claim", prep_queued, act_claim),
        ("respond", prep_claimed, act_respond),
        ("release", prep_claimed, act_release),
    ]


@pytest.mark.parametrize("name,prepare,act", _verb_cases(), ids=[c[0] for c in _verb_cases()])
def test_any_failing_fsync_reports_failure_and_keeps_the_state(tmp_path, workspace, monkeypatch, name, prepare, act):
    """Fail the 1st, 2nd, ... fsync of the verb (and every later one). Whatever step
    fails, the verb raises a one-line StoreError and every file of every task is
    byte-for-byte what it was before the call: no advanced state, no event for
    the failed operation, no temp file.

    One exception: submit's last write is the advisory correlation index, made
    after the task itself is durable; failing there must not report the submit
    failed (the caller would submit a duplicate), so the task must then be whole.
    """
    clean_store = workspace.store()
    counter = FsyncFault(fail_from=10**9)
    ctx = prepare(clean_store, workspace)
    monkeypatch.setattr(os, "fsync", counter)
    act(clean_store, ctx)
    monkeypatch.undo()
    total = counter.calls
    assert total >= 2, f"{name} does not fsync at all?"

    succeeded = []
    for n in range(1, total + 1):
        store = FileBackend(tmp_path / f"store-{n}")
        ctx = prepare(store, workspace)
        before = _snapshot(store)
        fault = FsyncFault(fail_from=n)
        monkeypatch.setattr(os, "fsync", fault)
        try:
            act(store, ctx)
            raised = None
        except StoreError as exc:
            raised = exc
        finally:
            monkeypatch.undo()
        assert fault.failed, f"{name}: fsync #{n} was never reached"
        assert _temp_files(store) == [], f"{name}: fsync #{n}: temp files left behind"
        if raised is None:
            assert name == "submit", f"{name}: fsync #{n} failed with EIO but the verb reported success"
            new = ctx["new"]["id"]
            assert store.read_task(new)["state"] == "queued"
            assert [e["type"] for e in store.read_events(new).events] == ["created"]
            succeeded.append(n)
            continue
        assert "\n" not in str(raised) and "Input/output error" in str(raised), str(raised)
        assert _snapshot(store) == before, f"{name}: state changed on disk although fsync #{n} failed"
    # Only the index's own file + folder fsyncs may fail without failing the submit.
    assert succeeded == ([total - 1, total] if name == "submit" else []), succeeded
