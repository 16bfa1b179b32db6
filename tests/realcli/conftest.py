"""Fixtures for the real-CLI suite: see harness.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .harness import RealAgents, require_real_clis


@pytest.fixture
def agents(tmp_path: Path, workspace) -> RealAgents:
    require_real_clis()
    # Edits are the point of the edit preset: give the workspace a git repository, as users have.
    subprocess.run(["git", "init", "-q", str(workspace.root)], check=True)
    real = RealAgents(tmp_path, workspace)
    yield real
    real.close()
