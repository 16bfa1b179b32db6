"""Untrusted text made safe for the terminal: visible escapes, nothing else changed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lanes_tui.core.sanitize import ELLIPSIS, clean, escape_char, is_clean, is_forbidden, one_line

FORBIDDEN = (
    [chr(c) for c in range(0x00, 0x20) if chr(c) not in "\t\n"]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + ["\u061c", "\u200e", "\u200f", "\u2028", "\u2029"]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\ud800", "\udbff", "\udc80", "\udfff"]
)
KEPT = ["\t", "\n", " ", "a", "~", "\xa0", "\xe9", "\u05d0", "\u0627", "\u200b", "\u200d", "\u2026", "\u202f",
        "\u2065", "\u206a", "\ufeff", "\U0001f600", "\u4e2d", "\\"]


@pytest.mark.parametrize("char", FORBIDDEN)
def test_forbidden_code_points_become_visible_escapes(char):
    out = clean(f"a{char}b")
    assert out == f"a{escape_char(char)}b"
    assert out.isascii() and out.isprintable()
    assert is_forbidden(char) and not is_clean(char) and is_clean(out)


@pytest.mark.parametrize("char", KEPT)
def test_other_code_points_are_kept(char):
    assert clean(f"a{char}b") == f"a{char}b"
    assert not is_forbidden(char)


def test_escape_forms():
    assert clean("\x1b[2J") == "\\x1b[2J"
    assert clean("\x00\x7f\x9b") == "\\x00\\x7f\\x9b"
    assert clean("\u202eevil") == "\\u202eevil"
    assert clean("\r\n") == "\\x0d\n"
    assert clean("\udc80") == "\\udc80"


def test_terminal_attacks_are_defused():
    osc52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # clipboard write
    title = "\x1b]0;pwned\x1b\\"
    c1_csi = "\x9b2J"  # 8-bit CSI: clear screen
    trojan = "access = \u202e } \u2066if (admin)\u2069 \u2066 {"
    for attack in (osc52, title, c1_csi, trojan):
        out = clean(attack)
        assert is_clean(out)
        assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    # Lone surrogates cannot be encoded for the terminal; the cleaned text can.
    clean("bad \udcff byte").encode("utf-8")


def test_tab_and_newline_survive_clean():
    assert clean("a\tb\nc") == "a\tb\nc"


def test_truncation_adds_ellipsis_and_respects_max_len():
    assert clean("abcdef", 4) == "abc" + ELLIPSIS
    assert clean("abcd", 4) == "abcd"
    assert clean("", 0) == "" and clean("abc", 0) == ""
    assert clean("abc", 1) == ELLIPSIS
    assert clean("x" * 10_000_000, 10) == "x" * 9 + ELLIPSIS


def test_truncation_never_splits_an_escape():
    assert clean("ab\x1bcd", 5) == "ab" + ELLIPSIS  # "\x1b" (4 chars) would not fit whole
    assert clean("ab\x1bcd", 7) == "ab\\x1b" + ELLIPSIS
    assert clean("ab\x1b", 6) == "ab\\x1b"
    # Escapes can make short input too long: still capped.
    assert clean("\x1b\x1b", 4) == ELLIPSIS
    assert len(clean("\x1b\x1b", 8)) == 8


def test_negative_max_len_is_an_error():
    with pytest.raises(ValueError):
        clean("a", -1)


def test_one_line_folds_whitespace():
    assert one_line("  first\r\n\tsecond  \n\n third\u2028fourth\x0bfifth ") == "first second third fourth fifth"
    assert one_line("a\x1bb\nc") == "a\\x1bb c"
    assert one_line("\n\n") == ""


def test_one_line_truncation():
    assert one_line("hello    world and more", 8) == "hello w" + ELLIPSIS
    assert one_line("hello    world and more", 7) == "hello" + ELLIPSIS  # no space before the ellipsis
    assert one_line("hello\n\n\n\nworld", 11) == "hello world"
    assert one_line(" " * 1_000_000 + "abc", 5) == "abc"  # leading blanks do not eat the budget
    assert one_line("text that ends in \u2026", 40) == "text that ends in \u2026"


ALPHABET = st.characters(codec=None, exclude_categories=()) | st.sampled_from(FORBIDDEN + KEPT)
texts = st.text(alphabet=ALPHABET, max_size=80)
limits = st.none() | st.integers(min_value=0, max_value=40)


@settings(max_examples=500, deadline=None)
@given(texts, limits)
def test_clean_output_has_no_forbidden_code_point_and_is_idempotent(text, max_len):
    out = clean(text, max_len)
    assert is_clean(out)
    assert not any(is_forbidden(c) for c in out)
    assert clean(out, max_len) == out
    assert clean(out) == out
    if max_len is not None:
        assert len(out) <= max_len
    else:
        # Nothing is lost: removing the escapes of the forbidden code points gives the input back.
        expected = "".join(escape_char(c) if is_forbidden(c) else c for c in text)
        assert out == expected


@settings(max_examples=500, deadline=None)
@given(texts, limits)
def test_one_line_is_a_clean_single_line(text, max_len):
    out = one_line(text, max_len)
    assert is_clean(out)
    assert not any(c in out for c in "\n\t\r\x0b\x0c\u2028\u2029")
    assert "  " not in out and out == out.strip(" ")
    assert one_line(out, max_len) == out
    if max_len is not None:
        assert len(out) <= max_len
        assert not out.endswith(" " + ELLIPSIS)


@settings(max_examples=200, deadline=None)
@given(texts, st.integers(min_value=1, max_value=40))
def test_truncated_clean_is_a_prefix_of_full_clean(text, max_len):
    full = clean(text)
    cut = clean(text, max_len)
    if cut.endswith(ELLIPSIS) and len(full) > max_len:
        assert full.startswith(cut[: -len(ELLIPSIS)])
    else:
        assert cut == full
