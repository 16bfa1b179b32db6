"""Where the example task files are.

The wheel ships the repository's `tasks/` folder as `lanes_tui/examples/`
(see `package-dir` in pyproject.toml); a checkout or an editable install reads
`tasks/` directly.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def example_task_files() -> list[Path]:
    for folder in (_PACKAGE / "examples", _PACKAGE.parent / "tasks"):
        files = sorted(folder.glob("*.yaml"))
        if files:
            return files
    return []
