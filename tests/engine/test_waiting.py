"""Blocking waits wake on file changes and lease expiry, not on polling."""

from __future__ import annotations

import threading

from lanes_tui.engine.waiting import RESCAN_SECONDS, wait_for_answer, wait_for_lane_task
from lanes_tui.storage.files.backend import FileBackend


def run_in_thread(fn):
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", fn()), daemon=True)
    thread.start()
    return thread, box


def test_lane_wait_wakes_when_another_process_submits(workspace):
    store = workspace.store()
    # The timeout is below the rescan interval: only a change notification can wake it in time.
    timeout = RESCAN_SECONDS - 10
    thread, box = run_in_thread(lambda: wait_for_lane_task(store, "default", timeout=timeout))
    proc = workspace.run("submit", "--lane", "default", "--request-from", str(workspace.request),
                         "--response-to", str(workspace.root / "o.md"), "--prompt", "hi")
    assert proc.returncode == 0, proc.stderr
    thread.join(timeout + 5)
    assert box["result"].task is not None
    assert box["result"].task["id"] == proc.stdout.strip()


def test_lane_wait_ignores_other_lanes_and_times_out(workspace):
    workspace.submit(lane="other")
    result = wait_for_lane_task(workspace.store(), "default", timeout=0.3)
    assert result.task is None


def test_lane_wait_wakes_when_a_lease_expires(workspace):
    store = workspace.store()
    task = workspace.submit()
    store.claim(task["id"], owner="gone", lease_seconds=1)
    # No file changes when a lease runs out: the wait must compute its own wake-up.
    result = wait_for_lane_task(store, "default", timeout=RESCAN_SECONDS - 10)
    assert result.task is not None and result.task["id"] == task["id"]


def test_lane_wait_can_claim(workspace):
    store = workspace.store()
    task = workspace.submit()
    result = wait_for_lane_task(store, "default", timeout=1, claim_owner="me", lease_seconds=60)
    assert result.claim_token and store.read_task(task["id"])["claim_owner"] == "me"


def test_answer_wait_wakes_when_the_task_is_answered(workspace):
    store = workspace.store()
    task = workspace.submit()
    token = store.claim(task["id"], owner="w", lease_seconds=60)["claim_token"]
    timeout = RESCAN_SECONDS - 10
    thread, box = run_in_thread(lambda: wait_for_answer(store, task["id"], timeout=timeout))
    FileBackend(workspace.store_root).respond(task["id"], body="done", reviewer="w", claim_token=token)
    thread.join(timeout + 5)
    assert box["result"]["state"] == "completed"


def test_answer_wait_returns_failed_tasks(workspace):
    store = workspace.store()
    task = workspace.submit()
    store.cancel(task["id"], by="op")
    assert wait_for_answer(store, task["id"], timeout=1)["failure_reason"] == "cancelled"


def _someone_waits_for_a_lock(pid: int) -> bool:
    """True once /proc/locks shows a blocked flock request from `pid` (a thread of ours)."""
    with open("/proc/locks") as handle:
        return any("->" in line and f" {pid} " in f" {line} " for line in handle)


def test_lane_wait_does_not_lose_a_task_whose_folder_appears_before_its_task_json(workspace):
    """A submitter makes the folder first and writes task.json later, under the lock."""
    import json
    import os

    from lanes_tui.core import fsio

    store = workspace.store()
    template = workspace.submit(lane="elsewhere")  # a real task.json to copy, in another lane
    body = json.loads((store.tasks_dir / template["id"] / "task.json").read_text())
    new_id = template["id"].replace("elsewhere", "late")
    body.update(id=new_id, lane="default", correlation_id="late")
    armed = threading.Event()
    thread, box = run_in_thread(
        lambda: wait_for_lane_task(store, "default", timeout=RESCAN_SECONDS - 10,
                                   heartbeat_seconds=0.001, on_heartbeat=armed.set)
    )
    assert armed.wait(10)
    with store.locked():
        os.mkdir(store.tasks_dir / new_id, 0o700)
        # Hold task.json back until the waiter has seen the bare folder and queued for the lock.
        for _ in range(200_000):
            if _someone_waits_for_a_lock(os.getpid()):
                break
        else:
            raise AssertionError("the waiter never asked for the store lock")
        with fsio.open_dir(store.tasks_dir / new_id) as fd:
            fsio.write_new_file("events.jsonl", b"", dir_fd=fd)
            fsio.write_atomic("task.json", fsio.dumps_json(body), dir_fd=fd)
    thread.join(RESCAN_SECONDS)
    assert box["result"].task is not None and box["result"].task["id"] == new_id
