"""Printing in agent-lanes' shapes: JSON with indent 2 and sorted keys, or its terse text."""

from __future__ import annotations

import sys
from typing import Any

from lanes_tui.core import jsonout


def emit(data: dict[str, Any], as_json: bool) -> None:
    """agent-lanes' `_print`: JSON, or the task id alone when there is one."""
    if as_json or "task_id" not in data:
        sys.stdout.write(jsonout.dumps(data) + "\n")
    else:
        sys.stdout.write(f"{data['task_id']}\n")


def emit_json(data: dict[str, Any]) -> None:
    sys.stdout.write(jsonout.dumps(data) + "\n")


def warn(message: str) -> None:
    print(f"lanes-tui: warning: {' '.join(message.split())}", file=sys.stderr)


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
