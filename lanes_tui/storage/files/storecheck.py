"""Refuse stores that cannot keep our promises (fault row 19).

flock gives no mutual exclusion across machines on most network filesystems,
and a store that other users can write to can be tampered with. Both are
refused with a message that says how to fix it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lanes_tui.core.errors import StoreError

NETWORK_FILESYSTEMS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "ceph", "glusterfs", "fuse.sshfs", "9p", "lustre", "gpfs"}
)


def check_store_root(root: Path) -> None:
    info = os.stat(root)
    if info.st_uid != os.geteuid():
        raise StoreError(
            f"store {root} belongs to uid {info.st_uid}, not to you (uid {os.geteuid()}); "
            "use a store you own"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StoreError(
            f"store {root} is writable by other users (mode {stat.S_IMODE(info.st_mode):o}); "
            f"run: chmod 700 {root}"
        )
    fstype = filesystem_type(root)
    if fstype in NETWORK_FILESYSTEMS:
        raise StoreError(
            f"store {root} is on a network filesystem ({fstype}) where file locks are unreliable; "
            "put the queue on a local disk"
        )


def filesystem_type(path: Path) -> str | None:
    """The type of the mount holding `path`, from /proc/self/mountinfo (Linux)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    target = str(path)
    best, best_type = -1, None
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        if len(fields) < 5 or not right:
            continue
        mount_point = fields[4].replace("\\040", " ")
        if target == mount_point or target.startswith(mount_point.rstrip("/") + "/") or mount_point == "/":
            if len(mount_point) > best:
                best, best_type = len(mount_point), right.split()[0]
    return best_type
