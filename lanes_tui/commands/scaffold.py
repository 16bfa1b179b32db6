"""`init` and `init-pool`: the agent-lanes folder layout, with quoted YAML.

Values are written as double-quoted YAML scalars (JSON string syntax is valid
YAML), so a workspace id like `yes`, `1e3` or `a: b` cannot change meaning.
The store gets a `.gitignore` so queue state never lands in a commit.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from lanes_tui.commands.output import emit_json
from lanes_tui.core import fsio
from lanes_tui.core.errors import ConflictError, InvalidInput
from lanes_tui.core.paths import expand_user

WRAPPER = """#!/usr/bin/env bash
# Runs lanes-tui (or agent-lanes: both understand this queue) against this folder's config.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec lanes-tui --config "${here}/../handoff.yaml" "$@"
"""


def _quoted(value: str) -> str:
    return json.dumps(value)


def _config_text(workspace_id: str, workspace_root: str, queue_root: str) -> str:
    return (
        "# agent-lanes engine configuration (read by agent-lanes and lanes-tui alike).\n"
        "# Task definitions live in their own files, e.g. tasks/<id>.yaml.\n"
        f"workspace_id: {_quoted(workspace_id)}\n"
        f"workspace_root: {_quoted(workspace_root)}\n"
        f"queue_root: {_quoted(queue_root)}\n"
        "lanes:\n"
        "  default:\n"
        "    description: \"general-purpose lane\"\n"
    )


def _make_store(path: Path) -> None:
    path.mkdir(mode=fsio.DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, fsio.DIR_MODE)
    with fsio.open_dir(path) as fd:
        fsio.write_atomic(".gitignore", "# lanes-tui / agent-lanes queue state: never commit it\n*\n", dir_fd=fd, mode=0o644)


def _check_value(value: str, what: str) -> str:
    if not value.strip() or any(ord(ch) < 32 for ch in value):
        raise InvalidInput(f"{what} must be non-empty text without control characters")
    return value


def run(args: argparse.Namespace) -> int:
    return _init(args) if args.command == "init" else _init_pool(args)


def _init(args: argparse.Namespace) -> int:
    target = expand_user(args.path).resolve()
    handoff = target / "handoff"
    if handoff.exists():
        raise ConflictError(f"handoff/ already exists: {handoff}")
    workspace_id = _check_value(target.name or "workspace" if args.workspace_id is None else args.workspace_id, "--workspace-id")
    workspace_root = _check_value(args.workspace_root, "--workspace-root")
    queue_root = _check_value(args.queue_root, "--queue-root")
    target.mkdir(parents=True, exist_ok=True)  # only once every value was checked: bad input writes nothing
    (handoff / "bin").mkdir(parents=True)
    (handoff / "handoff.yaml").write_text(_config_text(workspace_id, workspace_root, queue_root), encoding="utf-8")
    wrapper = handoff / "bin" / "handoff"
    wrapper.write_text(WRAPPER, encoding="utf-8")
    wrapper.chmod(0o755)
    store = expand_user(queue_root, "--queue-root")
    _make_store(store if store.is_absolute() else handoff / store)
    examples = [] if getattr(args, "no_examples", False) else _copy_examples(target / "tasks")
    payload = {
        "status": "initialized",
        "handoff": str(handoff),
        "workspace_id": workspace_id,
        "workspace_root": workspace_root,
        "queue_root": queue_root,
        "examples": [str(path) for path in examples],
        "next_steps": [
            "create task definitions outside handoff/ (commonly tasks/<id>.yaml; examples are there)",
            "submit with: lanes-tui --config handoff/handoff.yaml submit --task tasks/<id>.yaml "
            "--request-from <path> --response-to <path>",
        ],
    }
    if getattr(args, "json", False):
        emit_json(payload)
    else:
        print(f"lanes-tui queue scaffolded at: {handoff}")
        print(f"workspace_id: {workspace_id}")
        print(f"workspace_root: {workspace_root}")
        print(f"queue_root: {queue_root}")
        if examples:
            print(f"example tasks: {', '.join(str(path.relative_to(target)) for path in examples)}")
    return 0


def _copy_examples(folder: Path) -> list[Path]:
    """The shipped example task definitions into `folder` (tasks/), never over a file that is there:
    the README's `submit --task tasks/code-review.yaml` then works right after `init`."""
    from lanes_tui.examples import example_task_files

    copied = []
    for source in example_task_files():
        target = folder / source.name
        if target.exists():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        copied.append(target)
    return copied


def _init_pool(args: argparse.Namespace) -> int:
    target = expand_user(args.path).resolve()
    queue_dir = target / ".agent-lanes-queue"
    if queue_dir.exists():
        raise ConflictError(f".agent-lanes-queue/ already exists: {queue_dir}")
    workspace_id = _check_value(target.name or "workspace" if args.workspace_id is None else args.workspace_id, "--workspace-id")
    target.mkdir(parents=True, exist_ok=True)
    queue_dir.mkdir(mode=fsio.DIR_MODE)
    config = queue_dir / "handoff.yaml"
    config.write_text(_config_text(workspace_id, "..", "state"), encoding="utf-8")
    store = queue_dir / "state"
    _make_store(store)
    payload = {
        "status": "initialized",
        "workspace_id": workspace_id,
        "queue": str(queue_dir),
        "config": str(config),
        "store": str(store),
    }
    if getattr(args, "json", False):
        emit_json(payload)
    else:
        print(f"lanes-tui pool scaffolded for workspace_id: {workspace_id}")
        print(f"queue: {queue_dir}")
        print(f"next: point projects at it with: lanes-tui init --queue-root {store}")
    return 0
