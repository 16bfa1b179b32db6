"""Fault row 19: a store that cannot keep our promises is refused.

World- or group-writable stores can be tampered with, a store owned by another
user is not ours to change, and flock does not exclude across machines on a
network filesystem. Each is refused before anything is written, with a message
that says what to do, and exit code 7 from the CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from lanes_tui.core.errors import StoreError
from lanes_tui.storage.files import storecheck
from lanes_tui.storage.files.backend import FileBackend


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _refused(workspace, *args: str, words: str) -> None:
    done = workspace.run(*args)
    assert done.returncode == 7, (args, done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert words in lines[0], lines[0]
    assert str(workspace.store_root) in lines[0], "the message must say which store"


SUBMIT = ("submit", "--lane", "a", "--request-from", "request.md", "--response-to", "out.md")


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702], ids=["777", "770", "702"])
def test_writable_by_others_is_refused_with_the_fix(workspace, mode):
    store = workspace.store()
    task = workspace.submit(lane="a")
    os.chmod(store.root, mode)
    before = _tree(store.root)
    with pytest.raises(StoreError, match=f"run: chmod 700 {store.root}"):
        FileBackend(store.root)
    for args in (SUBMIT, ("list",), ("status", "--all"), ("claim", task["id"]), ("next", "--lane", "a", "--timeout", "0")):
        _refused(workspace, *args, words=f"chmod 700 {store.root}")
    assert _tree(store.root) == before, "nothing may be written to a refused store"
    os.chmod(store.root, 0o700)  # the advice works
    assert workspace.run(*SUBMIT).returncode == 0


def test_store_of_another_user_is_refused(workspace):
    if os.geteuid() != 0:
        pytest.skip("needs root to chown the store to another uid")
    store = workspace.store()
    task = workspace.submit(lane="a")
    os.chown(store.root, 12345, 12345)
    before = _tree(store.root)
    with pytest.raises(StoreError, match="belongs to uid 12345"):
        FileBackend(store.root)
    for args in (SUBMIT, ("list",), ("claim", task["id"])):
        _refused(workspace, *args, words="belongs to uid 12345")
    assert _tree(store.root) == before
    os.chown(store.root, 0, 0)
    assert workspace.run("--json", "list").returncode == 0


@pytest.mark.parametrize("fstype", ["nfs4", "cifs", "fuse.sshfs"])
def test_network_filesystem_is_refused(workspace, monkeypatch, fstype):
    workspace.store()
    monkeypatch.setattr(storecheck, "filesystem_type", lambda path: fstype)
    with pytest.raises(StoreError, match=f"network filesystem \\({fstype}\\).*local disk"):
        FileBackend(workspace.store_root)


def test_filesystem_type_reads_real_mounts(tmp_path):
    """The network check is only as good as the mount lookup it relies on."""
    findmnt = shutil.which("findmnt")
    if findmnt:
        expected = subprocess.run([findmnt, "-n", "-o", "FSTYPE", "--target", str(tmp_path)],
                                  capture_output=True, text=True).stdout.strip()
        assert storecheck.filesystem_type(tmp_path) == expected
    if os.geteuid() != 0:
        return
    mount = tmp_path / "mnt with space"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        assert storecheck.filesystem_type(mount) == "tmpfs"
        assert storecheck.filesystem_type(mount / "deeper" / "store") == "tmpfs"
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_new_store_is_private_even_with_a_permissive_umask(workspace):
    done = subprocess.run(
        ["sh", "-c", 'umask 000 && exec "$@"', "sh", sys.executable, "-m", "lanes_tui",
         "--config", str(workspace.config), *SUBMIT],
        cwd=workspace.root, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    task_id = done.stdout.strip()
    root = workspace.store_root
    for path in (root, root / "tasks", root / "tasks" / task_id, root / "indexes", root / "indexes" / "correlations"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    for path in (root / "lock", root / "tasks" / task_id / "task.json", root / "tasks" / task_id / "events.jsonl"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert json.loads((root / "tasks" / task_id / "task.json").read_text())["id"] == task_id
