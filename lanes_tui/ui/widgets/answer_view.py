"""A task's answer, rendered as Markdown: sanitised, capped, and with links shown, never followed.

The text is prepared by `core.answer_text.safe_markdown` and parsed by its `inert_parser`, which
knows no links, images or HTML (they stay literal text, the URL visible); Textual's Markdown
widget builds its blocks from the tokens, no Rich markup is parsed. `open_links=False` as a
second guard: should a link ever be made, a click only names it.
"""

from __future__ import annotations

from textual.widgets import Markdown

from lanes_tui.core.answer_text import inert_parser, safe_markdown
from lanes_tui.core.sanitize import one_line


class AnswerView(Markdown):
    # Headings left-aligned and without the blank lines around them: a pane of ten lines
    # should show the answer, not its spacing.
    DEFAULT_CSS = """
    AnswerView { height: auto; padding: 0 1; margin: 0; background: $surface; }
    AnswerView MarkdownHeader { margin: 0; }
    AnswerView MarkdownH1 { content-align: left top; }
    """

    def __init__(self, answer: str | None = None, *, id: str | None = None) -> None:
        super().__init__(safe_markdown(answer) if answer else "", id=id, open_links=False,
                         parser_factory=inert_parser)
        self.shown: str | None = answer or None  # the answer drawn now (None: none)

    def show(self, answer: str | None) -> None:
        """Draw `answer` (agent-written, raw) unless it is the one already drawn."""
        if answer == self.shown:
            return
        self.shown = answer
        self.update(safe_markdown(answer) if answer else "")

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        self.notify(f"links are not opened from the dashboard: {one_line(event.href, 300)}", markup=False)
