"""Theme files: real files on disk, real Textual themes, a real App."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.color import Color
from textual.widgets import Static

from lanes_tui.core.sanitize import one_line
from lanes_tui.ui.themes import (
    BUILTIN_THEME_DIR,
    FALLBACK_DARK,
    FALLBACK_LIGHT,
    LANES_VARIABLES,
    LoadedThemes,
    ThemeError,
    fallback_themes,
    lanes_variable_defaults,
    load_theme_file,
    load_themes,
    user_theme_dir,
)

GOOD = 'name: good\ndark: true\nprimary: "#336699"\n'


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def luminance(colour: str) -> float:
    return Color.parse(colour).brightness


def assert_one_problem(loaded: LoadedThemes, path: Path) -> str:
    assert len(loaded.problems) == 1, loaded.problems
    problem = loaded.problems[0]
    assert problem.path == one_line(str(path))
    assert path.name in problem.message
    assert problem.message == one_line(problem.message)  # one line, nothing to escape
    return problem.message


# --- the shipped themes and the fallbacks ---------------------------------------------


def test_builtin_dir_is_the_shipped_themes_folder():
    assert BUILTIN_THEME_DIR.is_dir()
    assert (BUILTIN_THEME_DIR / "lanes-dark.yaml").is_file()
    assert (BUILTIN_THEME_DIR / "lanes-light.yaml").is_file()


def test_shipped_themes_load_dark_and_light():
    loaded = load_themes([BUILTIN_THEME_DIR])
    assert loaded.problems == ()
    by_name = {theme.name: theme for theme in loaded.themes}
    dark, light = by_name[FALLBACK_DARK], by_name[FALLBACK_LIGHT]
    assert dark.dark is True and light.dark is False
    assert luminance(dark.background) < 0.15
    assert luminance(light.background) > 0.9  # truly light, not a grey
    assert luminance(light.foreground) < 0.2
    for theme in (dark, light):
        assert set(LANES_VARIABLES) <= set(theme.variables)


def test_shipped_files_match_the_python_fallbacks():
    # The fallbacks stand in for the files; they must not drift apart.
    dark, light = fallback_themes()
    assert load_theme_file(BUILTIN_THEME_DIR / "lanes-dark.yaml") == dark
    assert load_theme_file(BUILTIN_THEME_DIR / "lanes-light.yaml") == light


def test_fallback_themes_define_every_lanes_variable_as_a_colour():
    dark, light = fallback_themes()
    assert (dark.name, dark.dark, light.name, light.dark) == (FALLBACK_DARK, True, FALLBACK_LIGHT, False)
    for theme in (dark, light):
        for name in LANES_VARIABLES:
            Color.parse(theme.variables[name])
    # Fresh objects each call: a caller that edits one cannot change the next.
    dark.variables["lanes-failed"] = "#000000"
    assert fallback_themes()[0].variables["lanes-failed"] != "#000000"


def test_user_theme_dir():
    assert user_theme_dir({"XDG_CONFIG_HOME": "/x/cfg", "HOME": "/h"}) == Path("/x/cfg/lanes-tui/themes")
    assert user_theme_dir({"HOME": "/h"}) == Path("/h/.config/lanes-tui/themes")
    # A relative XDG_CONFIG_HOME is invalid per the XDG spec and ignored.
    assert user_theme_dir({"XDG_CONFIG_HOME": "rel", "HOME": "/h"}) == Path("/h/.config/lanes-tui/themes")


# --- reading a good file ---------------------------------------------------------------


def test_minimal_theme_gets_lanes_defaults_and_file_variables_win(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yml", 'name: pale\ndark: false\nprimary: "#336699"\nvariables:\n  lanes-failed: "#aa0000"\n')
    loaded = load_themes([tmp_path])
    assert loaded.problems == ()
    good, pale = loaded.themes
    assert good.variables == lanes_variable_defaults(True)
    assert pale.variables == {**lanes_variable_defaults(False), "lanes-failed": "#aa0000"}


def test_textual_variables_and_plain_values_are_allowed(tmp_path):
    path = write(tmp_path, "t.yaml", GOOD + (
        "variables:\n"
        '  footer-key-foreground: "#88c0d0"\n'
        "  block-cursor-text-style: b reverse\n"
        '  input-selection-background: "#81a1c1 35%"\n'
        "  lanes-extra-hint: bold\n"
    ))
    theme = load_theme_file(path)
    assert theme.variables["block-cursor-text-style"] == "b reverse"
    assert theme.variables["lanes-extra-hint"] == "bold"


def test_dot_files_and_other_suffixes_are_ignored(tmp_path):
    write(tmp_path, ".#good.yaml", "not: [a theme")
    write(tmp_path, "notes.txt", "hello")
    write(tmp_path, "good.yaml", GOOD)
    loaded = load_themes([tmp_path])
    assert [t.name for t in loaded.themes] == ["good"] and loaded.problems == ()


# --- broken files ----------------------------------------------------------------------


BROKEN_TEXT = {
    "bad-yaml": ("name: [x\n", "x.yaml:"),
    "duplicate-key": (GOOD + "dark: false\n", "duplicate key 'dark'"),
    "unknown-key": (GOOD + "colour: red\n", "unknown key 'colour'"),
    "bad-colour": (GOOD + "accent: not-a-colour\n", "'accent' is not a colour"),
    "missing-name": ('dark: true\nprimary: "#336699"\n', "missing required key 'name'"),
    "dark-wrong-type": ('name: t\ndark: "yes"\nprimary: "#336699"\n', "'dark' must be true or false"),
    "too-big": (GOOD + "# " + "x" * (100 * 1024) + "\n", "too large"),
    "not-a-mapping": ("- a\n- b\n", "mapping"),
    "python-tag": ("name: !!python/object/apply:os.system ['true']\ndark: true\nprimary: red\n", "x.yaml"),
    "variables-not-mapping": (GOOD + "variables: [a]\n", "'variables' must be a mapping"),
    "unknown-variable": (GOOD + "variables:\n  colour: red\n", "unknown variable 'colour'"),
    "lanes-variable-not-colour": (GOOD + "variables:\n  lanes-failed: bold\n", "'lanes-failed' is not a colour"),
    "variable-not-string": (GOOD + "variables:\n  lanes-x: 12\n", "must be a string"),
    "variable-css-injection": (GOOD + 'variables:\n  lanes-x: "red; } Screen { display: none"\n', "'lanes-x'"),
    "variable-too-long": (GOOD + "variables:\n  lanes-x: " + "a" * 65 + "\n", "'lanes-x'"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN_TEXT))
def test_broken_file_is_reported_and_others_still_load(tmp_path, kind):
    text, expected = BROKEN_TEXT[kind]
    write(tmp_path, "a.yaml", GOOD)
    bad = write(tmp_path, "x.yaml", text)
    write(tmp_path, "z.yml", GOOD.replace("good", "other"))
    loaded = load_themes([tmp_path])
    message = assert_one_problem(loaded, bad)
    assert expected in message
    assert [t.name for t in loaded.themes] == ["good", "other"]
    with pytest.raises(ThemeError):
        load_theme_file(bad)


def test_directory_named_like_a_theme(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    (tmp_path / "x.yaml").mkdir()
    loaded = load_themes([tmp_path])
    assert "not a regular file" in assert_one_problem(loaded, tmp_path / "x.yaml")
    assert [t.name for t in loaded.themes] == ["good"]


def test_symlink_loop(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    loop = tmp_path / "x.yaml"
    os.symlink(loop.name, loop)  # points at itself
    loaded = load_themes([tmp_path])
    assert "x.yaml" in assert_one_problem(loaded, loop)
    assert [t.name for t in loaded.themes] == ["good"]


def test_dangling_symlink(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    link = tmp_path / "x.yaml"
    os.symlink(tmp_path / "gone.yaml", link)
    loaded = load_themes([tmp_path])
    assert_one_problem(loaded, link)
    assert [t.name for t in loaded.themes] == ["good"]


def test_unreadable_file(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    locked = write(tmp_path, "x.yaml", GOOD.replace("good", "locked"))
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):  # root reads anything: then it simply loads
            pytest.skip("running with privileges that ignore file modes")
        loaded = load_themes([tmp_path])
        assert "cannot read" in assert_one_problem(loaded, locked)
        assert [t.name for t in loaded.themes] == ["good"]
    finally:
        locked.chmod(0o600)


def test_missing_folder_is_fine_and_a_file_as_folder_is_reported(tmp_path):
    assert load_themes([tmp_path / "nope"]) == LoadedThemes(themes=(), problems=())
    not_dir = write(tmp_path, "plain", "x")
    loaded = load_themes([not_dir])
    assert loaded.themes == () and "not a directory" in loaded.problems[0].message


def test_load_theme_file_missing_raises_theme_error(tmp_path):
    with pytest.raises(ThemeError, match="does not exist"):
        load_theme_file(tmp_path / "gone.yaml")


# --- order and overrides ---------------------------------------------------------------


def test_later_folder_overrides_earlier_and_keeps_its_place(tmp_path):
    first, second = tmp_path / "builtin", tmp_path / "user"
    write(first, "a.yaml", 'name: alpha\ndark: true\nprimary: "#111111"\n')
    write(first, "b.yaml", 'name: beta\ndark: true\nprimary: "#222222"\n')
    write(second, "mine.yaml", 'name: alpha\ndark: false\nprimary: "#999999"\n')
    write(second, "new.yaml", 'name: gamma\ndark: true\nprimary: "#333333"\n')
    loaded = load_themes([first, tmp_path / "missing", second])
    assert loaded.problems == ()
    assert [t.name for t in loaded.themes] == ["alpha", "beta", "gamma"]
    alpha = loaded.themes[0]
    assert (alpha.primary, alpha.dark) == ("#999999", False)
    assert alpha.variables == lanes_variable_defaults(False)


def test_same_name_twice_in_one_folder_keeps_the_first(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    dup = write(tmp_path, "b.yaml", GOOD.replace("#336699", "#ff0000"))
    loaded = load_themes([tmp_path])
    assert "already defined by a.yaml" in assert_one_problem(loaded, dup)
    assert [t.primary for t in loaded.themes] == ["#336699"]


def test_user_theme_can_replace_a_builtin(tmp_path):
    write(tmp_path, "dark.yaml", 'name: lanes-dark\ndark: true\nprimary: "#ff00ff"\n')
    loaded = load_themes([BUILTIN_THEME_DIR, tmp_path])
    dark = next(t for t in loaded.themes if t.name == FALLBACK_DARK)
    assert dark.primary == "#ff00ff"
    assert set(LANES_VARIABLES) <= set(dark.variables)


# --- hostile input ---------------------------------------------------------------------


HOSTILE = {
    "name-escape": 'name: "evil\\e[2J\\e]0;pwned\\a"\ndark: true\nprimary: red\n',
    "name-markup": 'name: "[bold red]x[/]"\ndark: true\nprimary: red\n',
    "name-newline": 'name: "ok\\nsecond line"\ndark: true\nprimary: red\n',
    "variable-escape": GOOD + 'variables:\n  lanes-x: "\\e[31mred"\n',
    "variable-markup": GOOD + 'variables:\n  lanes-x: "[link=http://x]y[/link]"\n',
    "variable-bidi": GOOD + 'variables:\n  lanes-x: "abc\\u202edef"\n',
    "variable-name-escape": GOOD + 'variables:\n  "lanes-\\e[2J": red\n',
    "colour-escape": GOOD + 'accent: "red\\e[2J"\n',
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_values_are_refused_with_a_sanitised_message(tmp_path, kind):
    bad = write(tmp_path, "x.yaml", HOSTILE[kind])
    loaded = load_themes([tmp_path])
    assert loaded.themes == ()
    message = assert_one_problem(loaded, bad)
    for raw in ("\x1b", "\x07", "\n", "\u202e"):
        assert raw not in message


def test_hostile_file_name_is_sanitised(tmp_path):
    bad = write(tmp_path, "evil\x1b[2J\u202e.yaml", "name: [x\n")
    loaded = load_themes([tmp_path])
    problem = loaded.problems[0]
    assert "\x1b" not in problem.path + problem.message
    assert "\u202e" not in problem.path + problem.message
    assert problem.path == one_line(str(bad))


# --- a real Textual app ----------------------------------------------------------------


class ThemedApp(App[None]):
    # No get_theme_variable_defaults override: the theme alone must define the variable.
    CSS = "Static { color: $lanes-failed; }"

    def __init__(self, loaded: LoadedThemes, theme_name: str) -> None:
        super().__init__()
        for theme in loaded.themes:
            self.register_theme(theme)
        # Set before the stylesheet is parsed, so $lanes-failed exists from the start.
        self.theme = theme_name

    def compose(self) -> ComposeResult:
        yield Static("failed", id="cell")


async def test_loaded_theme_drives_a_real_app(tmp_path):
    write(tmp_path, "mine.yaml", 'name: mine\ndark: true\nprimary: "#336699"\nvariables:\n  lanes-failed: "#ff0033"\n')
    loaded = load_themes([BUILTIN_THEME_DIR, tmp_path])
    assert loaded.problems == ()
    app = ThemedApp(loaded, "mine")
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.current_theme.name == "mine"
        cell = app.query_one("#cell", Static)
        assert cell.styles.color == Color.parse("#ff0033")
        # Switching at run time re-resolves the variable.
        app.theme = FALLBACK_LIGHT
        await pilot.pause()
        assert app.current_theme.name == FALLBACK_LIGHT
        assert cell.styles.color == Color.parse(lanes_variable_defaults(False)["lanes-failed"])
    assert app.return_code in (0, None)


async def test_fallback_theme_works_in_a_real_app():
    dark, light = fallback_themes()
    app = ThemedApp(LoadedThemes(themes=(dark, light), problems=()), FALLBACK_DARK)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.current_theme.name == FALLBACK_DARK
        assert app.query_one("#cell", Static).styles.color == Color.parse(dark.variables["lanes-failed"])
