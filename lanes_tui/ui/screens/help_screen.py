"""`?`: every dashboard key and what it does, as currently bound (after the settings' `keys:`).

The entries come from the app (`LanesApp.key_help()`), so a remapped key shows
its new key here. Cells are `rich.text.Text`: a DataTable would read a plain str
as markup, and a key like `[` must show as itself.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

FILTER_HELP = "lane:NAME state:STATE vendor:NAME and free words (all must match; escape clears)"


def footer_text() -> Text:
    text = Text()
    text.append("ctrl+p", "bold")
    text.append("  command palette: every action above, by name\n")
    text.append("filter", "bold")
    text.append(f"  {FILTER_HELP}\n")
    text.append("escape, ? or q closes this help", "dim")
    return text


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > #help {
        width: 110; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    HelpScreen #help-title { text-style: bold; padding-bottom: 1; }
    HelpScreen #help-keys { height: auto; max-height: 20; }
    HelpScreen #help-footer { height: auto; padding-top: 1; }
    """
    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close"),
    ]

    def __init__(self, entries: list[tuple[str, str]]) -> None:
        super().__init__()
        self.entries = list(entries)  # (keys as displayed, what they do)

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Static(Text("Keys"), id="help-title")
            table: DataTable[Text] = DataTable(id="help-keys", cursor_type="row", zebra_stripes=True)
            table.add_column(Text("Key"), key="key")
            table.add_column(Text("What it does"), key="what")
            for keys, what in self.entries:
                table.add_row(Text(keys, "bold"), Text(what))
            yield table
            yield Static(footer_text(), id="help-footer", markup=False)

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()  # arrows scroll the list on a short terminal

    def action_close(self) -> None:
        self.dismiss(None)
