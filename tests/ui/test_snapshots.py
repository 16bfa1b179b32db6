"""Pixel tests: the dashboard's main states at 80x24 and 160x48 (the work views also at 120x30), against SVGs in tests/__snapshots__/.

The scenes (queue on disk, fixed clock, fixed paths, pretend workers) come from
`snapshot_fixtures`, which `screenshots/make_screenshots.py` uses too. After a
deliberate UI change: `pytest tests/ui/test_snapshots.py --snapshot-update`,
then look at every changed SVG before committing it. A mismatch writes
snapshot_report.html with both pictures side by side.

snap_compare runs the App itself (App.run in its own event loop), so these
tests are plain sync functions.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import pytest

from .snapshot_fixtures import STATES

SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
# The work views (issue 12) at the three sizes a terminal is usually at.
WORK_SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 30), (160, 45)], ids=["80x24", "120x30", "160x45"])


@pytest.fixture(autouse=True)
def no_colour_setting(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No host setting that changes colours."""
    monkeypatch.delenv("NO_COLOR", raising=False)  # read by App.__init__
    yield


@pytest.fixture
def plain_git(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No host or user git config (diff.noprefix, core.abbrev...) and no GIT_* variable (a hook
    running the tests sets GIT_DIR) reaches the git the dashboard runs: the diff is git's own."""
    for key in [key for key in os.environ if key.startswith("GIT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    yield


@pytest.fixture
def snap(snap_compare: Any, tmp_path: Any) -> Any:
    def take(state: str, size: tuple[int, int]) -> bool:
        app, run_before = STATES[state].build(tmp_path)  # a workspace of this test's own
        return snap_compare(app, terminal_size=size, run_before=run_before)
    return take


@SIZES
def test_idle(snap: Any, size: tuple[int, int]) -> None:
    """Watch-only: answered, failed and queued tasks, nothing running."""
    assert snap("idle", size)


@SIZES
def test_busy(snap: Any, size: tuple[int, int]) -> None:
    """Three of our workers running (activity, tokens, cost, lease countdowns), one stale foreign claim."""
    assert snap("busy", size)


@SIZES
def test_submit_form(snap: Any, size: tuple[int, int]) -> None:
    """`n` with a prompt typed."""
    assert snap("submit-form", size)


@SIZES
def test_break_confirm(snap: Any, size: tuple[int, int]) -> None:
    """`b` on a claim whose lease ran out: holder, ages, lease, heartbeat, reason."""
    assert snap("break-confirm", size)


@SIZES
def test_light_theme(snap: Any, size: tuple[int, int]) -> None:
    """The idle state in lanes-light."""
    assert snap("light-theme", size)


@WORK_SIZES
def test_answer(snap: Any, size: tuple[int, int]) -> None:
    """A completed task selected: its answer rendered as Markdown in the detail pane."""
    assert snap("answer", size)


@WORK_SIZES
def test_task_screen(snap: Any, size: tuple[int, int]) -> None:
    """`enter` on it: the task in full, the answer, the transcript from its attempt log."""
    assert snap("task-screen", size)


@WORK_SIZES
def test_transcript(snap: Any, size: tuple[int, int]) -> None:
    """`l` on it: the transcript (a whole message, folded thinking, an edit as a diff, a folded result)."""
    assert snap("transcript", size)


@WORK_SIZES
def test_diff(snap: Any, plain_git: None, size: tuple[int, int]) -> None:
    """`d` on it: its branch's two commits as one coloured diff from the base (a real repository)."""
    assert snap("diff", size)


@WORK_SIZES
def test_filter(snap: Any, size: tuple[int, int]) -> None:
    """`/` with a filter typed: the failed and running build tasks, and the key it did not understand."""
    assert snap("filter", size)
