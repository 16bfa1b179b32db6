"""A yes/no question before a destructive verb (cancel, merge): `ModalScreen[bool]`.

The body is a `rich.text.Text` built by the caller from sanitised strings, so a
task id or prompt can never be read as markup. "Yes" has the focus, so `enter`
confirms; `y`/`n` answer from anywhere and `escape` is always "no". With
`can_confirm` False (a merge that would conflict) there is only a way back.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

# Shared look of the dashboard's dialogs (the other modals reuse it through their own CSS ids).
DIALOG_CSS = """
    align: center middle;
    & > #dialog {
        width: 72; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    & #title { text-style: bold; width: 100%; padding-bottom: 1; }
    & .buttons { height: auto; width: 100%; align-horizontal: right; margin-top: 1; }
    & .buttons Button { margin-left: 1; }
    & .error { color: $error; text-style: bold; height: auto; }
"""


class ConfirmModal(ModalScreen[bool]):
    DEFAULT_CSS = "ConfirmModal {" + DIALOG_CSS + "}"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, body: Text, *, yes_label: str = "Yes", can_confirm: bool = True) -> None:
        super().__init__()
        self._dialog_title = title
        self._dialog_body = body
        self._yes_label = yes_label
        self._can_confirm = can_confirm

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self._dialog_title), id="title", markup=False)
            yield Static(self._dialog_body, id="body", markup=False)
            with Horizontal(classes="buttons"):
                if self._can_confirm:
                    yield Button(self._yes_label, variant="error", id="yes")
                yield Button("No" if self._can_confirm else "Close", id="no")

    def on_mount(self) -> None:
        # enter on the focused button confirms (or, when nothing can be confirmed, closes)
        self.query_one("#yes" if self._can_confirm else "#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes and self._can_confirm)
