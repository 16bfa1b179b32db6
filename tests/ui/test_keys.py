"""Keys of the dashboard: the command palette, cap, pause, filter, and remapping through settings."""

from __future__ import annotations

import pytest
from textual.binding import Binding
from textual.command import CommandInput, CommandList, CommandPalette
from textual.widgets import Input, Static

import lanes_tui.ui.app as app_module
from lanes_tui.core.errors import ConfigError
from lanes_tui.settings import load_settings
from lanes_tui.ui.app import KEYS
from lanes_tui.ui.screens.help_screen import HelpScreen
from lanes_tui.ui.widgets.task_table import TaskTable

from .conftest import dashboard, shown
from .test_help_screen import help_rows


async def run_from_palette(app, pilot, label: str, *, type_it: bool = True) -> None:
    """ctrl+p, type `label` (or paste it: one search instead of one per key), wait until it is
    the first hit, enter."""
    await pilot.press("ctrl+p")
    palette = await shown(app, pilot, lambda: isinstance(app.screen, CommandPalette) and app.screen, "palette")
    if type_it:
        await pilot.press(*label)
    else:
        palette.query_one(CommandInput).value = label
    commands = palette.query_one(CommandList)

    def first_hit() -> str | None:
        if commands.option_count == 0 or commands.highlighted != 0:
            return None
        return getattr(commands.get_option_at_index(0), "hit").text

    await shown(app, pilot, lambda: first_hit() == label, f"{label!r} the first hit in the palette")
    await pilot.press("enter")
    await shown(app, pilot, lambda: not isinstance(app.screen, CommandPalette), "palette closed")


# --- the command palette ----------------------------------------------------------------


async def test_every_binding_is_reachable_from_the_command_palette(workspace, ui_settings, monkeypatch):
    ran: list[str] = []
    # Record what each palette entry would run instead of running it (quit, submit...).
    monkeypatch.setattr(app_module, "_palette_callback", lambda app, action: lambda: ran.append(action))
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        for count, (_id, _key, label, action, _show) in enumerate(KEYS, 1):
            await run_from_palette(app, pilot, label, type_it=False)
            await shown(app, pilot, lambda: len(ran) == count, f"palette ran {label!r}")
            assert ran[-1] == action, label
        assert len(app.screen_stack) == 1


async def test_palette_commands_run_their_actions(workspace, ui_settings):
    async with dashboard(workspace, ui_settings) as (app, pilot):
        cap = app.engine.global_cap
        await run_from_palette(app, pilot, "More workers")
        await shown(app, pilot, lambda: app.engine.global_cap == cap + 1, "cap raised by one")
        await run_from_palette(app, pilot, "Fewer workers")
        await shown(app, pilot, lambda: app.engine.global_cap == cap, "cap back")
        await run_from_palette(app, pilot, "Help")
        await shown(app, pilot, lambda: isinstance(app.screen, HelpScreen), "help opened from the palette")
        await pilot.press("escape")
        await shown(app, pilot, lambda: len(app.screen_stack) == 1, "help closed")


# --- cap and pause ----------------------------------------------------------------------


async def test_plus_and_minus_change_the_cap_never_below_one(workspace, ui_settings):
    async with dashboard(workspace, ui_settings) as (app, pilot):
        supervisor = app.engine.supervisor
        start = supervisor.global_cap
        await pilot.press("plus")
        assert supervisor.global_cap == start + 1 and app.engine.totals().cap == start + 1
        await pilot.press(*["minus"] * (start + 3))
        assert supervisor.global_cap == 1
        await pilot.press("plus")
        assert supervisor.global_cap == 2


async def test_p_pauses_and_resumes_the_selected_tasks_lane(workspace, ui_settings):
    store = workspace.store()
    first = workspace.submit(lane="alpha", prompt="first", name="a1")["id"]
    async with dashboard(workspace, ui_settings) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: table.row(first) and table.row(first).state == "completed", "a1 completed")
        assert table.selected_id == first
        await pilot.press("p")
        assert app.engine.paused_lanes == frozenset({"alpha"})
        await shown(app, pilot, lambda: [lane.paused for lane in app.engine.lanes() if lane.name == "alpha"] == [True],
                    "lane shown paused")
        held = workspace.submit(lane="alpha", prompt="held back", name="a2")["id"]
        other = workspace.submit(lane="beta", prompt="goes ahead", name="b1")["id"]
        await shown(app, pilot, lambda: table.row(other) and table.row(other).state == "completed",
                    "the other lane's task ran")
        assert store.read_task(held)["state"] == "queued"
        assert table.row(held).state == "queued"
        assert table.selected_id == first  # still on lane alpha
        await pilot.press("p")
        assert app.engine.paused_lanes == frozenset()
        await shown(app, pilot, lambda: table.row(held) and table.row(held).state == "completed",
                    "the held task ran after resuming")
    assert store.read_task(held)["state"] == "completed"


# --- the filter -------------------------------------------------------------------------


async def filter_by(app, pilot, text: str, *, type_it: bool = False) -> list[str]:
    """`/`, the filter text (typed, or pasted: a key press costs ~0.15 s under Pilot), enter."""
    await pilot.press("slash")
    box = app.query_one("#filter", Input)
    await shown(app, pilot, lambda: box.has_focus, "filter input focused")
    if type_it:
        box.value = ""
        await pilot.press(*text)
    else:
        box.value = text
    await pilot.press("enter")
    await shown(app, pilot, lambda: app.query_one(TaskTable).filter.text == text.strip(), f"filter {text!r} applied")
    return app.query_one(TaskTable).shown_ids


async def test_filter_narrows_the_table_and_escape_clears_it(workspace, ui_settings):
    store = workspace.store()
    queued_x = workspace.submit(lane="x", prompt="one", name="o1")["id"]
    claimed_y = workspace.submit(lane="y", prompt="two", name="o2")["id"]
    failed_x = workspace.submit(lane="x", prompt="three", name="o3")["id"]
    store.claim(claimed_y, owner="robot-42", lease_seconds=600)
    store.cancel(failed_x, by="operator:test", reason="not needed")
    everything = {queued_x, claimed_y, failed_x}
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: set(table.shown_ids) == everything, "three tasks")
        assert await filter_by(app, pilot, "state:failed", type_it=True) == [failed_x]
        assert sorted(await filter_by(app, pilot, "lane:x")) == sorted([queued_x, failed_x])
        assert await filter_by(app, pilot, "ROBOT") == [claimed_y]  # free words: case-insensitive, any field
        assert await filter_by(app, pilot, "lane:x state:queued") == [queued_x]
        assert await filter_by(app, pilot, "lane:nowhere") == []
        await pilot.press("slash", "escape")
        await shown(app, pilot, lambda: set(table.shown_ids) == everything, "escape cleared the filter")
        box = app.query_one("#filter", Input)
        assert not box.display and box.value == "" and table.has_focus


async def test_the_filter_applies_as_you_type_by_prefix_and_says_what_it_did_not_understand(workspace, ui_settings):
    default = workspace.submit(lane="default", prompt="one", name="d1")["id"]
    review = workspace.submit(lane="review", prompt="two", name="r1", metadata={"model_class": "sonnet"})["id"]
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: set(table.shown_ids) == {default, review}, "two tasks")
        await pilot.press("slash", *"lane:def")  # no enter: each key applies
        await shown(app, pilot, lambda: table.shown_ids == [default], "lane:def is the lane default")
        box = app.query_one("#filter", Input)
        assert box.has_focus  # further typing goes to the filter, not to the dashboard's keys
        note = app.query_one("#filter-note", Static)
        box.value = "state:bogus colour:red"
        await shown(app, pilot, lambda: note.display, "the error line")
        shown_note = str(note.visual)
        assert "no state 'bogus'" in shown_note and "unknown filter key 'colour'" in shown_note
        assert set(table.shown_ids) == {default, review}  # what was not understood narrows nothing
        box.value = "model:son state:que"
        await shown(app, pilot, lambda: table.shown_ids == [review] and not note.display, "model and state prefixes")
        await pilot.press("enter")
        await shown(app, pilot, lambda: table.has_focus, "enter: to the table, the filter kept")
        assert table.shown_ids == [review] and box.display
        await pilot.press("escape")  # on the table: clears the filter
        await shown(app, pilot, lambda: set(table.shown_ids) == {default, review}, "escape on the table cleared it")
        assert not box.display and box.value == ""


# --- remapping --------------------------------------------------------------------------


def write_settings_keys(workspace, body: str):
    path = workspace.root / "keys.yaml"
    path.write_text(body, encoding="utf-8")
    return path


async def test_settings_keys_remap_submit(workspace, ui_settings):
    pytest.importorskip("lanes_tui.ui.screens.submit_modal")
    settings = load_settings(write_settings_keys(workspace, 'keys: {submit: "ctrl+n"}\n'), config_dir=None)
    assert dict(settings.keys) == {"submit": "ctrl+n"}
    # As `lanes-tui dashboard` does: the settings' keys become the App's keymap.
    async with dashboard(workspace, ui_settings, watch_only=True, keymap=dict(settings.keys)) as (app, pilot):
        await pilot.press("ctrl+n")
        await shown(app, pilot, lambda: app.screen_stack[-1].__class__.__name__ == "SubmitModal", "submit form")
        await pilot.press("escape")
        await shown(app, pilot, lambda: len(app.screen_stack) == 1, "submit form closed")


async def test_help_shows_the_remapped_key_and_the_old_key_is_free(workspace, ui_settings):
    async with dashboard(workspace, ui_settings, watch_only=True, keymap={"submit": "ctrl+n"}) as (app, pilot):
        await pilot.press("n")  # no longer bound: nothing opens
        await pilot.press("question_mark")
        screen = await shown(app, pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen, "help")
        assert len(app.screen_stack) == 2  # the dashboard and the help, no submit form between
        rows = {what: key for key, what in help_rows(screen)}
        submit_help = app_module.HELP_TEXT["submit"]
        assert rows[submit_help] == app.get_key_display(Binding("ctrl+n", "submit"))
        assert rows[app_module.HELP_TEXT["quit"]] == "q"  # the others keep their keys


@pytest.mark.parametrize("body, where", [
    ('keys: {submit: "ctrl+n; rm -rf ~"}\n', "keys.submit"),
    ("keys: {submit: 5}\n", "keys.submit"),
    ('keys: {"Bad Id": "x"}\n', "keys"),
    ("keys: [submit]\n", "keys"),
])
def test_bad_keys_in_settings_are_one_line_config_errors(workspace, body, where):
    path = write_settings_keys(workspace, body)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, config_dir=None)
    message = str(caught.value)
    assert "\n" not in message and where in message and str(path) in message
