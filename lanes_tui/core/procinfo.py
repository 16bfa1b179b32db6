"""Process identity on this host: pid plus start time, because pids are reused.

Recovery kills a leftover worker group only when its leader's start time still
matches what was recorded (G9); a decoy that reuses the pid is left alone.
"""

from __future__ import annotations

import os
import signal


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22)."""
    return _int_field(pid, 19)


def is_same_process(pid: int, recorded_start: int | None) -> bool:
    return recorded_start is not None and start_time(pid) == recorded_start


def is_running(pid: int, recorded_start: int | None) -> bool:
    """The same process, and not a zombie: an exited process its parent has not reaped yet
    holds nothing (a lock owner, an agent), though its pid and start time are still there."""
    fields = _stat_fields(pid)
    if not fields or fields[0] in (b"Z", b"X"):
        return False
    return is_same_process(pid, recorded_start)


def parent_of(pid: int) -> int | None:
    """The parent's pid (/proc/<pid>/stat field 4); None when the process is gone."""
    return _int_field(pid, 1)


def command_name(pid: int) -> str | None:
    """The kernel's name for the process (/proc/<pid>/stat field 2, at most 15 bytes)."""
    data = _stat(pid)
    return None if data is None else data[data.find(b"(") + 1:data.rfind(b")")].decode("utf-8", "replace")


def _stat(pid: int) -> bytes | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _stat_fields(pid: int) -> list[bytes] | None:
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    data = _stat(pid)
    return None if data is None else data[data.rfind(b")") + 2:].split()  # fields from 3 (state) on


def _int_field(pid: int, index: int) -> int | None:
    """Field `index` of _stat_fields as a number; None when the process is gone."""
    fields = _stat_fields(pid)
    try:
        return int(fields[index]) if fields else None
    except (IndexError, ValueError):
        return None


def group_members(pgid: int) -> list[tuple[int, str, int]]:
    """(pid, state, ppid) of every process in the group, from /proc."""
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields(int(name))
        if fields is None or len(fields) < 3:
            continue
        try:
            if int(fields[2]) == pgid:
                members.append((int(name), fields[0].decode(), int(fields[1])))
        except ValueError:
            continue
    return members


def group_alive(pgid: int) -> bool:
    """Whether a live (non-zombie) process is left in the group.

    Zombies are ignored: an orphan reparented to a PID 1 that never reaps
    would otherwise look alive forever. Zombie orphans adopted by us (as a
    subreaper) are reaped on the way; the leader never is (asyncio reaps it).
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    alive = False
    me = os.getpid()
    for pid, state, ppid in group_members(pgid):
        if state == "Z":
            # Reap adopted orphans only: the leader is asyncio's child, and reaping
            # it here would rob asyncio of its exit status.
            if ppid == me and pid != pgid:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
            continue
        alive = True
    return alive


def signal_group(pgid: int, sig: int) -> bool:
    """Send sig to the whole group; False when the group is already gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux PR_SET_CHILD_SUBREAPER) so they can be reaped.

    In a container our process may be PID 1's child with nobody reaping
    orphans; as a subreaper, grandchildren whose worker died become ours.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER = 36
    except (OSError, AttributeError):
        return False


SIGTERM, SIGKILL = signal.SIGTERM, signal.SIGKILL


def processes_inside(folders: list[str]) -> dict[str, list[int]]:
    """For each folder, the live processes whose working directory is in it (Linux /proc; the
    processes of other users are seen only by root). A folder nobody works in maps to []."""
    found: dict[str, list[int]] = {folder: [] for folder in folders}
    prefixes = [(folder, folder.rstrip("/") + "/") for folder in folders]
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{name}/cwd")
        except OSError:
            continue  # gone, or not ours to look at
        for folder, prefix in prefixes:
            if cwd == folder or cwd.startswith(prefix):
                fields = _stat_fields(int(name))
                if fields and fields[0] not in (b"Z", b"X"):
                    found[folder].append(int(name))
    return found


def children_with_environ(parent: int, entry: str) -> list[int]:
    """The live children of `parent` whose environment, as they were started with it, holds
    `entry` (`NAME=value`): a worker found without having been told its pid."""
    wanted = entry.encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or parent_of(int(name)) != parent:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                environ = handle.read().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        fields = _stat_fields(int(name))
        if wanted in environ and fields and fields[0] not in (b"Z", b"X"):
            found.append(int(name))
    return found
