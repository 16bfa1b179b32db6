"""Fixtures for the dashboard tests: a real store, stand-in agents, the real App under Pilot.

    async with dashboard(workspace, settings) as (app, pilot):
        ...

starts `LanesApp` with an embedded supervisor (or watch_only=True) on the
workspace's store and waits until the first full table is drawn. Conditions
on disk are awaited with `until` (bounded, never a bare sleep).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any, AsyncIterator, Callable

import pytest
from helpers.supervisor import make_settings, standins, until  # noqa: F401  (fixtures re-exported)

from lanes_tui.core.handoff import load_config
from lanes_tui.settings import Settings
from lanes_tui.ui.app import LanesApp
from lanes_tui.wiring import Queue, build_app, build_engine


@pytest.fixture
def ui_settings(workspace: Any, standins: Any) -> Settings:  # noqa: F811
    """Fast lanes, stand-in claude/codex first on PATH (STANDIN_MODE=ok unless a test changes it)."""
    return make_settings(workspace)


def make_app(workspace: Any, settings: Settings, *, watch_only: bool = False,
             now: Callable[[], datetime] | None = None, store: Any = None, **app_kwargs: Any) -> LanesApp:
    """Built as the dashboard is (lanes_tui.wiring). `store`: another backend than the workspace's
    file store (the memory backend's tests)."""
    queue = Queue(store or workspace.store(), settings, load_config(workspace.config), "test-queue")
    return build_app(build_engine(queue, watch_only=watch_only, operator="operator:test"), queue, now=now,
                     **app_kwargs)


@contextlib.asynccontextmanager
async def dashboard(workspace: Any, settings: Settings, *, size: tuple[int, int] = (120, 36),
                    **kwargs: Any) -> AsyncIterator[tuple[LanesApp, Any]]:
    app = make_app(workspace, settings, **kwargs)
    async with app.run_test(size=size) as pilot:
        await asyncio.wait_for(app.loaded.wait(), 20)
        await pilot.pause()
        yield app, pilot


async def shown(app: LanesApp, pilot: Any, predicate: Callable[[], Any], what: str = "", timeout: float = 20) -> Any:
    """Wait (bounded) until `predicate` holds, letting the app process messages in between."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if value:
            await pilot.pause()
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not shown within {timeout}s: {what or predicate}")
        await pilot.pause(0.02)
