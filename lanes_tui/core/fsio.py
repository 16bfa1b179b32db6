"""Durable, symlink-refusing file operations for the store.

Every path inside the store is opened relative to a directory descriptor with
O_NOFOLLOW, so a symlink planted inside the store (a task folder, response.json,
the lock file) makes the operation fail instead of writing through it (G10).
JSON writes are atomic: temp file in the same folder, fsync, rename, fsync of
the folder (G5); a failure at any step leaves the old file intact.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from typing import Any, Iterable, Iterator

from lanes_tui.core.errors import CorruptTask, StoreError

DIR_MODE = 0o700
FILE_MODE = 0o600
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def dumps_json(data: Any) -> str:
    """The agent-lanes on-disk JSON form: indent 2, sorted keys, ASCII, newline."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def describe_os_error(exc: OSError, what: str) -> str:
    if exc.errno == errno.ENOSPC:
        return f"{what}: no space left on device"
    if exc.errno == errno.ELOOP:
        return f"{what}: refusing to follow a symlink inside the store"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{what}: permission denied"
    return f"{what}: {exc.strerror or exc}"


DIR_OPEN_FLAGS = _DIR_FLAGS  # for callers that open a directory themselves (storage/files/folders.py)


@contextlib.contextmanager
def open_dir(path: str | os.PathLike[str], *, dir_fd: int | None = None) -> Iterator[int]:
    """Open a directory without following a symlink at its last component."""
    try:
        fd = os.open(path, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise StoreError(f"{os.fspath(path)} is not a real directory (symlink?)") from exc
        raise
    try:
        yield fd
    finally:
        os.close(fd)


def make_dir(name: str, *, dir_fd: int, exist_ok: bool = False) -> None:
    try:
        os.mkdir(name, DIR_MODE, dir_fd=dir_fd)
    except FileExistsError:
        if not exist_ok:
            raise


def read_file(name: str, *, dir_fd: int, max_bytes: int) -> bytes:
    """Read a regular file (no symlinks, no FIFOs) of at most max_bytes."""
    fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    try:
        info = os.fstat(fd)
        if not _is_regular(info.st_mode):
            raise CorruptTask(f"{name} is not a regular file")
        if info.st_size > max_bytes:
            raise CorruptTask(f"{name} is {info.st_size} bytes (limit {max_bytes})")
        chunks = []
        remaining = max_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            raise CorruptTask(f"{name} grew past {max_bytes} bytes")
        return data
    finally:
        os.close(fd)


def read_tail(name: str, *, dir_fd: int, max_bytes: int) -> tuple[bytes, int]:
    """Return (last max_bytes of the file, file size)."""
    fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    try:
        info = os.fstat(fd)
        if not _is_regular(info.st_mode):
            raise CorruptTask(f"{name} is not a regular file")
        start = max(0, info.st_size - max_bytes)
        return os.pread(fd, info.st_size - start, start), info.st_size
    finally:
        os.close(fd)


def write_atomic(name: str, text: str, *, dir_fd: int, mode: int = FILE_MODE, durable: bool = True) -> None:
    """Replace dir_fd/name atomically (and durably unless durable=False, for caches)."""
    write_atomic_chunks(name, (text.encode("utf-8"),), dir_fd=dir_fd, mode=mode, durable=durable)


def write_atomic_chunks(
    name: str, chunks: Iterable[bytes | memoryview], *, dir_fd: int, mode: int = FILE_MODE, durable: bool = True
) -> None:
    """write_atomic for binary content given in pieces (written in order, never joined in memory)."""
    tmp = f".{name}.{os.urandom(16).hex()}.tmp"  # secrets.token_hex(16), without importing secrets
    fd = os.open(
        tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd
    )
    try:
        try:
            for chunk in chunks:
                _write_all(fd, chunk)
            os.fchmod(fd, mode)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        # rename never follows a symlink at the destination: a planted link is replaced.
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    if durable:
        os.fsync(dir_fd)


def write_new_file(name: str, data: bytes, *, dir_fd: int) -> None:
    """Create a file that must not exist yet (O_EXCL), durably."""
    fd = os.open(
        name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE, dir_fd=dir_fd
    )
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def append_line(name: str, line: str, *, dir_fd: int, durable: bool = True) -> None:
    """Append one JSON line, durably unless `durable=False` (an audit trail that may lose its
    last lines to a power cut, never a torn one in the middle) (G6).

    A previous append may have been torn (disk full, crash) and left a line with
    no newline; we start on a fresh line so the torn fragment stays isolated and
    readers can skip it.
    """
    payload = line.encode("utf-8")
    fd = os.open(
        name, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE, dir_fd=dir_fd
    )
    try:
        info = os.fstat(fd)
        if not _is_regular(info.st_mode):
            raise CorruptTask(f"{name} is not a regular file")
        if info.st_size > 0:
            last = os.pread(fd, 1, info.st_size - 1)
            if last != b"\n":
                payload = b"\n" + payload
        try:
            _write_all(fd, payload)
            if durable:
                os.fsync(fd)
        except BaseException:
            # A failed append (disk full mid-line, EIO) is cut back off: the caller
            # reports the operation failed, so its event must not stay behind.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, info.st_size)
            raise
    finally:
        os.close(fd)


def append_text(name: str, text: str, *, dir_fd: int) -> None:
    """Append to a cache log in one write (not fsynced): whole lines even with concurrent appenders."""
    fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE, dir_fd=dir_fd)
    try:
        _write_all(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:  # pragma: no cover - os.write raises instead on Linux
            raise OSError(errno.EIO, "short write")
        view = view[written:]


def _is_regular(mode: int) -> bool:
    return stat.S_ISREG(mode)
