"""What the dashboard remembers between runs: the theme last picked with `t`.

One small JSON object in `$XDG_STATE_HOME/lanes-tui/dashboard.json` (else
`~/.local/state/lanes-tui/dashboard.json`)::

    {"theme": "lanes-light"}

It is a convenience, not configuration: reading never raises. A missing file
means nothing is remembered; an unreadable, oversized, corrupt or oddly shaped
one also means nothing is remembered, and comes with a one-line reason the
dashboard can show. Writing replaces the file atomically (temp file in the same
folder + rename, lanes_tui.core.fsio), keeping keys a newer version may have
added. No Textual here: the caller decides whether a theme name is known.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanes_tui.core import fsio
from lanes_tui.core.errors import LanesError
from lanes_tui.core.sanitize import one_line

STATE_FILE = "dashboard.json"
MAX_STATE_BYTES = 16 * 1024  # a few names; anything bigger is not ours
MAX_THEME_NAME_CHARS = 100
MAX_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class DashboardState:
    theme: str | None = None  # a theme name as stored; the App checks it is registered


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    """`$XDG_STATE_HOME/lanes-tui`, else `~/.local/state/lanes-tui`."""
    state_home = env.get("XDG_STATE_HOME", "")
    # The XDG spec says a relative XDG_STATE_HOME is invalid and to be ignored.
    if not state_home or not os.path.isabs(state_home):
        home = env.get("HOME") or os.path.expanduser("~")
        state_home = os.path.join(home, ".local", "state")
    return Path(state_home) / "lanes-tui"


def state_path(env: Mapping[str, str] = os.environ) -> Path:
    return state_dir(env) / STATE_FILE


def read_state(path: Path) -> tuple[DashboardState, str | None]:
    """(what is remembered, why nothing is: a one-line message, or None). Never raises."""
    data, problem = _read_object(path)
    if problem is not None or data is None:
        return DashboardState(), problem
    theme = data.get("theme")
    if theme is None:
        return DashboardState(), None
    if not isinstance(theme, str) or not theme or len(theme) > MAX_THEME_NAME_CHARS:
        return DashboardState(), _message(f"{path}: 'theme' is not a theme name; ignored")
    return DashboardState(theme=theme), None


def save_theme(path: Path, theme: str) -> None:
    """Remember `theme` in `path` (atomically), keeping the file's other keys.

    Raises OSError or LanesError (StoreError: the folder is a symlink) when it cannot be written.
    """
    data, _problem = _read_object(path)
    merged = dict(data or {})
    merged["theme"] = theme
    folder = path.parent
    os.makedirs(folder, mode=fsio.DIR_MODE, exist_ok=True)
    with fsio.open_dir(folder) as dir_fd:
        # Not fsynced: a preference lost to a power cut costs one press of `t`; the rename
        # still means a reader sees the old file or the new one, never half of one.
        fsio.write_atomic(path.name, fsio.dumps_json(merged), dir_fd=dir_fd, durable=False)


def describe_error(exc: BaseException) -> str:
    """A one-line description of why save_theme failed."""
    if isinstance(exc, OSError):
        return _message(fsio.describe_os_error(exc, str(exc.filename or STATE_FILE)))
    return _message(str(exc))


def _read_object(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        with fsio.open_dir(path.parent) as dir_fd:
            raw = fsio.read_file(path.name, dir_fd=dir_fd, max_bytes=MAX_STATE_BYTES)
    except FileNotFoundError:
        return None, None
    except LanesError as exc:  # not a regular file, too big, the folder a symlink
        return None, _message(f"{path}: {exc}; ignored")
    except OSError as exc:
        return None, _message(f"{fsio.describe_os_error(exc, str(path))}; ignored")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, _message(f"{path}: not valid JSON; ignored")
    if not isinstance(data, dict):
        return None, _message(f"{path}: not a JSON object; ignored")
    return data, None


def _message(text: str) -> str:
    return one_line(text, MAX_MESSAGE_CHARS)
