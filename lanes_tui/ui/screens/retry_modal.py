"""Retrying failed tasks: keep their vendor/model/effort, or send them somewhere else.

A retry is a new task (`requeue`) whose metadata is the old task's plus the
overrides returned here. Only what the operator changed is returned, so a
plain retry (`{}`) keeps each task's own choices, also in a bulk retry where
the tasks differ.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select, Static

from lanes_tui.core.sanitize import one_line
from lanes_tui.settings import Settings
from lanes_tui.ui.screens.confirm_modal import DIALOG_CSS

KEEP = "keep"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
FIELDS = (("vendor", "required_vendor"), ("model_class", "model_class"), ("effort", "effort"))


def enabled_vendors(settings: Settings) -> list[str]:
    return [name for name, vendor in settings.vendors.items() if vendor.enabled]


def overrides_from(vendor: str, model_class: str, effort: str) -> dict[str, str]:
    """The metadata overrides for the chosen values; ValueError(field, message) on a bad name."""
    chosen = {"vendor": "" if vendor == KEEP else vendor.strip(), "model_class": model_class.strip(),
              "effort": effort.strip()}
    overrides: dict[str, str] = {}
    for name, key in FIELDS:
        value = chosen[name]
        if not value:
            continue  # empty: keep the task's own
        if not _NAME.match(value):
            raise ValueError(name, f"{name.replace('_', ' ')}: letters, digits, '_', '.' or '-' "
                                   f"(up to 64), not {one_line(value, 40)!r}")
        overrides[key] = value
    return overrides


class RetryModal(ModalScreen[dict[str, str] | None]):
    """Returns the metadata overrides (`{}`: retry as it was) or None (cancelled)."""

    DEFAULT_CSS = "RetryModal {" + DIALOG_CSS + """
        & .row { height: auto; margin-bottom: 1; }
        & .row Label { width: 14; }
        & .row Input, & .row Select { width: 1fr; }
    }"""
    BINDINGS = [
        Binding("escape", "close", "Cancel", id="retry.cancel"),
        Binding("ctrl+s", "confirm", "Retry", id="retry.confirm"),
    ]
    AUTO_FOCUS = "#vendor"

    def __init__(self, count: int, settings: Settings) -> None:
        super().__init__()
        self._task_count = count
        self._vendors = enabled_vendors(settings)
        self._models = sorted({one_line(m, 64) for name in self._vendors for m in settings.vendors[name].models})
        self._efforts = sorted({one_line(e, 64) for name in self._vendors for e in settings.vendors[name].efforts})

    def compose(self) -> ComposeResult:
        # Text labels: a Select parses plain strings as markup.
        options = [(Text("keep each task's vendor"), KEEP), (Text("any vendor"), "any")]
        options += [(Text(one_line(name, 40)), name) for name in self._vendors]
        title = Text(f"Retry {self._task_count} failed task(s) as new task(s)   (ctrl+s: retry, escape: cancel)")
        with Vertical(id="dialog"):
            yield Static(title, id="title", markup=False)
            with Horizontal(classes="row"):
                yield Label("Vendor", markup=False)
                yield Select(options, value=KEEP, allow_blank=False, id="vendor", compact=True)
            with Horizontal(classes="row"):
                yield Label("Model class", markup=False)
                yield Input(placeholder="keep (" + ", ".join(self._models[:6]) + ")", id="model_class", compact=True,
                            suggester=SuggestFromList(self._models, case_sensitive=False))
            with Horizontal(classes="row"):
                yield Label("Effort", markup=False)
                yield Input(placeholder="keep (" + ", ".join(self._efforts) + ")", id="effort", compact=True,
                            suggester=SuggestFromList(self._efforts, case_sensitive=False))
            error = Static("", id="error", classes="error")
            error.display = False
            yield error
            with Horizontal(classes="buttons"):
                yield Button("Retry", variant="primary", id="retry")
                yield Button("Cancel", id="cancel")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()  # not the dashboard's filter box
        self.action_confirm()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "retry":
            self.action_confirm()
        else:
            self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_confirm(self) -> None:
        vendor = self.query_one("#vendor", Select).value
        try:
            overrides = overrides_from(vendor if isinstance(vendor, str) else KEEP,
                                       self.query_one("#model_class", Input).value,
                                       self.query_one("#effort", Input).value)
        except ValueError as exc:
            field_name, message = exc.args
            error = self.query_one("#error", Static)
            error.update(Text(message))
            error.display = True
            self.query_one(f"#{field_name}").focus()
            return
        self.dismiss(overrides)
