"""The `?` help on a small terminal: wrapped at word boundaries, scrolled by keys, nothing lost.

What is checked is what is on screen: the screen's lines as the compositor draws them, cut
to the region each help cell occupies once the keys have scrolled it into view.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Static

from lanes_tui.ui.app import HELP_TEXT, KEYS
from lanes_tui.ui.screens.help_screen import CLOSE_HINT, FOOTER_ENTRIES, HelpScreen

from .conftest import dashboard, shown

SMALL = (80, 24)


def plain(static: Static) -> str:
    return str(static.visual)


def help_rows(screen: HelpScreen, kind: str = "help-entry") -> list[tuple[str, str]]:
    """(key, what it does) of each row of the help, as its two Statics hold them."""
    rows = []
    for row in screen.query(f".{kind}"):
        key, what = row.query_one(".help-key", Static), row.query_one(".help-what", Static)
        rows.append((plain(key), plain(what)))
    return rows


def screen_text(app, region: Region) -> list[str]:
    """The characters on screen inside `region`, one string per line."""
    lines = app.screen._compositor.render_strips()
    return [lines[y].crop(region.x, region.right).text for y in range(region.y, region.bottom)]


def fully_visible(view: VerticalScroll, widget: Widget) -> bool:
    return view.scrollable_content_region.contains_region(widget.region)


async def scroll_into_view(app, pilot, view: VerticalScroll, widget: Widget, key: str = "down") -> None:
    """Press `key` until `widget` is wholly on screen; each press must scroll, or it is unreachable."""
    while not fully_visible(view, widget):
        before = view.scroll_y
        await pilot.press(key)
        await shown(app, pilot, lambda: view.scroll_y != before or view.scroll_y >= view.max_scroll_y, "scrolled")
        assert view.scroll_y != before, f"{key} does not scroll to {widget!r} (stuck at {before})"


def words_on_screen(app, static: Static) -> list[str]:
    return " ".join(screen_text(app, static.content_region)).split()


async def open_help(app, pilot) -> tuple[HelpScreen, VerticalScroll]:
    await pilot.press("question_mark")
    screen = await shown(app, pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen, "HelpScreen")
    view = screen.query_one("#help", VerticalScroll)
    await shown(app, pilot, lambda: view.size.height > 0 and app.focused is view, "the help laid out and focused")
    return screen, view


async def test_at_80x24_every_entry_is_whole_wrapped_at_words_and_reachable_by_keys(workspace, ui_settings):
    async with dashboard(workspace, ui_settings, watch_only=True, size=SMALL) as (app, pilot):
        entries = app.key_help()
        screen, view = await open_help(app, pilot)
        assert help_rows(screen) == entries  # every entry, in order, whole
        assert view.max_scroll_y > 0, "at 80x24 the help is taller than the screen (else this test proves little)"
        assert view.region.right <= SMALL[0] and view.region.bottom <= SMALL[1]
        rows = list(screen.query(".help-entry"))
        wrapped = 0
        for row, (keys, what) in zip(rows, entries, strict=True):
            await scroll_into_view(app, pilot, view, row)
            what_cell = row.query_one(".help-what", Static)
            key_cell = row.query_one(".help-key", Static)
            # What the screen shows for this row, joined line by line: the same words as the
            # description, so no word was cut in two at a line end and nothing was lost at the
            # right edge or the bottom.
            assert words_on_screen(app, what_cell) == what.split(), keys
            assert " ".join(screen_text(app, key_cell.content_region)).split() == keys.split()
            lines = [line.rstrip() for line in screen_text(app, what_cell.content_region)]
            assert all(lines) and max(map(len, lines)) <= what_cell.content_region.width
            wrapped += len(lines) > 1
        assert wrapped >= 3, "several descriptions are longer than one line at 80 columns"
        # The footer too, by PageDown, and Home goes back to the top.
        for row, (keys, what) in zip(screen.query(".help-more"), FOOTER_ENTRIES, strict=True):
            await scroll_into_view(app, pilot, view, row, key="pagedown")
            assert words_on_screen(app, row.query_one(".help-what", Static)) == what.split()
            assert screen_text(app, row.query_one(".help-key", Static).content_region)[0].strip() == keys
        close = screen.query_one("#help-close", Static)
        await scroll_into_view(app, pilot, view, close, key="pagedown")
        assert screen_text(app, close.content_region)[0].strip() == CLOSE_HINT
        await pilot.press("home")
        await shown(app, pilot, lambda: view.scroll_y == 0, "back to the top")
        title = screen.query_one("#help-title", Static)
        assert fully_visible(view, title) and screen_text(app, title.content_region)[0].strip() == "Keys"
        await pilot.press("escape")
        await shown(app, pilot, lambda: len(app.screen_stack) == 1, "help closed")


async def test_keys_show_as_themselves_and_a_big_terminal_needs_no_scrolling(workspace, ui_settings):
    keymap = {"diff": "left_square_bracket", "mark": "ctrl+space"}
    async with dashboard(workspace, ui_settings, watch_only=True, keymap=keymap, size=(160, 48)) as (app, pilot):
        screen, view = await open_help(app, pilot)
        assert view.max_scroll_y == 0  # everything fits: no scrollbar needed
        rows = dict((what, key) for key, what in help_rows(screen))
        assert rows[HELP_TEXT["diff"]] == "["  # not read as the start of markup
        assert rows[HELP_TEXT["mark"]] == app.get_key_display(Binding("ctrl+space", "mark"))
        diff_row = next(row for row in screen.query(".help-entry")
                        if plain(row.query_one(".help-what", Static)) == HELP_TEXT["diff"])
        assert screen_text(app, diff_row.query_one(".help-key", Static).content_region)[0].strip() == "["
        assert [what for _, what in help_rows(screen)] == [HELP_TEXT[binding_id] for binding_id, *_ in KEYS]
