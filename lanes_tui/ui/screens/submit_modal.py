"""The submit form (`n`): a prompt is enough, every other field has a default.

The form only collects strings; `engine.submitting` validates them, fills the
defaults (lane, generated request and response files) and submits through the
store. A `FieldError` names the field at fault: its message is shown in the
form and that field gets the focus; the form stays open until a submit works
(returns the new task id) or the operator leaves with escape (None).
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from lanes_tui.core.errors import LanesError
from lanes_tui.core.sanitize import one_line
from lanes_tui.core.taskfile import load_task_file
from lanes_tui.core.titles import MAX_TITLE_CHARS
from lanes_tui.engine.service import Engine
from lanes_tui.engine.submitting import FieldError, SubmitForm, parse_metadata
from lanes_tui.settings import Settings
from lanes_tui.ui.screens.confirm_modal import DIALOG_CSS
from lanes_tui.ui.screens.retry_modal import enabled_vendors
from lanes_tui.vendors.permissions import PRESETS

TASKS_DIR = "tasks"
MAX_TASK_FILES = 500  # a huge tasks/ folder must not make the form slow to open
ANY = "any"
WIDGET_IDS = {"title": "task-title"}  # a form field whose widget has another id (#title is the dialog's)
DEFAULT = "(default)"  # a Select's value for "leave it to the vendor / the lane"
PROMPT_PLACEHOLDER = "what the agent should do"


def first_lane(engine: Engine, preferred: str | None) -> str:
    """The lane the form starts with: the selected task's, else the config's first, else "default"."""
    if preferred:
        return preferred
    if engine.config is not None and engine.config.lanes:
        return next(iter(engine.config.lanes))
    return "default"


def task_files(workspace_root: Path | None) -> list[str]:
    """`tasks/*.yaml` (and .yml) under the workspace, as paths relative to it, sorted."""
    if workspace_root is None:
        return []
    try:
        with os.scandir(workspace_root / TASKS_DIR) as entries:
            names = sorted(e.name for e in entries if e.name.endswith((".yaml", ".yml")) and e.is_file())
    except OSError:
        return []  # no tasks/ folder (or unreadable): only the blank option
    return [f"{TASKS_DIR}/{name}" for name in names[:MAX_TASK_FILES]]


class SubmitModal(ModalScreen[str | None]):
    """Returns the new task's id, or None when closed without submitting."""

    DEFAULT_CSS = "SubmitModal {" + DIALOG_CSS + """
        & > #dialog { width: 100; height: auto; max-height: 100%; }
        & #fields { height: auto; }
        & .row { height: auto; }
        & .row Label { width: 15; color: $text-muted; }
        & .row Input, & .row Select { width: 1fr; }
        & #prompt { height: 6; width: 1fr; }
    }"""
    BINDINGS = [
        Binding("ctrl+s", "submit_form", "Submit", id="submit.send"),
        Binding("escape", "close", "Close", id="submit.close"),
    ]
    AUTO_FOCUS = "#prompt"

    def __init__(self, engine: Engine, default_lane: str | None) -> None:
        super().__init__()
        self._engine = engine
        self._busy = False
        self._preferred_lane = default_lane
        # The lane the form filled in itself (not typed): a task file's own lane may replace it.
        self._auto_lane = first_lane(engine, default_lane)

    def compose(self) -> ComposeResult:
        config = self._engine.config
        files = task_files(config.workspace_root if config else None)
        # Text labels: a Select parses plain strings as markup, and file names are anyone's text.
        vendors = [(Text(ANY), ANY)]
        vendors += [(Text(one_line(name, 40)), name) for name in enabled_vendors(self._engine.settings)]
        with Vertical(id="dialog"):
            yield Static(Text("Submit a task   (ctrl+s: submit, escape: close)"), id="title")
            with VerticalScroll(id="fields"):
                yield from _row("Prompt", TextArea(id="prompt", compact=True, soft_wrap=True,
                                                   placeholder=PROMPT_PLACEHOLDER))
                yield from _row("Title", Input(placeholder="empty: the prompt's first line", id="task-title",
                                               max_length=MAX_TITLE_CHARS, compact=True))
                yield from _row("Lane", Input(self._auto_lane, id="lane", compact=True))
                yield from _row("Task file", Select([(Text(one_line(f, 80)), f) for f in files], id="task_file",
                                                    prompt="none" if files else f"none ({TASKS_DIR}/ has no .yaml)",
                                                    compact=True))
                yield from _row("Request path", Input(placeholder="empty: generated from the prompt",
                                                      id="request_path", compact=True))
                yield from _row("Response path", Input(placeholder="empty: generated beside the request",
                                                       id="response_path", compact=True))
                yield from _row("Vendor", Select(vendors, value=ANY, allow_blank=False, id="vendor", compact=True))
                models, efforts = choices(self._engine.settings, ANY)
                yield from _row("Model class", Select(models, value=DEFAULT, allow_blank=False, id="model_class",
                                                      compact=True))
                yield from _row("Effort", Select(efforts, value=DEFAULT, allow_blank=False, id="effort",
                                                 compact=True))
                yield from _row("Permissions", Select(presets(), value=DEFAULT, allow_blank=False, id="permissions",
                                                      compact=True))
                yield from _row("Metadata", Input(placeholder="key=value, key2=value2", id="metadata", compact=True))
            error = Static("", id="error", classes="error")
            error.display = False
            yield error
            with Horizontal(classes="buttons"):
                yield Button("Submit", variant="primary", id="submit", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_select_changed(self, event: Select.Changed) -> None:
        """A task file brings its own lane: show it in the lane field (a typed lane is kept).
        A vendor offers its own model classes and efforts."""
        event.stop()
        if event.select.id == "vendor":
            self._offer_vendor_choices(event.value if isinstance(event.value, str) else ANY)
            return
        if event.select.id != "task_file":
            return
        config = self._engine.config
        prompt = self.query_one("#prompt", TextArea)
        lane = None
        if isinstance(event.value, str) and config is not None:
            try:
                lane = load_task_file(config.workspace_root / event.value).fields.get("lane")
            except (LanesError, OSError):
                pass  # submitting reports the problem, against the task-file field
            prompt.placeholder = "empty: the task file's prompt"
        else:
            prompt.placeholder = PROMPT_PLACEHOLDER
        lane_input = self.query_one("#lane", Input)
        if lane_input.value == self._auto_lane:
            wanted = one_line(str(lane), 64) if lane else first_lane(self._engine, self._preferred_lane)
            lane_input.value = self._auto_lane = wanted

    def _offer_vendor_choices(self, vendor: str) -> None:
        models, efforts = choices(self._engine.settings, vendor)
        for field_id, options in (("model_class", models), ("effort", efforts)):
            select = self.query_one(f"#{field_id}", Select)
            kept = select.value
            select.set_options(options)
            # What was picked stays picked when this vendor knows it too.
            select.value = kept if any(value == kept for _, value in options) else DEFAULT

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()  # enter in a one-line field submits (the prompt's enter is a new line)
        await self.action_submit_form()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "submit":
            await self.action_submit_form()
        else:
            self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)

    async def action_submit_form(self) -> None:
        if self._busy:
            return  # one submit at a time: a double ctrl+s must not create two tasks
        self._busy = True
        self.query_one("#submit", Button).disabled = True
        try:
            task = await self._engine.submit(self._form())
        except FieldError as exc:
            self._show_error(str(exc), exc.field_name)
        except (LanesError, OSError) as exc:  # OSError: writing the generated request (disk full...)
            self._show_error(str(exc), None)
        else:
            self.dismiss(str(task["id"]))
            return
        finally:
            self._busy = False
        self.query_one("#submit", Button).disabled = False

    def _form(self) -> SubmitForm:
        """The fields as typed (parse_metadata raises a FieldError for bad metadata)."""
        def text(field_id: str) -> str:
            return self.query_one(f"#{field_id}", Input).value

        def chosen(field_id: str) -> str:
            value = self.query_one(f"#{field_id}", Select).value
            return value if isinstance(value, str) and value not in (ANY, DEFAULT) else ""

        metadata = parse_metadata(text("metadata"))
        if chosen("permissions"):
            metadata.setdefault("permissions", chosen("permissions"))
        return SubmitForm(
            lane=text("lane"),
            task_file=chosen("task_file"),
            prompt=self.query_one("#prompt", TextArea).text,
            title=text("task-title"),
            request_path=text("request_path"),
            response_path=text("response_path"),
            vendor=chosen("vendor"),
            model_class=chosen("model_class"),
            effort=chosen("effort"),
            metadata=metadata,
        )

    def _show_error(self, message: str, field_name: str | None) -> None:
        error = self.query_one("#error", Static)
        error.update(Text(one_line(message, 500)))
        error.display = True
        if field_name:
            try:
                self.query_one(f"#{WIDGET_IDS.get(field_name, field_name)}", Widget).focus()
            except NoMatches:
                pass  # a field the form does not have (e.g. a prompt_file inside a task file)


def choices(settings: Settings, vendor: str) -> tuple[list[tuple[Text, str]], list[tuple[Text, str]]]:
    """The model classes and efforts to offer for `vendor` ("any": every enabled vendor's),
    each list led by the vendor's default. Text labels: a Select reads a str as markup."""
    names = enabled_vendors(settings) if vendor == ANY else [vendor]
    known = [settings.vendors[name] for name in names if name in settings.vendors]
    models = sorted({one_line(m, 64) for v in known for m in v.models})
    efforts = sorted({one_line(e, 64) for v in known for e in v.efforts})
    lead = [(Text("the vendor's default"), DEFAULT)]
    return lead + [(Text(m), m) for m in models], lead + [(Text(e), e) for e in efforts]


def presets() -> list[tuple[Text, str]]:
    """The permission presets, led by the lane's own (a task may only narrow it)."""
    return [(Text("the lane's preset"), DEFAULT)] + [(Text(p), p) for p in PRESETS]


def _row(label: str, field: Widget) -> ComposeResult:
    with Horizontal(classes="row"):
        yield Label(label, markup=False)
        yield field
