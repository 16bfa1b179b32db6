"""Pixel tests: the dashboard's main states at 80x24 and 160x48, against SVGs in tests/__snapshots__/.

The scenes (queue on disk, fixed clock, fixed paths, pretend workers) come from
`snapshot_fixtures`, which `screenshots/make_screenshots.py` uses too. After a
deliberate UI change: `pytest tests/ui/test_snapshots.py --snapshot-update`,
then look at every changed SVG before committing it. A mismatch writes
snapshot_report.html with both pictures side by side.

snap_compare runs the App itself (App.run in its own event loop), so these
tests are plain sync functions.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from .snapshot_fixtures import STATES, WORKSPACE, wipe

SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])


@pytest.fixture(autouse=True)
def scene_workspace(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A clean fixed workspace per test, and no host setting that changes colours."""
    monkeypatch.delenv("NO_COLOR", raising=False)  # read by App.__init__
    wipe(WORKSPACE)
    yield
    wipe(WORKSPACE)


def snap(snap_compare: Any, state: str, size: tuple[int, int]) -> bool:
    app, run_before = STATES[state].build()
    return snap_compare(app, terminal_size=size, run_before=run_before)


@SIZES
def test_idle(snap_compare: Any, size: tuple[int, int]) -> None:
    """Watch-only: answered, failed and queued tasks, nothing running."""
    assert snap(snap_compare, "idle", size)


@SIZES
def test_busy(snap_compare: Any, size: tuple[int, int]) -> None:
    """Three of our workers running (activity, tokens, cost, lease countdowns), one stale foreign claim."""
    assert snap(snap_compare, "busy", size)


@SIZES
def test_submit_form(snap_compare: Any, size: tuple[int, int]) -> None:
    """`n` with a prompt typed."""
    assert snap(snap_compare, "submit-form", size)


@SIZES
def test_break_confirm(snap_compare: Any, size: tuple[int, int]) -> None:
    """`b` on a claim whose lease ran out: holder, ages, lease, heartbeat, reason."""
    assert snap(snap_compare, "break-confirm", size)


@SIZES
def test_light_theme(snap_compare: Any, size: tuple[int, int]) -> None:
    """The idle state in lanes-light."""
    assert snap(snap_compare, "light-theme", size)
