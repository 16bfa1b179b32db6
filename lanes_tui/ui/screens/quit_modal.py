"""Quitting with workers running: let them finish, stop them now, or stay.

"leave": claim nothing more and exit when the running workers finish.
"stop": stop them now (their claims are released with a reason) and exit.
"cancel" (also escape): keep the dashboard running.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from lanes_tui.ui.screens.confirm_modal import DIALOG_CSS

CHOICES = ("leave", "stop", "cancel")
CHOICE_TEXT = (
    "Leave them to finish (l): claim nothing more, quit when they are done.\n"
    "Stop them (s): stop them now and release their claims.\n"
    "Cancel (escape): keep the dashboard running."
)


class QuitModal(ModalScreen[str]):
    DEFAULT_CSS = "QuitModal {" + DIALOG_CSS + "}"
    BINDINGS = [
        Binding("l", "choose('leave')", "Leave them", id="quit.leave"),
        Binding("s", "choose('stop')", "Stop them", id="quit.stop"),
        Binding("escape", "choose('cancel')", "Cancel", id="quit.cancel"),
    ]
    AUTO_FOCUS = "#cancel"  # enter on the focused button: the harmless choice

    def __init__(self, running: int) -> None:
        super().__init__()
        self._worker_count = running

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(f"{self._worker_count} worker(s) are running."), id="title", markup=False)
            yield Static(Text(CHOICE_TEXT), id="body", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Leave them to finish", variant="primary", id="leave")
                yield Button("Stop them", variant="error", id="stop")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id if event.button.id in CHOICES else "cancel")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)
