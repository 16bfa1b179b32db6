"""`?`: every dashboard key and what it does, as currently bound (after the settings' `keys:`).

The entries come from the app (`LanesApp.key_help()`), so a remapped key shows
its new key here. Each entry is a row of two Statics, the key and what it does:
a long description wraps at word boundaries under itself, and the whole help
(title, rows, footer) is one scrolling container, so on a small terminal
(80x24) every line is reachable with the arrow keys, PageUp/PageDown, Home/End.
Everything is `rich.text.Text` with markup off: a key like `[` shows as itself.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

FILTER_HELP = "lane:NAME state:STATE vendor:NAME and free words (all must match; escape clears)"
# Below the keys: more ways in, in the same two columns.
FOOTER_ENTRIES = (
    ("ctrl+p", "command palette: every action above, by name"),
    ("filter", FILTER_HELP),
)
CLOSE_HINT = "escape, ? or q closes this help"
MAX_KEY_WIDTH = 24  # a longer key list wraps in its column instead of squeezing the descriptions


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > #help {
        width: 110; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    HelpScreen #help-title { text-style: bold; padding-bottom: 1; }
    HelpScreen .help-row { height: auto; }
    HelpScreen .help-key { height: auto; padding-right: 2; text-style: bold; }
    HelpScreen .help-what { width: 1fr; height: auto; }
    HelpScreen .help-heading { color: $text-muted; text-style: bold; }
    HelpScreen #help-footer { height: auto; padding-top: 1; }
    HelpScreen #help-close { color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close"),
    ]

    def __init__(self, entries: list[tuple[str, str]]) -> None:
        super().__init__()
        self.entries = list(entries)  # (keys as displayed, what they do)

    def compose(self) -> ComposeResult:
        keys_shown = [keys for keys, _ in (*self.entries, *FOOTER_ENTRIES)]
        key_width = min(MAX_KEY_WIDTH, max([len("Key"), *(Text(keys).cell_len for keys in keys_shown)]))
        with VerticalScroll(id="help"):
            yield Static(Text("Keys"), id="help-title", markup=False)
            yield self._row(Text("Key"), Text("What it does"), key_width, classes="help-heading")
            for keys, what in self.entries:
                yield self._row(Text(keys), Text(what), key_width, classes="help-entry")
            with Vertical(id="help-footer"):
                for keys, what in FOOTER_ENTRIES:
                    yield self._row(Text(keys), Text(what), key_width, classes="help-more")
                yield Static(Text(CLOSE_HINT), id="help-close", markup=False)

    @staticmethod
    def _row(key: Text, what: Text, key_width: int, *, classes: str) -> Horizontal:
        key_cell = Static(key, classes="help-key", markup=False)
        key_cell.styles.width = key_width + 2  # + its padding
        return Horizontal(key_cell, Static(what, classes="help-what", markup=False), classes=f"help-row {classes}")

    def on_mount(self) -> None:
        self.query_one("#help", VerticalScroll).focus()  # arrows and PageDown scroll it on a short terminal

    def action_close(self) -> None:
        self.dismiss(None)
