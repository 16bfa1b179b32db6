"""The answer's Markdown: sanitised, capped, and parsed with no rule that makes a link or passes HTML."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lanes_tui.core.answer_text import inert_parser, safe_markdown
from lanes_tui.core.sanitize import is_clean

ACTIVE = {"link_open", "image", "html_block", "html_inline"}
PIECES = st.sampled_from(["[a](https://x.example)", "![i](http://y/i.png)", "<https://z.example>",
                          "https://w.example/p", "[r]: https://q.example", "[r]", "<script>x</script>",
                          "<img src=x onerror=y>", "\x1b[2J", "\u202e", "# h", "- item", "`code`", "```",
                          "\n", "\n\n", " ", "text"])


def tokens(source: str) -> list:
    out = []
    for token in inert_parser().parse(source):
        out.append(token)
        out.extend(token.children or ())
    return out


@given(st.lists(PIECES | st.text(max_size=20), max_size=30).map("".join))
def test_no_link_image_or_html_token_survives_and_no_control_character(body):
    shown = safe_markdown(body)
    assert is_clean(shown)
    assert not ACTIVE & {token.type for token in tokens(shown)}


def test_links_stay_visible_text_and_the_rest_still_renders():
    shown = safe_markdown("# Title\n\nsee [docs](https://evil.example/x) and <b>bold</b>\n\n- one\n- two\n")
    kinds = [token.type for token in tokens(shown)]
    assert "heading_open" in kinds and "bullet_list_open" in kinds
    texts = "".join(token.content for token in tokens(shown) if token.type == "text")
    assert "[docs](https://evil.example/x)" in texts and "<b>bold</b>" in texts


def test_a_huge_answer_is_cut_and_says_so():
    shown = safe_markdown("x" * 300, limit=100)
    assert shown.startswith("x" * 100) and "x" * 101 not in shown
    assert "answer cut at 100 of 300 characters" in shown
    assert safe_markdown("short", limit=100) == "short"
