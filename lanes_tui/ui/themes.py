"""Dashboard themes: YAML files read at run time into Textual `Theme` objects.

Theme files are user input: they are read with the project's strict YAML loader
(no tags, no aliases, no duplicate keys, size-capped), every key and value is
checked, and a broken file becomes a `ThemeProblem` instead of an exception, so
one bad file never keeps the dashboard from starting. The dashboard always has
`lanes-dark` and `lanes-light`: `fallback_themes()` holds Python copies of the
shipped files for when those are missing or broken.

A theme file::

    name: my-theme          # [a-z0-9][a-z0-9-]{0,39}
    dark: true
    primary: "#5aa9ff"      # required; secondary, accent, foreground, background,
                            # surface, panel, boost, warning, error, success optional
    variables:              # optional; lanes-* or Textual's own variable names
      lanes-failed: "#ff6b6b"
      lanes-selected: "#263a52"   # the selected row's background

Every lanes-* colour (and `foreground`) is drawn on `lanes-selected` when its
row is selected: keep them 4.5:1 apart (tests/ui/test_theme_contrast.py checks
the shipped themes).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.css.tokenize import tokenize_value
from textual.design import ColorSystem
from textual.theme import Theme

from lanes_tui.core.errors import LanesError
from lanes_tui.core.sanitize import is_clean, one_line
from lanes_tui.core.yamlload import load_mapping

FALLBACK_DARK = "lanes-dark"
FALLBACK_LIGHT = "lanes-light"

MAX_THEME_BYTES = 64 * 1024
# A theme folder holds a handful of files; the cap keeps a mistaken folder
# (a home directory, a mount of generated YAML) from stalling start-up.
MAX_THEME_FILES = 256
MAX_MESSAGE_CHARS = 300
MAX_VALUE_CHARS = 64
THEME_SUFFIXES = (".yaml", ".yml")

NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
# CSS variable names: Textual's are lower-case words joined by "-".
_VARIABLE_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
# Non-colour values ("bold", "b reverse", "#81a1c1 35%") end up in the CSS token
# stream, so they are held to characters that cannot close a rule or start
# markup: no ; { } $ [ ] quotes or backslashes.
_PLAIN_VALUE_RE = re.compile(r"[A-Za-z0-9 #%(),._-]{1,64}")

COLOUR_KEYS = (
    "primary", "secondary", "accent", "foreground", "background",
    "surface", "panel", "boost", "warning", "error", "success",
)
_REQUIRED_KEYS = ("name", "dark", "primary")
_ALLOWED_KEYS = frozenset(("name", "dark", "variables", *COLOUR_KEYS))

LANES_PREFIX = "lanes-"
# The variables the dashboard's .tcss uses: every theme defines them, so a user
# theme that leaves them out still renders. lanes-selected is the background of
# the selected task row, under cells drawn in all the others.
LANES_VARIABLES = (
    "lanes-queued", "lanes-claimed", "lanes-completed",
    "lanes-failed", "lanes-attention", "lanes-muted", "lanes-selected",
)

# The shipped palettes. themes/lanes-dark.yaml and themes/lanes-light.yaml hold
# the same values (a test keeps them in step). Every colour is 4.5:1 or more
# against the surface and against lanes-selected (tests/ui/test_theme_contrast.py).
_DARK_LANES = {
    "lanes-queued": "#8ab4f8",
    "lanes-claimed": "#f2c14e",
    "lanes-completed": "#5fd38d",
    "lanes-failed": "#ff8080",
    "lanes-attention": "#ff9e3d",
    "lanes-muted": "#9da7b1",
    "lanes-selected": "#263a52",
}
_LIGHT_LANES = {
    "lanes-queued": "#1b58b0",
    "lanes-claimed": "#7f5300",
    "lanes-completed": "#176f31",
    "lanes-failed": "#b71c1c",
    "lanes-attention": "#9e4300",
    "lanes-muted": "#57606a",
    "lanes-selected": "#d8e6f8",
}


class ThemeError(Exception):
    """A theme file cannot be used; the message is one sanitised line naming the file."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message, MAX_MESSAGE_CHARS))


@dataclass(frozen=True)
class ThemeProblem:
    """A theme file (or folder) that was skipped, and why.

    Both fields are sanitised single lines, but plain text, not Rich markup:
    show them with markup off.
    """

    path: str
    message: str


@dataclass(frozen=True)
class LoadedThemes:
    themes: tuple[Theme, ...]
    problems: tuple[ThemeProblem, ...]


def _builtin_theme_dir() -> Path:
    # `lanes_tui.builtin_themes` is the repository's themes/ folder (package-dir in
    # pyproject.toml). It is a regular package (themes/__init__.py), so files()
    # gives a real directory for an editable install and for an installed wheel.
    try:
        found = files("lanes_tui.builtin_themes")
    except ModuleNotFoundError:
        # Run from a bare checkout that was never installed: package-dir mappings
        # exist only once installed, so read themes/ next to the package.
        return Path(__file__).resolve().parents[2] / "themes"
    return Path(str(found))


BUILTIN_THEME_DIR: Path = _builtin_theme_dir()


def user_theme_dir(env: Mapping[str, str] = os.environ) -> Path:
    """`$XDG_CONFIG_HOME/lanes-tui/themes`, else `~/.config/lanes-tui/themes`."""
    config_home = env.get("XDG_CONFIG_HOME", "")
    # The XDG spec says a relative XDG_CONFIG_HOME is invalid and to be ignored.
    if not config_home or not os.path.isabs(config_home):
        home = env.get("HOME") or os.path.expanduser("~")
        config_home = os.path.join(home, ".config")
    return Path(config_home) / "lanes-tui" / "themes"


def fallback_themes() -> tuple[Theme, Theme]:
    """Fresh copies of lanes-dark and lanes-light, for when the files are unusable."""
    dark = Theme(
        name=FALLBACK_DARK,
        dark=True,
        primary="#5aa9ff",
        secondary="#a58bff",
        accent="#ffb454",
        foreground="#e6e9ef",
        background="#0f1419",
        surface="#161c23",
        panel="#1e2630",
        warning="#f2c14e",
        error="#ff6b6b",
        success="#5fd38d",
        variables=lanes_variable_defaults(True),
    )
    light = Theme(
        name=FALLBACK_LIGHT,
        dark=False,
        primary="#0b5cad",
        secondary="#6639ba",
        accent="#b04a00",
        foreground="#1b1f24",
        background="#f7f8fa",
        surface="#ffffff",
        panel="#e6eaef",
        warning="#8a5a00",
        error="#c62828",
        success="#176f31",
        variables=lanes_variable_defaults(False),
    )
    return dark, light


def lanes_variable_defaults(dark: bool) -> dict[str, str]:
    """The lanes-* variables a theme gets unless its file sets them.

    The dashboard App also returns these from `get_theme_variable_defaults()`,
    so its CSS parses even under a theme that did not come from this module
    (Textual's own themes, or before a lanes theme is selected).
    """
    return dict(_DARK_LANES if dark else _LIGHT_LANES)


@functools.cache
def _textual_variable_names() -> frozenset[str]:
    # Asked of Textual itself rather than copied, so a Textual upgrade that adds
    # variables does not need a change here.
    return frozenset(ColorSystem(primary="#000000").generate())


def load_theme_file(path: Path) -> Theme:
    """Read and check one theme file; raises ThemeError with a one-line message."""
    try:
        data = load_mapping(path, what="theme file", max_bytes=MAX_THEME_BYTES)
    except LanesError as exc:  # ConfigError / NotFound: already names the file
        raise ThemeError(str(exc)) from None
    except OSError as exc:  # a read error after open (EIO...)
        raise ThemeError(f"cannot read theme file {path}: {exc.strerror or exc}") from None
    return _build_theme(data, where=f"theme file {path}")


def _build_theme(data: Mapping[Any, Any], *, where: str) -> Theme:
    for key in data:
        if not isinstance(key, str) or key not in _ALLOWED_KEYS:
            raise ThemeError(f"{where}: unknown key {_show(key)}; allowed: {', '.join(sorted(_ALLOWED_KEYS))}")
    for key in _REQUIRED_KEYS:
        if key not in data:
            raise ThemeError(f"{where}: missing required key {key!r}")

    name = data["name"]
    if not isinstance(name, str) or NAME_RE.fullmatch(name) is None:
        raise ThemeError(
            f"{where}: 'name' must be 1-40 of a-z, 0-9 and '-', starting with a letter or digit; got {_show(name)}"
        )
    dark = data["dark"]
    if not isinstance(dark, bool):
        raise ThemeError(f"{where}: 'dark' must be true or false, got {_show(dark)}")

    colours: dict[str, str | None] = {}
    for key in COLOUR_KEYS:
        value = data.get(key)
        if value is None and key != "primary":
            colours[key] = None
            continue
        if not _is_colour(value):
            raise ThemeError(f"{where}: {key!r} is not a colour: {_show(value)}")
        colours[key] = value

    variables = lanes_variable_defaults(dark)
    variables.update(_check_variables(data.get("variables", {}), where=where))

    theme = Theme(name=name, dark=dark, variables=variables, **colours)  # type: ignore[arg-type]
    try:
        # Textual derives ~170 shades from these; doing it now means a theme
        # that would fail there fails here, with the file's name on it.
        theme.to_color_system().generate()
    except Exception as exc:  # noqa: BLE001 - any failure means "unusable theme"
        raise ThemeError(f"{where}: Textual cannot use this theme: {exc}") from None
    return theme


def _check_variables(raw: Any, *, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ThemeError(f"{where}: 'variables' must be a mapping of names to values")
    known = _textual_variable_names()
    checked: dict[str, str] = {}
    for key, value in raw.items():
        if (
            not isinstance(key, str)
            or _VARIABLE_NAME_RE.fullmatch(key) is None
            or not (key.startswith(LANES_PREFIX) or key in known)
        ):
            raise ThemeError(
                f"{where}: unknown variable {_show(key)}: use a name starting with "
                f"{LANES_PREFIX!r} or one of Textual's theme variables"
            )
        if not isinstance(value, str):
            raise ThemeError(f"{where}: variable {key!r} must be a string (quote it), got {_show(value)}")
        if key in LANES_VARIABLES:
            # The dashboard's CSS uses these as colours (`color: $lanes-failed`).
            if not _is_colour(value):
                raise ThemeError(f"{where}: variable {key!r} is not a colour: {_show(value)}")
        elif not _is_colour(value) and not _is_plain(value):
            raise ThemeError(
                f"{where}: variable {key!r} must be a colour or up to {MAX_VALUE_CHARS} "
                f"letters, digits, spaces and # % ( ) , . _ -; got {_show(value)}"
            )
        checked[key] = value
    return checked


def _is_colour(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > MAX_VALUE_CHARS or not is_clean(value):
        return False
    try:
        Color.parse(value)
    except ColorParseError:
        return False
    return True


def _is_plain(value: str) -> bool:
    if len(value) > MAX_VALUE_CHARS or _PLAIN_VALUE_RE.fullmatch(value) is None:
        return False
    # The value is spliced into Textual's CSS; make sure it is one well-formed value.
    try:
        list(tokenize_value(value, ("__name__", "")))
    except Exception:  # noqa: BLE001 - Textual's TokenError and friends
        return False
    return True


def _show(value: Any) -> str:
    """A short, quoted rendering of a bad value for an error message."""
    text = repr(value)  # repr escapes control characters; one_line catches the rest
    return text if len(text) <= 40 else text[:39] + "\u2026"


def load_themes(dirs: Iterable[Path]) -> LoadedThemes:
    """Every `*.yaml` / `*.yml` theme in `dirs`, in order; never raises for bad files.

    Files in a folder are read in name order; dot-files (editor locks and
    backups) are ignored. A later folder's theme replaces an earlier theme of
    the same name, keeping its place in the list; two files in one folder with
    the same theme name are a problem (the second is skipped). Missing folders
    are fine: the user theme folder usually does not exist.
    """
    themes: dict[str, Theme] = {}
    problems: list[ThemeProblem] = []
    for folder in dirs:
        folder = Path(folder)
        names, trouble = _list_theme_files(folder)
        if trouble is not None:
            problems.append(_problem(folder, trouble))
        seen_here: dict[str, Path] = {}
        for file_name in names:
            path = folder / file_name
            try:
                theme = load_theme_file(path)
            except ThemeError as exc:
                problems.append(_problem(path, str(exc)))
                continue
            if theme.name in seen_here:
                problems.append(_problem(
                    path, f"theme file {path}: theme {theme.name!r} is already defined by {seen_here[theme.name].name}; skipped"
                ))
                continue
            seen_here[theme.name] = path
            themes[theme.name] = theme
    return LoadedThemes(themes=tuple(themes.values()), problems=tuple(problems))


def _list_theme_files(folder: Path) -> tuple[list[str], str | None]:
    """The theme file names in `folder`, sorted, and a problem message or None."""
    try:
        with os.scandir(folder) as entries:
            names = sorted(
                entry.name for entry in entries
                if entry.name.endswith(THEME_SUFFIXES) and not entry.name.startswith(".")
            )
    except FileNotFoundError:
        return [], None
    except NotADirectoryError:
        return [], f"theme folder {folder} is not a directory"
    except OSError as exc:
        return [], f"cannot list theme folder {folder}: {exc.strerror or exc}"
    if len(names) > MAX_THEME_FILES:
        return names[:MAX_THEME_FILES], (
            f"theme folder {folder} holds {len(names)} theme files; only the first {MAX_THEME_FILES} were read"
        )
    return names, None


def _problem(path: Path, message: str) -> ThemeProblem:
    return ThemeProblem(path=one_line(str(path)), message=one_line(message, MAX_MESSAGE_CHARS))
