"""Make untrusted text safe to draw in a terminal UI.

Agent output, prompts, owners and file names are untrusted. Raw ESC and C1
bytes pass through every Textual widget and reach the terminal (screen clears,
OSC 52 clipboard writes, window titles), and bidi controls can make text read
differently from what it is ("Trojan Source"). We sanitise once, where text
enters the UI model; files on disk keep the raw bytes.

Replaced, each with a visible escape:

* C0 controls U+0000-U+001F except tab and newline (so CR, BS, ESC, FF, VT...),
  DEL U+007F and C1 controls U+0080-U+009F: they drive the terminal.
* Bidi embeddings, overrides and isolates U+202A-U+202E, U+2066-U+2069, and the
  invisible direction marks U+200E (LRM), U+200F (RLM), U+061C (ALM). The marks
  are not overrides, but they are invisible and still reorder neutral characters
  (punctuation, digits, paths) around them; a dashboard that shows task names,
  paths and commands must show what is there, so they are made visible too.
  Right-to-left letters themselves are kept.
* U+2028/U+2029 (line and paragraph separators): Python's `splitlines` breaks
  there while the terminal does not, so line counts and layout would disagree.
* Lone surrogates U+D800-U+DFFF (from `surrogateescape` decoding): writing one
  to the terminal raises UnicodeEncodeError and would take the UI down.

Every other code point is kept, including zero-width joiners (emoji sequences
need them) and wide characters.

The escape form is `\\xHH` below U+0100 and `\\uHHHH` above, in lower-case hex:
ESC becomes the four characters `\\x1b`, RLO becomes `\\u202e`. The output is
plain ASCII escapes plus the kept text, so `clean` is idempotent. A literal
backslash is not escaped: the escapes are for reading, not for decoding (the
raw bytes stay on disk).
"""

from __future__ import annotations

import re

ELLIPSIS = "\u2026"

_FORBIDDEN_CLASS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 except \t \n, DEL, C1
    "\u061c\u200e\u200f"  # direction marks
    "\u202a-\u202e\u2066-\u2069"  # embeddings, overrides, isolates
    "\u2028\u2029"  # separators splitlines() honours but terminals do not
    "\ud800-\udfff"  # lone surrogates
)
_FORBIDDEN = re.compile(f"[{_FORBIDDEN_CLASS}]")
# one_line folds every kind of line break or tab into one space; the rest of
# the C0/C1 set is escaped by clean() as usual.
_BREAKS = re.compile("[\t\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029 ]+")


def escape_char(char: str) -> str:
    """The visible escape of one code point (`\\x1b`, `\\u202e`)."""
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def is_forbidden(char: str) -> bool:
    return _FORBIDDEN.fullmatch(char) is not None


def is_clean(text: str) -> bool:
    """True when `text` holds no code point that `clean` would replace."""
    return _FORBIDDEN.search(text) is None


def _escape_match(match: re.Match[str]) -> str:
    return escape_char(match.group())


def clean(text: str, max_len: int | None = None) -> str:
    """Replace terminal-unsafe code points with visible escapes.

    With `max_len`, the result has at most `max_len` code points (terminal cell
    width is the UI's business): longer text is cut and ends with "…". The cut
    never splits an escape, so a shortened `\\x1b` never reads as `\\x`.
    """
    return _clean_cut(text, max_len)[0]


def one_line(text: str, max_len: int | None = None) -> str:
    """`clean` for a table cell or a status line: a single line.

    Runs of whitespace that break or indent lines (newline, CR, tab, VT, FF,
    the Unicode line/paragraph separators) and spaces collapse into one space,
    and the ends are stripped, so "a\\r\\n  b" becomes "a b". A cut line does
    not end with a space before the "…".
    """
    # Folding first (over the whole text: one C-speed pass) keeps the cut
    # honest when a long run of blanks would otherwise eat the budget.
    out, cut = _clean_cut(_BREAKS.sub(" ", text).strip(" "), max_len)
    if cut and out[:-1].endswith(" "):
        out = out[:-1].rstrip(" ") + ELLIPSIS
    return out


def _clean_cut(text: str, max_len: int | None) -> tuple[str, bool]:
    """The cleaned text, and whether it was cut to fit `max_len`."""
    if max_len is None:
        return _FORBIDDEN.sub(_escape_match, text), False
    if max_len < 0:
        raise ValueError("max_len must be >= 0")
    # Each input code point yields at least one output code point, so only the
    # first max_len + 1 can matter: huge text costs nothing extra.
    head = text[: max_len + 1]
    out = _FORBIDDEN.sub(_escape_match, head)
    if len(out) <= max_len and len(head) == len(text):
        return out, False
    if max_len == 0:
        return "", True
    budget = max_len - len(ELLIPSIS)
    pieces: list[str] = []
    used = 0
    for char in head:
        piece = escape_char(char) if is_forbidden(char) else char
        if used + len(piece) > budget:
            break
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces) + ELLIPSIS, True
