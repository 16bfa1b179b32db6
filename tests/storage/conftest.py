"""Fixtures of the storage tests: every backend behind the seam, on one hand-moved clock."""

from __future__ import annotations

import pytest
from helpers.clock import ManualClock

from lanes_tui.storage.files.backend import FileBackend
from lanes_tui.storage.memory import MemoryBackend

BACKENDS = ("files", "memory")


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture(params=BACKENDS)
def store(request, workspace, clock):
    if request.param == "files":
        return FileBackend(workspace.store_root, clock=clock)
    return MemoryBackend(clock=clock)
