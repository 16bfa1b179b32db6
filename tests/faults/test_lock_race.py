"""Fault row 17: the lock file is deleted or replaced while processes contend.

Several processes increment a counter file under `FileBackend.locked()` (read,
yield the CPU, write: a lost update shows up as a short count) while a
saboteur process unlinks `<store>/lock` and renames fresh files over it as
fast as it can. Mutual exclusion must hold: the final count is exact.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

WORKERS = 3
INCREMENTS = 300

WORKER = r"""
import os, sys
from lanes_tui.storage.files.backend import FileBackend

store = FileBackend(sys.argv[1])
counter, n = sys.argv[2], int(sys.argv[3])
print("READY", flush=True)
sys.stdin.read(1)  # start together
for _ in range(n):
    with store.locked():
        with open(counter, "rb") as handle:
            value = int(handle.read() or b"0")
        os.sched_yield()  # widen the window a second holder would slip into
        with open(counter, "wb") as handle:
            handle.write(b"%d" % (value + 1))
"""

SABOTEUR = r"""
import os, random, signal, sys

lock = os.path.join(sys.argv[1], "lock")
rng = random.Random(int(sys.argv[2]))
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
counts = {"unlinked": 0, "replaced": 0}
print("READY", flush=True)
sys.stdin.read(1)
n = 0
while not stop:
    n += 1
    try:
        if rng.random() < 0.5:
            os.unlink(lock)
            counts["unlinked"] += 1
        else:
            tmp = lock + ".%d" % n
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            os.replace(tmp, lock)
            counts["replaced"] += 1
    except FileNotFoundError:
        pass
    os.sched_yield()
print("%(unlinked)d %(replaced)d" % counts, flush=True)
"""


def _start(script: str, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    if line != "READY\n":
        proc.kill()
        pytest.fail(f"helper did not start: {proc.stderr.read()}")
    return proc


@pytest.mark.parametrize("sabotage", [False, True], ids=["baseline", "lock-file-deleted-and-replaced"])
def test_mutual_exclusion_survives_lock_file_games(workspace, sabotage):
    store = workspace.store()
    counter = workspace.root / "counter"
    counter.write_bytes(b"0")
    workers = [_start(WORKER, str(store.root), str(counter), str(INCREMENTS)) for _ in range(WORKERS)]
    saboteur = _start(SABOTEUR, str(store.root), "17") if sabotage else None
    everyone = workers + ([saboteur] if saboteur else [])
    try:
        for proc in everyone:  # the barrier: one byte each releases them together
            proc.stdin.write("g")
            proc.stdin.flush()
        for proc in workers:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        if saboteur is not None:
            saboteur.send_signal(signal.SIGTERM)
            out, err = saboteur.communicate(timeout=30)
            assert saboteur.returncode == 0, err
            unlinked, replaced = map(int, out.split())
            # The race really happened: the lock file changed under the workers many times.
            assert unlinked > 50 and replaced > 50, (unlinked, replaced)
    finally:
        for proc in everyone:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert int(counter.read_bytes()) == WORKERS * INCREMENTS
    # The store still works afterwards (the lock file is recreated as needed).
    task = workspace.submit()
    token = store.claim(task["id"], owner="w", lease_seconds=60)["claim_token"]
    store.respond(task["id"], body="ok", reviewer="w", claim_token=token)
    assert os.stat(store.lock_path).st_mode & 0o777 == 0o600
