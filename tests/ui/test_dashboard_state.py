"""The theme is remembered: real files under XDG_STATE_HOME (a tmp dir), a real App under Pilot.

tests/conftest.py points XDG_STATE_HOME at a fresh temporary folder for every test; the tests
here point it at a folder of their own to look at what is written there.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from textual.color import Color
from textual.command import CommandInput, CommandList, CommandPalette

from lanes_tui.core.errors import StoreError
from lanes_tui.ui.dashboard_state import (
    MAX_STATE_BYTES,
    DashboardState,
    read_state,
    save_theme,
    state_dir,
    state_path,
)
from lanes_tui.ui.themes import FALLBACK_DARK, FALLBACK_LIGHT

from .conftest import dashboard, shown

# --- where the file is --------------------------------------------------------------------


def test_state_dir_follows_xdg_state_home_and_ignores_a_relative_one():
    assert state_dir({"XDG_STATE_HOME": "/x/state", "HOME": "/h"}) == Path("/x/state/lanes-tui")
    assert state_dir({"HOME": "/h"}) == Path("/h/.local/state/lanes-tui")
    assert state_dir({"XDG_STATE_HOME": "", "HOME": "/h"}) == Path("/h/.local/state/lanes-tui")
    # The XDG spec says a relative XDG_STATE_HOME is invalid and to be ignored.
    assert state_dir({"XDG_STATE_HOME": "rel/state", "HOME": "/h"}) == Path("/h/.local/state/lanes-tui")
    assert state_path({"XDG_STATE_HOME": "/x/state"}) == Path("/x/state/lanes-tui/dashboard.json")


def test_tests_never_see_the_real_state_dir(tmp_path_factory):
    # tests/conftest.py: every test's dashboard remembers its theme in a temporary folder.
    home_state = Path(os.path.expanduser("~")) / ".local" / "state"
    assert Path(os.environ["XDG_STATE_HOME"]).is_relative_to(tmp_path_factory.getbasetemp())
    assert not state_path().is_relative_to(home_state)


# --- reading and writing ------------------------------------------------------------------


def test_save_then_read_round_trips_atomically_and_privately(tmp_path):
    path = tmp_path / "state" / "lanes-tui" / "dashboard.json"
    assert read_state(path) == (DashboardState(), None)  # nothing remembered yet: no problem either
    save_theme(path, FALLBACK_LIGHT)
    assert read_state(path) == (DashboardState(theme=FALLBACK_LIGHT), None)
    assert json.loads(path.read_text(encoding="utf-8")) == {"theme": FALLBACK_LIGHT}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    save_theme(path, "nord")
    assert read_state(path)[0].theme == "nord"
    assert os.listdir(path.parent) == ["dashboard.json"]  # no temp file left behind


def test_save_keeps_keys_it_does_not_know(tmp_path):
    path = tmp_path / "dashboard.json"
    path.write_text('{"theme": "lanes-dark", "later": {"x": 1}}', encoding="utf-8")
    save_theme(path, FALLBACK_LIGHT)
    assert json.loads(path.read_text(encoding="utf-8")) == {"theme": FALLBACK_LIGHT, "later": {"x": 1}}


def test_save_replaces_a_corrupt_file(tmp_path):
    path = tmp_path / "dashboard.json"
    path.write_text("{not json", encoding="utf-8")
    save_theme(path, FALLBACK_LIGHT)
    assert read_state(path) == (DashboardState(theme=FALLBACK_LIGHT), None)


@pytest.mark.parametrize("content, why", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe garbage", "not valid JSON"),
    (b"", "not valid JSON"),
    (b'["lanes-light"]', "not a JSON object"),
    (b'{"theme": 5}', "'theme' is not a theme name"),
    (b'{"theme": ""}', "'theme' is not a theme name"),
    (b'{"theme": "' + b"x" * 200 + b'"}', "'theme' is not a theme name"),
    (b'{"theme": "lanes-light", "pad": "' + b"x" * MAX_STATE_BYTES + b'"}', "limit"),
])
def test_a_bad_file_is_nothing_remembered_with_a_one_line_reason(tmp_path, content, why):
    path = tmp_path / "dashboard.json"
    path.write_bytes(content)
    state, problem = read_state(path)
    assert state == DashboardState()
    assert problem is not None and why in problem and "\n" not in problem
    assert str(path) in problem or path.name in problem


def test_deeply_nested_json_under_the_size_cap_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "dashboard.json"
    path.write_bytes(b"[" * (MAX_STATE_BYTES - 1))
    state, problem = read_state(path)
    assert state == DashboardState() and problem is not None and "not valid JSON" in problem


def test_a_folder_or_a_fifo_where_the_file_should_be(tmp_path):
    folder = tmp_path / "dashboard.json"
    folder.mkdir()
    state, problem = read_state(folder)
    assert state == DashboardState() and problem is not None and "\n" not in problem
    fifo = tmp_path / "fifo" / "dashboard.json"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    state, problem = read_state(fifo)  # returns at once: never blocks waiting for a writer
    assert state == DashboardState() and problem is not None and "not a regular file" in problem


def test_a_symlinked_state_folder_is_refused(tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir()
    (real / "dashboard.json").write_text('{"theme": "lanes-light"}', encoding="utf-8")
    link = tmp_path / "lanes-tui"
    link.symlink_to(real, target_is_directory=True)
    state, problem = read_state(link / "dashboard.json")
    assert state == DashboardState() and problem is not None and "symlink" in problem
    with pytest.raises(StoreError):
        save_theme(link / "dashboard.json", FALLBACK_DARK)
    assert json.loads((real / "dashboard.json").read_text(encoding="utf-8")) == {"theme": "lanes-light"}


# --- the dashboard ------------------------------------------------------------------------


def toasts(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def pick_theme(app, pilot, name: str) -> None:
    """`t`, then the theme picked from Textual's theme picker, as an operator does."""
    await pilot.press("t")
    palette = await shown(app, pilot, lambda: isinstance(app.screen, CommandPalette) and app.screen, "theme picker")
    palette.query_one(CommandInput).value = name
    commands = palette.query_one(CommandList)

    def first_hit() -> str | None:
        if commands.option_count == 0 or commands.highlighted != 0:
            return None
        return getattr(commands.get_option_at_index(0), "hit").text

    await shown(app, pilot, lambda: first_hit() == name, f"{name!r} the first theme offered")
    await pilot.press("enter")
    await shown(app, pilot, lambda: app.theme == name, f"{name} chosen")


@pytest.fixture
def state_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "xdg-state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home / "lanes-tui" / "dashboard.json"


async def test_the_theme_picked_is_the_theme_of_the_next_run(workspace, ui_settings, state_home):
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        assert app.theme == FALLBACK_DARK
        assert not state_home.exists()  # starting on the default writes nothing
        await pick_theme(app, pilot, FALLBACK_LIGHT)
        assert json.loads(state_home.read_text(encoding="utf-8")) == {"theme": FALLBACK_LIGHT}
        assert not [t for t in toasts(app) if "theme" in t]
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        assert app.theme == FALLBACK_LIGHT and app.current_theme.dark is False
        assert app.table.styles.background == Color.parse(app.current_theme.surface)  # really drawn light
        assert not [t for t in toasts(app) if "theme" in t]
        app.theme = "nord"  # any way the theme changes counts, not only the picker
        await pilot.pause()
    assert read_state(state_home)[0].theme == "nord"
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        assert app.theme == "nord"
        await pick_theme(app, pilot, FALLBACK_DARK)  # back to the default is remembered too
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        assert app.theme == FALLBACK_DARK
    assert read_state(state_home)[0].theme == FALLBACK_DARK


@pytest.mark.parametrize("content", ["{not json", '{"theme": 5}', "[]"])
async def test_a_corrupt_state_file_starts_on_the_default_with_a_warning(workspace, ui_settings, state_home,
                                                                        content):
    state_home.parent.mkdir(parents=True)
    state_home.write_text(content, encoding="utf-8")
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        assert app.theme == FALLBACK_DARK
        warnings = [n for n in app._notifications if "theme not restored" in str(n.message)]
        assert len(warnings) == 1 and warnings[0].severity == "warning"
        assert str(state_home) in str(warnings[0].message)
        # Still works, and the next pick mends the file.
        await pick_theme(app, pilot, FALLBACK_LIGHT)
    assert read_state(state_home) == (DashboardState(theme=FALLBACK_LIGHT), None)


async def test_an_unknown_theme_name_starts_on_the_default(workspace, ui_settings, state_home):
    state_home.parent.mkdir(parents=True)
    # A theme from a user file since deleted, with markup in its name: shown as the characters it is.
    state_home.write_text(json.dumps({"theme": "[bold red]gone[/]"}), encoding="utf-8")
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        assert app.theme == FALLBACK_DARK
        warnings = [n for n in app._notifications if "theme not restored" in str(n.message)]
        assert len(warnings) == 1 and warnings[0].severity == "warning" and warnings[0].markup is False
        assert "'[bold red]gone[/]'" in str(warnings[0].message) and str(state_home) in str(warnings[0].message)
    # Left as it was: not rewritten just for starting on the default.
    assert json.loads(state_home.read_text(encoding="utf-8")) == {"theme": "[bold red]gone[/]"}


async def test_a_state_file_that_cannot_be_written_costs_a_warning_only(workspace, ui_settings, tmp_path,
                                                                       monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state folder would go\n", encoding="utf-8")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        assert app.theme == FALLBACK_DARK
        # Nothing can be read from under a file either: said once at the start.
        assert len([t for t in toasts(app) if "theme not restored" in t and str(blocker) in t]) == 1
        await pick_theme(app, pilot, FALLBACK_LIGHT)
        await shown(app, pilot, lambda: any("theme not remembered" in t for t in toasts(app)), "a warning")
        assert app.is_running and app.theme == FALLBACK_LIGHT
        # One warning per change, not a crash and not a loop.
        assert len([t for t in toasts(app) if "theme not remembered" in t]) == 1
    assert blocker.read_text(encoding="utf-8") == "a file where the state folder would go\n"
