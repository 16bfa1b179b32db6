"""The submit form (`n`) against a real store: what lands on disk, and what the form refuses.

Watch-only dashboards keep the new task queued (no supervisor claims it), so
the test reads the task exactly as submitted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers.supervisor import until
from textual.widgets import Input, Select, Static, TextArea
from textual.widgets.select import InvalidSelectValueError

from lanes_tui.core.model import QUEUED
from lanes_tui.core.titles import MAX_TITLE_CHARS
from lanes_tui.engine.submitting import GENERATED_DIR
from lanes_tui.ui.screens.submit_modal import SubmitModal, task_files
from lanes_tui.wiring import Queue, build_app, build_engine

from .conftest import dashboard, shown


async def open_form(app: Any, pilot: Any) -> SubmitModal:
    await pilot.press("n")
    return await shown(app, pilot, lambda: isinstance(app.screen, SubmitModal) and app.screen, "the form")


def error_text(modal: SubmitModal) -> str:
    error = modal.query_one("#error", Static)
    return str(error.content) if error.display else ""


def only_task(workspace: Any) -> dict[str, Any]:
    store = workspace.store()
    ids = store.task_ids()
    assert len(ids) == 1, ids
    return store.read_task(ids[0])


async def test_typing_a_prompt_and_ctrl_s_is_enough(workspace, ui_settings):
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        modal = await open_form(app, pilot)
        assert modal.focused is modal.query_one("#prompt", TextArea)
        await pilot.press(*"fix it", "enter", *"now")
        await pilot.press("ctrl+s")
        await shown(app, pilot, lambda: not isinstance(app.screen, SubmitModal), "the form closed")
        task_id = only_task(workspace)["id"]
        await shown(app, pilot, lambda: app.table.selected_id == task_id, "the new task selected")
    task = only_task(workspace)
    root = workspace.root.resolve()
    generated = root / "handoff" / GENERATED_DIR
    assert task["state"] == QUEUED and task["lane"] == "default"
    assert task["prompt"] == "fix it\nnow"
    assert task["source_agent"] == "operator:test"
    request, response = Path(task["request_path"]), Path(task["response_path"])
    assert request.parent == generated and response.parent == generated and request != response
    assert "fix it\nnow" in request.read_text(encoding="utf-8")
    assert not response.exists()
    assert task["metadata"] == {"write_response": True}  # the supervisor writes the answer file on completion


async def test_vendor_model_effort_and_metadata_reach_the_task(workspace, ui_settings):
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        modal = await open_form(app, pilot)
        await pilot.press(*"go")
        modal.query_one("#vendor", Select).value = "codex"
        await pilot.pause()  # the vendor's own model classes and efforts are offered
        with pytest.raises(InvalidSelectValueError):
            modal.query_one("#model_class", Select).value = "opus"  # claude's, not codex's
        modal.query_one("#model_class", Select).value = "astra"
        modal.query_one("#effort", Select).value = "high"
        modal.query_one("#task-title", Input).value = "Fix the flaky test"
        modal.query_one("#metadata", Input).focus()
        await pilot.press(*"t=A-1, b = 2", "enter")  # enter in a one-line field submits
        await shown(app, pilot, lambda: not isinstance(app.screen, SubmitModal), "the form closed")
    metadata = only_task(workspace)["metadata"]
    assert metadata == {"required_vendor": "codex", "model_class": "astra", "effort": "high",
                        "t": "A-1", "b": "2", "write_response": True, "title": "Fix the flaky test"}


async def test_bad_fields_are_shown_in_the_form_and_create_nothing(workspace, ui_settings, tmp_path):
    outside = tmp_path / "outside.md"
    outside.write_text("not in the workspace\n", encoding="utf-8")
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        modal = await open_form(app, pilot)
        await pilot.press("x")
        lane = modal.query_one("#lane", Input)
        lane.value = "bad\x1b[31mlane"  # not a printable name
        await pilot.press("ctrl+s")
        await shown(app, pilot, lambda: "lane" in error_text(modal), "the lane error")
        assert app.screen is modal and modal.focused is lane

        lane.value = "ok"
        metadata = modal.query_one("#metadata", Input)
        metadata.value = "novalue"
        await pilot.press("ctrl+s")
        await shown(app, pilot, lambda: "metadata" in error_text(modal), "the metadata error")
        assert app.screen is modal and modal.focused is metadata

        metadata.value = ""
        # The choices come from the settings, so no unknown name can be picked; what is left is
        # a preset wider than the lane allows, refused pointing at the field.
        presets = modal.query_one("#permissions", Select)
        presets.value = "trusted"
        await pilot.press("ctrl+s")
        await shown(app, pilot, lambda: "wider than lane 'ok' allows" in error_text(modal), "the preset error")
        assert app.screen is modal and modal.focused is presets
        presets.value = "read-only"

        title = modal.query_one("#task-title", Input)
        title.insert_text_at_cursor("a" * 200)  # the field stops at the limit; a pasted one past it too
        assert len(title.value) <= MAX_TITLE_CHARS

        request = modal.query_one("#request_path", Input)
        request.value = str(outside)
        await pilot.press("ctrl+s")
        await shown(app, pilot, lambda: "outside workspace_root" in error_text(modal), "the request path error")
        assert app.screen is modal and modal.focused is request
        assert workspace.store().task_ids() == []

        await pilot.press("escape")
        await shown(app, pilot, lambda: not isinstance(app.screen, SubmitModal), "the form closed")
    assert workspace.store().task_ids() == []
    assert not (workspace.root / "handoff" / GENERATED_DIR).exists() or not any(
        (workspace.root / "handoff" / GENERATED_DIR).iterdir())


async def test_escape_closes_without_submitting(workspace, ui_settings):
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        await open_form(app, pilot)
        await pilot.press(*"oops", "escape")
        await shown(app, pilot, lambda: not isinstance(app.screen, SubmitModal), "the form closed")
        assert app.return_code is None
    assert workspace.store().task_ids() == []


async def test_a_task_file_from_the_workspace_tasks_folder(workspace, ui_settings):
    tasks = workspace.root / "tasks"
    tasks.mkdir()
    (tasks / "x.yaml").write_text("lane: reviews\nprompt: review the diff\nmetadata:\n  kind: review\n",
                                  encoding="utf-8")
    (tasks / "notes.txt").write_text("not a task file\n", encoding="utf-8")
    (tasks / "[@click=app.quit]odd.yaml").write_text("prompt: odd\n", encoding="utf-8")  # a name, not markup
    async with dashboard(workspace, ui_settings, watch_only=True) as (app, pilot):
        modal = await open_form(app, pilot)
        choice = modal.query_one("#task_file", Select)
        assert task_files(workspace.root) == ["tasks/[@click=app.quit]odd.yaml", "tasks/x.yaml"]  # and "none"
        choice.focus()
        await pilot.press("enter", "down", "down", "enter")  # open the list, pass "none" and odd, pick x.yaml
        await shown(app, pilot, lambda: choice.value == "tasks/x.yaml", "x.yaml chosen")
        await shown(app, pilot, lambda: modal.query_one("#lane", Input).value == "reviews", "its lane shown")
        await pilot.press("ctrl+s")  # no prompt typed: the file's prompt is used
        await shown(app, pilot, lambda: not isinstance(app.screen, SubmitModal), "the form closed")
    task = only_task(workspace)
    assert task["lane"] == "reviews" and task["prompt"] == "review the diff"
    assert task["metadata"] == {"kind": "review", "write_response": True} and task["correlation_id"] == "x"


async def test_without_a_config_the_form_explains_why_it_cannot_submit(workspace, ui_settings):
    queue = Queue(workspace.store(), ui_settings, None, "no-config")  # opened on a bare store
    app = build_app(build_engine(queue, watch_only=True, operator="operator:test"), queue)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: app.loaded.is_set(), 20, what="loaded")
        modal = await open_form(app, pilot)
        await pilot.press(*"anything", "ctrl+s")
        await shown(app, pilot, lambda: "handoff.yaml (--config)" in error_text(modal), "the config error")
        assert app.screen is modal
    assert workspace.store().task_ids() == []


async def test_the_form_fits_80x24(workspace, ui_settings):
    async with dashboard(workspace, ui_settings, watch_only=True, size=(80, 24)) as (app, pilot):
        modal = await open_form(app, pilot)
        screen = modal.region
        for selector in ("#prompt", "#task-title", "#lane", "#task_file", "#request_path", "#response_path",
                         "#vendor", "#model_class", "#effort", "#permissions", "#metadata", "#submit", "#cancel"):
            region = modal.query_one(selector).region
            assert region.height >= 1 and screen.contains_region(region), (selector, region)
