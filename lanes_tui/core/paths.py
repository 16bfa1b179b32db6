"""Paths from users: `~` expanded without a traceback (pure).

`Path("~nosuchuser/x").expanduser()` raises RuntimeError, which reached users as
"internal error" (exit 70) in issue 10's fuzz. Every path a user types goes
through `expand_user`, which turns that into the caller's kind of error.
"""

from __future__ import annotations

import os
from pathlib import Path

from lanes_tui.core.errors import InvalidInput, LanesError


def expand_user(raw: str | os.PathLike[str], what: str = "path", error: type[LanesError] = InvalidInput) -> Path:
    """`raw` with a leading `~` or `~user` expanded; `error` (exit 5 by default) when the
    user or the home folder is unknown, or the path holds a NUL byte."""
    text = os.fspath(raw)
    if "\x00" in text:
        raise error(f"{what} contains a NUL byte")
    try:
        return Path(text).expanduser()
    except RuntimeError:
        head = text.split("/", 1)[0]
        raise error(f"{what} {text[:80]!r}: cannot expand {head[:40]!r} (no such user, or no home folder)") from None
