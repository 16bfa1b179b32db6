"""Big outputs as batches of byte pieces, written with one writev each (never joined in memory).

`list --json` at 10,000 tasks is 20 MB or more, mostly pieces of the listing cache spliced
with fresh numbers; copying them into one string would cost more than producing them.
"""

from __future__ import annotations

import contextlib
import os
import select
import stat
from typing import Iterator

Batches = Iterator[list[bytes | memoryview]]  # pieces, in batches for os.writev (under IOV_MAX each)
_PIPE_SIZE = 1 << 20  # the default /proc/sys/fs/pipe-max-size


def joined(batches: Batches) -> bytes:
    return b"".join(piece for batch in batches for piece in batch)


def write_batches(fd: int, batches: Batches) -> None:
    """Write the pieces to fd in order, one writev per batch: the output is never copied in memory.

    A pipe is first grown to 1 MB (from 64 KB) when the system allows: 20 MB
    then go through in a few dozen wake-ups of the reader instead of hundreds.
    """
    with contextlib.suppress(OSError, AttributeError):
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            import fcntl

            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
    for batch in batches:
        try:
            written = os.writev(fd, batch)
        except BlockingIOError:  # a non-blocking descriptor (shared with another process)
            written = 0
        if written < sum(map(len, batch)):  # interrupted, or non-blocking: finish piece by piece
            rest = memoryview(b"".join(batch))[written:]
            while rest:
                try:
                    rest = rest[os.write(fd, rest):]
                except BlockingIOError:
                    select.select([], [fd], [])
