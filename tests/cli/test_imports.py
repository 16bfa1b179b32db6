"""One-shot commands stay light: they never import Textual or Rich (the dashboard's libraries).

Each check runs in a fresh interpreter, because this test process may already have
imported them. Each script ends with a positive control (importing textual *does* show
up in sys.modules), so a broken check cannot pass silently.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lanes_tui

HEAVY = ("textual", "rich")

CHECK = """
heavy = sorted(name for name in sys.modules if name.split(".")[0] in {heavy!r})
assert not heavy, f"imported: {{heavy}}"
import textual, rich  # positive control: the detection above does see these modules
assert "textual" in sys.modules and "rich" in sys.modules
print("LIGHT-OK")
"""


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)


COMMANDS = {
    "list": ["list"],
    "list-json": ["--json", "list"],
    "status-all": ["status", "--all"],
    "status-id": ["status", "{task_id}"],
    "submit": ["submit", "--lane", "default", "--request-from", "request.md", "--response-to", "out2.md"],
    "next": ["next", "--lane", "default", "--timeout", "0"],
    "next-idle": ["next", "--lane", "empty", "--timeout", "0", "--json"],
    "claim-respond-wait": None,  # a sequence, see below
    "error": ["status", "20260101T000000000000Z-nobody-000000000000"],
    "demo": ["demo"],
    "init": ["init", "fresh"],
    "version": ["--version"],
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_one_shot_commands_do_not_import_textual_or_rich(workspace, name):
    task_id = workspace.submit()["id"]
    other_id = workspace.submit(name="other")["id"]
    if COMMANDS[name] is None:
        sequence = [["claim", other_id, "--owner", "w"], ["respond", task_id, "--body", "x"],
                    ["wait", task_id, "--timeout", "5"], ["cancel", other_id],
                    ["archive", "--older-than-days", "0", "--dry-run"]]
    else:
        sequence = [[arg.replace("{task_id}", task_id) for arg in COMMANDS[name]]]
    config = str(workspace.config)
    argvs = [argv if argv[0] in ("demo", "init", "--version") else ["--config", config, *argv] for argv in sequence]
    expected = 4 if name == "error" else 0
    code = textwrap.dedent(
        f"""
        import sys
        from lanes_tui.cli import main
        for argv in {json.dumps(argvs)}:
            try:
                rc = main(argv)
            except SystemExit as exc:  # --version
                rc = exc.code or 0
            assert rc == {expected}, (argv, rc)
        """
    ) + CHECK.format(heavy=HEAVY)
    result = run_python(code, workspace.root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("LIGHT-OK")


def test_core_engine_storage_and_vendor_modules_do_not_import_textual_or_rich(tmp_path):
    package_dir = Path(lanes_tui.__file__).parent
    modules = ["lanes_tui", "lanes_tui.cli", "lanes_tui.core.handoff", "lanes_tui.commands"]
    for sub in ("core", "engine", "storage", "storage/files", "storage/memory", "vendors", "gitwork"):
        modules.append("lanes_tui." + sub.replace("/", "."))
        modules += ["lanes_tui." + sub.replace("/", ".") + "." + path.stem
                    for path in sorted((package_dir / sub).glob("*.py")) if path.stem != "__init__"]
    assert "lanes_tui.storage.files.store" in modules and "lanes_tui.engine.waiting" in modules
    code = textwrap.dedent(
        f"""
        import importlib, sys
        for name in {modules!r}:
            importlib.import_module(name)
        """
    ) + CHECK.format(heavy=HEAVY)
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("LIGHT-OK")
