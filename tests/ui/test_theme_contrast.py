"""The task table reads in every shipped theme: WCAG contrast of the colours actually drawn.

The dashboard runs (Pilot) on the busy snapshot scene, which has a task in every state, a
foreign claim whose lease ran out (attention), and muted owners, vendors and reasons. Each row
is selected in turn, with the table focused and with the filter box focused, and the selected
line is read back from the screen's compositor: every visible character's foreground against
its background, as Rich styles after theme resolution, so whatever decides the colours (the
theme files, lanes.tcss, the table's own CSS and rendering) is what is measured. Text must be
4.5:1 or more (WCAG 2 AA for normal text: a bold terminal cell is not "large text").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.color import Color as RichColor
from rich.segment import Segment
from textual.color import Color
from textual.strip import Strip
from textual.theme import Theme

from lanes_tui.ui.themes import (
    BUILTIN_THEME_DIR,
    FALLBACK_LIGHT,
    LANES_VARIABLES,
    lanes_variable_defaults,
    load_themes,
)

from .conftest import shown
from .snapshot_fixtures import STATES

MIN_RATIO = 4.5
SIZE = (160, 48)  # wide enough for every column, tall enough for every row of the scene
# Every foreground a task row can use: the state colours, the muted grey, and the plain text.
ROW_COLOURS = ("lanes-queued", "lanes-claimed", "lanes-completed", "lanes-failed", "lanes-attention",
               "lanes-muted", "foreground")

SHIPPED = load_themes([BUILTIN_THEME_DIR])


def luminance(colour: RichColor) -> float:
    """WCAG 2 relative luminance of a colour as drawn (truecolor)."""
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = colour.get_truecolor()
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: RichColor, b: RichColor) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def hex_of(colour: RichColor) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour.get_truecolor())


def test_contrast_formula_matches_wcag():
    # Anchors from the WCAG definition: black on white is 21:1, a colour on itself 1:1.
    assert contrast(RichColor.parse("#000000"), RichColor.parse("#ffffff")) == pytest.approx(21.0)
    assert contrast(RichColor.parse("#777777"), RichColor.parse("#777777")) == pytest.approx(1.0)
    assert contrast(RichColor.parse("#767676"), RichColor.parse("#ffffff")) == pytest.approx(4.54, abs=0.01)


def screen_lines(app: Any) -> list[Strip]:
    """The screen's lines as its compositor draws them (what the terminal would get)."""
    return app.screen._compositor.render_strips()


def cells(strip: Strip, x0: int, x1: int) -> list[tuple[str, Segment]]:
    """(visible text, segment) for the segments of `strip` between columns x0 and x1."""
    out: list[tuple[str, Segment]] = []
    for segment in strip.crop(x0, x1):
        if segment.text.strip():
            out.append((segment.text, segment))
    return out


def check_line(strip: Strip, x0: int, x1: int, what: str, problems: list[str], seen: set[str]) -> RichColor:
    """Every visible segment readable on its background; returns the line's background."""
    background = None
    for text, segment in cells(strip, x0, x1):
        style = segment.style
        assert style is not None and style.color is not None and style.bgcolor is not None, (what, text)
        background = style.bgcolor
        ratio = contrast(style.color, style.bgcolor)
        seen.add(hex_of(style.color))
        if ratio < MIN_RATIO:
            problems.append(f"{what}: {text.strip()!r} {hex_of(style.color)} on {hex_of(style.bgcolor)}: "
                            f"{ratio:.2f}:1")
    assert background is not None, f"{what}: nothing drawn"
    return background


def expected_colours(theme: Theme) -> set[str]:
    variables = theme.to_color_system().generate() | dict(theme.variables)
    return {Color.parse(variables[name]).hex.lower() for name in ROW_COLOURS}


@pytest.mark.parametrize("theme", SHIPPED.themes, ids=lambda theme: theme.name)
async def test_every_row_and_the_selected_row_read_in_every_shipped_theme(tmp_path: Path, theme: Theme):
    assert SHIPPED.problems == ()
    app, run_before = STATES["busy"].build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await run_before(pilot)
        app.theme = theme.name
        await pilot.pause()
        table = app.table
        # One marked row too: its mark is drawn in the attention colour.
        table.select(table.shown_ids[0])
        await pilot.press("space")
        assert table.marked
        problems: list[str] = []
        seen: set[str] = set()
        for focused in (True, False):
            if not focused:
                await pilot.press("slash")  # the filter box takes the focus; the selection stays shown
                await shown(app, pilot, lambda: app.filter_box.has_focus, "the filter box focused")
            assert table.has_focus is focused
            for index, task_id in enumerate(table.shown_ids):
                table.select(task_id)
                await pilot.pause()
                region = table.scrollable_content_region  # in screen cells, without the scrollbar
                top = int(table.scroll_y)
                assert top <= index < top + region.height - 1, "every row of the scene fits on screen"
                where = f"{theme.name}, {'focused' if focused else 'unfocused'} table"
                lines = screen_lines(app)
                selected_bg = check_line(lines[region.y + 1 + index - top], region.x, region.right,
                                         f"{where}, selected row {index}", problems, seen)
                # The other rows stay readable too, and the selected one looks different.
                for other in range(len(table.shown_ids)):
                    if other != index:
                        other_bg = check_line(lines[region.y + 1 + other - top], region.x, region.right,
                                              f"{where}, row {other}", problems, set())
                        assert other_bg != selected_bg, f"{where}: the selected row {index} is not highlighted"
        assert problems == [], "\n".join(problems)
        # Not vacuous: every colour a row can use was drawn (and so checked) on the selected line.
        assert expected_colours(theme) <= seen, expected_colours(theme) - seen


async def test_a_textual_light_theme_gets_the_light_lanes_colours(tmp_path: Path):
    """Textual's own themes know nothing of lanes-*: a light one gets lanes-light's values, not
    the dark palette (a dark selected row under dark text)."""
    app, run_before = STATES["idle"].build(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await run_before(pilot)
        for name, dark in (("textual-light", False), ("textual-dark", True)):
            app.theme = name
            await pilot.pause()
            assert app.current_theme.dark is dark
            for variable in LANES_VARIABLES:
                assert app.theme_variables[variable] == lanes_variable_defaults(dark)[variable], (name, variable)
        app.theme = FALLBACK_LIGHT
        await pilot.pause()
        assert app.theme_variables["lanes-selected"] == lanes_variable_defaults(False)["lanes-selected"]
