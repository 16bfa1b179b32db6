"""Shared fixtures: a real workspace with a handoff.yaml and a store on disk."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from lanes_tui.storage.files.backend import FileBackend

LANES_TUI = [sys.executable, "-m", "lanes_tui"]
AGENT_LANES = shutil.which("agent-lanes") or str(Path(sys.executable).parent / "agent-lanes")


@dataclass
class Workspace:
    root: Path
    config: Path
    store_root: Path
    request: Path

    def store(self) -> FileBackend:
        return FileBackend(self.store_root)

    def submit(self, *, lane: str = "default", prompt: str = "do it", metadata: dict | None = None, name: str = "out") -> dict:
        return self.store().create_task(
            workspace_id="ws",
            correlation_id=lane,
            source_agent="test",
            lane=lane,
            workspace_root=self.root,
            request_path=self.request,
            response_path=self.root / f"{name}.md",
            prompt=prompt,
            metadata=metadata or {},
        )

    def run(self, *args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run the real `lanes-tui` CLI in this workspace."""
        return subprocess.run(
            [*LANES_TUI, "--config", str(self.config), *args],
            cwd=self.root, capture_output=True, text=True, input=input, timeout=timeout,
        )

    def run_agent_lanes(self, *args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run the real agent-lanes 0.1.1 CLI on the same queue."""
        return subprocess.run(
            [AGENT_LANES, "--config", str(self.config), *args],
            cwd=self.root, capture_output=True, text=True, input=input, timeout=timeout,
        )


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    (root / "handoff").mkdir(parents=True)
    config = root / "handoff" / "handoff.yaml"
    config.write_text('workspace_id: "ws"\nworkspace_root: ".."\nqueue_root: "state"\n', encoding="utf-8")
    request = root / "request.md"
    request.write_text("# request\n", encoding="utf-8")
    return Workspace(root=root, config=config, store_root=root / "handoff" / "state", request=request)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.delenv("LANES_TUI_DEBUG", raising=False)
    monkeypatch.delenv("LANES_TUI_HOST_ID", raising=False)  # a test names its simulated hosts itself
    # The dashboard remembers the theme picked in $XDG_STATE_HOME (lanes_tui/ui/dashboard_state.py):
    # a test's dashboard neither reads the real one (a remembered theme would change every
    # snapshot) nor writes it.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for this test session (tests/helpers/postgres.py)."""
    from helpers.postgres import REQUIRE_ENV, PostgresServer, unavailable

    reason = unavailable()
    if reason:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{reason} (and {REQUIRE_ENV} is set)")
        pytest.skip(reason)
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh empty database on the session's server."""
    return postgres_server.database()
