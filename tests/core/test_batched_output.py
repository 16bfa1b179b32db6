"""Batched output: every piece reaches the descriptor in order, whatever writev manages at once."""

from __future__ import annotations

from lanes_tui.core import batched_output
from lanes_tui.core.batched_output import write_batches


def test_writes_survive_short_and_non_blocking_writes(monkeypatch):
    written = []
    calls = iter([3, BlockingIOError(), 2])

    def fake_writev(fd, pieces):
        written.append(b"".join(pieces)[:3])
        return 3

    def fake_write(fd, data):
        step = next(calls)
        if isinstance(step, BaseException):
            raise step
        written.append(bytes(data[:step]))
        return step

    monkeypatch.setattr(batched_output.os, "writev", fake_writev)
    monkeypatch.setattr(batched_output.os, "write", fake_write)
    monkeypatch.setattr(batched_output.select, "select", lambda r, w, x: (r, w, x))
    write_batches(99, iter([[b"abc", memoryview(b"defgh")], ]))
    assert b"".join(written) == b"abcdefgh"
