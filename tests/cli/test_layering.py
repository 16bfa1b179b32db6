"""The package's layers, enforced from the source (every import, lazy ones in functions too):

    core      pure: imports only lanes_tui.core (and no Textual, Rich or asyncio-bound engine)
    storage   where the queue lives: core and itself; storage/files is the agent-lanes file store
    gitwork   git for task isolation (worktrees, branches, results): core and itself
    vendors   the vendor-CLI subsystem (argv, permissions, streams, prompting, process, guard,
              demo agent, the built-in vendor tables): core and itself
    engine    core, vendors, storage, gitwork, engine and the supervisor settings
    ui        anything but the CLI's commands
    commands  anything (they are the CLI)

Imports under `if TYPE_CHECKING:` are annotations only and do not count. A positive control
checks the scanner sees a lazy import inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lanes_tui

PACKAGE = Path(lanes_tui.__file__).parent
ALLOWED = {
    "core": ("lanes_tui.core",),
    "storage": ("lanes_tui.core", "lanes_tui.storage"),
    "gitwork": ("lanes_tui.core", "lanes_tui.gitwork"),
    "vendors": ("lanes_tui.core", "lanes_tui.vendors"),
    "engine": ("lanes_tui.core", "lanes_tui.vendors", "lanes_tui.engine", "lanes_tui.settings",
               "lanes_tui.storage", "lanes_tui.gitwork"),
    "ui": ("lanes_tui.core", "lanes_tui.vendors", "lanes_tui.engine", "lanes_tui.ui", "lanes_tui.settings",
           "lanes_tui.builtin_themes", "lanes_tui.storage", "lanes_tui.gitwork"),
}
FILE_BACKEND = "lanes_tui.storage.files"
# Modules outside the file backend that still import it directly, each for a reason of its own;
# the test fails when an entry is no longer needed, so the list can only shrink.
STILL_IMPORT_FILE_BACKEND = {
    "commands/hooks.py",  # Claude Code's edit hook runs before every edit: the lock folder alone, not the store
}
NEVER_BELOW_UI = ("textual", "rich")


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import that runs, `if TYPE_CHECKING:` blocks left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "lanes_tui":
                found += [(node.lineno, f"lanes_tui.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def violations(layer: str) -> list[str]:
    bad = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for line, module in imports_of(path):
            where = f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}"
            if module.split(".")[0] in NEVER_BELOW_UI and layer != "ui":
                bad.append(where)
            if module.startswith("lanes_tui") and not any(
                    module == allowed or module.startswith(allowed + ".") for allowed in ALLOWED[layer]):
                bad.append(where)
    return bad


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_what_is_below_it(layer):
    assert violations(layer) == []


def file_backend_importers() -> set[str]:
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("storage/files/") or relative == "storage/__init__.py":  # the backend, its opener
            continue
        if any(module == FILE_BACKEND or module.startswith(FILE_BACKEND + ".") for _, module in imports_of(path)):
            found.add(relative)
    return found


def test_only_the_listed_modules_reach_into_the_file_backend():
    found = file_backend_importers()
    assert found - STILL_IMPORT_FILE_BACKEND == set(), "new code must go through the storage seam"
    assert STILL_IMPORT_FILE_BACKEND - found == set(), "no longer imports the file backend: drop it from the list"


def test_the_scanner_sees_lazy_imports_and_skips_type_checking_blocks(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lanes_tui.ui import app\n"
                      "def later():\n    from lanes_tui.commands import queue\n    import textual\n", encoding="utf-8")
    assert [m for _, m in imports_of(sample)] == ["typing", "lanes_tui.commands", "textual"]
