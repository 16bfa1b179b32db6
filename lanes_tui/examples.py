"""Where the example task files are: the wheel ships `tasks/` as `lanes_tui.examples`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def example_task_files() -> list[Path]:
    checkout = Path(__file__).resolve().parent.parent / "tasks"
    try:
        folder = Path(str(resources.files("lanes_tui.examples")))
    except (ModuleNotFoundError, TypeError):
        folder = checkout  # running from a checkout or an editable install
    if not folder.is_dir():
        folder = checkout
    return sorted(folder.glob("*.yaml"))
