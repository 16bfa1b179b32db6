"""Rows a person can tell apart: a title column, ids cut to what is unique, filter words over the
title and the prompt, and sorting by column (`o`, `O`, a click on a heading)."""

from __future__ import annotations

from lanes_tui.ui.short_ids import forms
from lanes_tui.ui.widgets.task_table import SORTABLE, TaskTable, fit_columns

from .conftest import dashboard, shown


def line(table: TaskTable, y: int) -> str:
    return table.render_line(y).text


async def test_titles_show_and_ids_are_as_short_as_the_rows_shown_allow(workspace, ui_settings):
    # Thirty tasks on one request file share the id's tail: the tail tells nothing apart.
    ids = [workspace.submit(prompt=f"# Review part {n}\nthe details", name=f"o{n}")["id"] for n in range(30)]
    named = workspace.submit(prompt="irrelevant first line", metadata={"title": "Ship the release"})["id"]
    async with dashboard(workspace, ui_settings, watch_only=True, size=(160, 45)) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: len(table.shown_ids) == 31, "31 tasks")
        labels = [table.short_id(task_id) for task_id in [*ids, named]]
        assert len(set(labels)) == 31  # every row its own
        assert all(label in forms(task_id) and len(label) < len(task_id)
                   for label, task_id in zip(labels, [*ids, named]))
        rows = [line(table, y) for y in range(1, 32)]
        assert any("Ship the release" in row for row in rows)
        assert any("Review part 7" in row for row in rows)  # the prompt's first line, heading marks gone
        assert "TITLE" in line(table, 0)


async def test_filter_words_match_the_title_and_the_prompt(workspace, ui_settings):
    login = workspace.submit(prompt="Look at the login flow\nthe session cookie expires early", name="a")["id"]
    docs = workspace.submit(prompt="unrelated", metadata={"title": "Docs pass"}, name="b")["id"]
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: len(table.shown_ids) == 2, "two tasks")
        await pilot.press("slash", *"cookie")  # a word from the prompt's second line
        await shown(app, pilot, lambda: table.shown_ids == [login], "prompt words match")
        app.filter_box.value = "docs"
        await shown(app, pilot, lambda: table.shown_ids == [docs], "title words match")


async def test_o_cycles_the_sort_column_O_reverses_and_a_heading_click_sorts(workspace, ui_settings):
    made = {title: workspace.submit(prompt=title, name=title)["id"] for title in ("bravo", "alpha", "charlie")}
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        table = app.query_one(TaskTable)
        await shown(app, pilot, lambda: len(table.shown_ids) == 3, "three tasks")
        working = [made["bravo"], made["alpha"], made["charlie"]]  # queued: oldest first
        assert table.shown_ids == working
        await pilot.press("o")  # by id (submission order)
        await shown(app, pilot, lambda: table.sort_by == "id", "sorted by id")
        await pilot.press("o")
        await shown(app, pilot, lambda: table.sort_by == "title", "sorted by title")
        assert table.shown_ids == [made["alpha"], made["bravo"], made["charlie"]]
        assert "TITLE\u25b2" in line(table, 0)
        await pilot.press("O")
        await shown(app, pilot, lambda: table.shown_ids == [made["charlie"], made["bravo"], made["alpha"]], "reversed")
        assert "TITLE\u25bc" in line(table, 0)
        # The selection stays on its task while rows move under it.
        table.select(made["bravo"])
        columns = fit_columns(table.scrollable_content_region.width, table._id_width())
        lane_x = sum(w + 1 for c, w in columns[:[c.key for c, _ in columns].index("lane")])
        await pilot.click(TaskTable, offset=(lane_x + 1, 0))
        await shown(app, pilot, lambda: table.sort_by == "lane" and not table.sort_reverse, "a click sorts by lane")
        assert table.selected_id == made["bravo"]
        for _ in range(len(SORTABLE) - SORTABLE.index("lane")):
            await pilot.press("o")
        await shown(app, pilot, lambda: table.sort_by == "state", "back to the working order")
        await pilot.press("O", "O")
        await shown(app, pilot, lambda: table.shown_ids == working and table.sort_label() == "", "working order again")
