"""An agent's answer as Markdown that is safe to render: what the dashboard draws.

The answer is agent-written, so untrusted. Nothing is rewritten; two things are
done to the text and one to the parser:

* Control, bidi and separator code points are escaped (`sanitize.clean`): a
  Markdown renderer passes them through to the terminal like any widget.
* It is cut to `ANSWER_SHOWN` characters, with a line that says so: a renderer
  builds widgets per block, and megabytes of them would stall the dashboard.
  The whole answer stays in the store (`lanes-tui wait <id>` writes it out).
* The parser (`inert_parser`) has no link, image, autolink, linkify, reference
  or raw-HTML rules: `[text](https://x)` stays those characters, so a reader
  sees where a link would go and nothing can be clicked, fetched or opened.
  Headings, lists, emphasis, code, tables and quotes render as usual.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

from lanes_tui.core.sanitize import clean

ANSWER_SHOWN = 200_000

# markdown-it rule names (block, inline and core chains) that make links or pass HTML through.
INERT_RULES = ("link", "image", "autolink", "linkify", "reference", "html_block", "html_inline")


def inert_parser() -> MarkdownIt:
    """The "gfm-like" parser Textual uses by default, without the rules in INERT_RULES."""
    parser = MarkdownIt("gfm-like")
    parser.disable(list(INERT_RULES), ignoreInvalid=True)
    return parser


def safe_markdown(body: str, limit: int = ANSWER_SHOWN) -> str:
    """The answer, sanitised and capped (see the module text)."""
    text = clean(body)
    if len(text) <= limit:
        return text
    return (text[:limit] + f"\n\n*(answer cut at {limit:,} of {len(text):,} characters: "
            "`lanes-tui wait <id>` writes it all to the response file)*")
