"""Fault row 10: the disk fills up during submit / claim / respond.

The workspace and its store live on a small tmpfs (we are root here; without
permission to mount, the tests skip and say why). A filler file takes all but
N pages. Every verb then either succeeds or fails with a one-line StoreError
(exit 7 from the CLI) and leaves every file as it was: no torn task.json, no
half task folder, no answer recorded by a respond that reported failure. Once
space is freed, everything works again.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lanes_tui.core.errors import StoreError
from lanes_tui.core.ids import is_valid_task_id
from lanes_tui.core.model import STATES
from lanes_tui.storage.files.backend import FileBackend
from lanes_tui.storage.files.scan import all_tasks

PAGE = os.sysconf("SC_PAGE_SIZE")
LANES_TUI = [sys.executable, "-m", "lanes_tui"]


class Disk:
    def __init__(self, mount: Path) -> None:
        self.mount = mount
        self.filler = mount / "filler"

    def free_pages(self) -> int:
        return os.statvfs(self.mount).f_bavail

    def fill(self, leave_pages: int = 0) -> None:
        """Take every free page, then give back exactly `leave_pages`."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            size = os.fstat(fd).st_size
            assert size % PAGE == 0
            for chunk in (64 * PAGE, PAGE):
                block = b"\0" * chunk
                while True:
                    try:
                        size += os.write(fd, block)
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
            # A short write may have left a partial page: realign, then free what we give back.
            os.ftruncate(fd, (size // PAGE - leave_pages) * PAGE)
        finally:
            os.close(fd)
        assert self.free_pages() == leave_pages, (self.free_pages(), leave_pages)

    def release(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("disk-full tests mount a small tmpfs and need root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up (mount said: {done.stderr.strip()})")
    try:
        yield Disk(mount)
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


class Ws:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "handoff").mkdir(parents=True)
        self.config = root / "handoff" / "handoff.yaml"
        self.config.write_text('workspace_id: "ws"\nworkspace_root: ".."\nqueue_root: "state"\n')
        self.request = root / "request.md"
        self.request.write_text("# request\n")
        self.store = FileBackend(root / "handoff" / "state")
        self.n = 0

    def submit(self, *, lane: str = "a", prompt: str = "p") -> dict:
        self.n += 1
        return self.store.create_task(
            workspace_id="ws", correlation_id=f"c{self.n}", source_agent="t", lane=lane,
            workspace_root=self.root, request_path=self.request, response_path=self.root / "out.md", prompt=prompt,
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*LANES_TUI, "--config", str(self.config), *args],
            cwd=self.root, capture_output=True, text=True, timeout=60,
        )


@pytest.fixture
def ws(small_disk):
    return Ws(small_disk.mount / "ws")


def snapshot(store: FileBackend) -> dict[str, dict[str, bytes]]:
    return {
        entry.name: {
            name: (Path(entry.path) / name).read_bytes() for name in sorted(os.listdir(entry.path))
        }
        for entry in os.scandir(store.tasks_dir)
    }


def check_not_torn(store: FileBackend) -> None:
    """Every folder in tasks/ is a whole task; every JSON file parses."""
    for entry in os.scandir(store.tasks_dir):
        assert is_valid_task_id(entry.name), entry.name
        names = set(os.listdir(entry.path))
        assert not [n for n in names if n.startswith(".")], f"temp files left: {names}"
        assert "task.json" in names and "events.jsonl" in names, f"half task folder {entry.name}: {names}"
        task = json.loads((Path(entry.path) / "task.json").read_bytes())
        assert task["state"] in STATES
        if "response.json" in names:
            json.loads((Path(entry.path) / "response.json").read_bytes())
            assert task["state"] in ("completed", "failed"), "an answer left behind by a failed respond"
        for line in (Path(entry.path) / "events.jsonl").read_bytes().splitlines():
            json.loads(line)  # no torn line: a failed append is cut back off
    assert all_tasks(store).corrupt == []


def _one_line_exit_7(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 7, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("lanes-tui: ") and "no space left on device" in lines[0], lines[0]
    return lines[0]


def test_full_disk_fails_cleanly_and_recovers(small_disk, ws):
    store = ws.store
    queued = ws.submit()
    claimed = ws.submit()
    token = store.claim(claimed["id"], owner="w", lease_seconds=600)["claim_token"]
    small_disk.fill(leave_pages=0)
    before = snapshot(store)

    with pytest.raises(StoreError, match="no space left on device"):
        ws.submit()
    with pytest.raises(StoreError, match="no space left on device"):
        store.claim(queued["id"], owner="w", lease_seconds=600)
    with pytest.raises(StoreError, match="no space left on device"):
        store.respond(claimed["id"], body="answer", reviewer="w", claim_token=token)
    with pytest.raises(StoreError, match="no space left on device"):
        store.renew(claimed["id"], claim_token=token, lease_seconds=900)
    with pytest.raises(StoreError, match="no space left on device"):
        store.release(claimed["id"], claim_token=token)
    assert snapshot(store) == before
    check_not_torn(store)

    # Readers keep working on a full disk.
    listed = ws.cli("--json", "list")
    assert listed.returncode == 0, listed.stderr
    assert sorted(t["id"] for t in json.loads(listed.stdout)["tasks"]) == sorted([queued["id"], claimed["id"]])

    small_disk.release()
    ws.submit()
    store.claim(queued["id"], owner="w", lease_seconds=600)
    store.respond(claimed["id"], body="answer", reviewer="w", claim_token=token)
    check_not_torn(store)
    assert store.read_task(claimed["id"])["state"] == "completed"
    assert store.read_task(queued["id"])["state"] == "claimed"


def test_cli_reports_a_full_disk_in_one_line_with_exit_7(small_disk, ws):
    store = ws.store
    queued = ws.submit()
    claimed = ws.submit()
    token = store.claim(claimed["id"], owner="w", lease_seconds=600)["claim_token"]
    small_disk.fill(leave_pages=0)
    before = snapshot(store)

    _one_line_exit_7(ws.cli("submit", "--lane", "a", "--request-from", "request.md", "--response-to", "out.md"))
    _one_line_exit_7(ws.cli("claim", queued["id"], "--owner", "w"))
    _one_line_exit_7(ws.cli("respond", claimed["id"], "--claim-token", token, "--body", "answer"))
    _one_line_exit_7(ws.cli("next", "--lane", "a", "--claim", "--timeout", "0", "--quiet"))
    err = ws.cli("--json", "claim", queued["id"])
    _one_line_exit_7(err)
    assert json.loads(err.stdout)["error"] == "store_error"
    assert snapshot(store) == before
    check_not_torn(store)

    small_disk.release()
    ok = ws.cli("submit", "--lane", "a", "--request-from", "request.md", "--response-to", "out.md")
    assert ok.returncode == 0, ok.stderr
    assert ws.cli("respond", claimed["id"], "--claim-token", token, "--body", "answer").returncode == 0
    check_not_torn(store)


BIG = "x" * (PAGE + PAGE // 2)  # prompts, events and answers that span page boundaries


def _prepare(ws: Ws, step: str) -> dict:
    ctx: dict = {}
    if step != "submit":
        ctx["task"] = ws.submit(prompt=BIG)
    if step in ("event", "respond", "release"):
        ctx["token"] = ws.store.claim(ctx["task"]["id"], owner="w", lease_seconds=600)["claim_token"]
    return ctx


def _act(ws: Ws, step: str, ctx: dict) -> None:
    store = ws.store
    if step == "submit":
        ws.submit(prompt=BIG)
    elif step == "claim":
        store.claim(ctx["task"]["id"], owner="w", lease_seconds=600)
    elif step == "event":
        store.append_event(ctx["task"]["id"], "log", BIG, claim_token=ctx["token"])
    elif step == "respond":
        store.respond(ctx["task"]["id"], body=BIG, reviewer="w", claim_token=ctx["token"])
    elif step == "release":
        store.release(ctx["task"]["id"], claim_token=ctx["token"], reason=BIG)


@pytest.mark.parametrize("step", ["submit", "claim", "event", "respond", "release"])
def test_each_verb_with_every_amount_of_free_space(small_disk, ws, step):
    """Run the verb with 0, 1, 2, ... pages free. Each write of it can be the one
    that hits the wall (the temp file, the second file, an append cut mid-line);
    whichever it is, the verb either succeeds or fails changing nothing."""
    outcomes = {}
    for free in range(0, 9):
        ctx = _prepare(ws, step)
        small_disk.fill(leave_pages=free)
        before = snapshot(ws.store)
        try:
            _act(ws, step, ctx)
            outcomes[free] = "ok"
        except StoreError as exc:
            assert "no space left on device" in str(exc) and "\n" not in str(exc), str(exc)
            assert snapshot(ws.store) == before, f"{step} failed with {free} pages free but changed files"
            outcomes[free] = "failed"
        finally:
            check_not_torn(ws.store)
            small_disk.release()
    # The sweep must cross the boundary, or it tested nothing.
    assert outcomes[0] == "failed" and outcomes[8] == "ok", outcomes
    # Everything left live can be finished once space is back.
    store = ws.store
    for task_id in store.task_ids():
        task = store.read_task(task_id)
        if task["state"] == "queued":
            token = store.claim(task_id, owner="w2", lease_seconds=600)["claim_token"]
        elif task["state"] == "claimed":
            token = task["claim_token"]
        else:
            continue
        store.respond(task_id, body="done", reviewer="w2", claim_token=token)
    check_not_torn(store)
    assert {store.read_task(t)["state"] for t in store.task_ids()} == {"completed"}
