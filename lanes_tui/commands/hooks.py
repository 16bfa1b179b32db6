"""Claude Code hooks: `hooks` prints (or installs) the settings, `hook pre-tool-use` runs one.

PreToolUse on Edit, Write and MultiEdit blocks (exit 2, the holder named on
stderr, which Claude Code shows the agent) an edit to a path another live agent
has locked. Anything else — a path outside the workspace, no lock, our own
lock, a stale lock, unreadable hook input, a broken store — lets the edit
through (exit 0): a hook that fails closed would stop every agent's work over
a lanes-tui problem.

Claude Code runs the hook command through its own shell; the command we write
into the settings quotes every path (shlex), and we never run a shell ourselves.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from lanes_tui.commands.output import emit_json
from lanes_tui.core.errors import ConfigError, LanesError

EDIT_TOOLS = ("Edit", "Write", "MultiEdit")
MAX_HOOK_INPUT = 4 << 20  # Write carries the whole new file
EXIT_ALLOW, EXIT_BLOCK = 0, 2
AGENT_ENV = "LANES_AGENT_ID"


def run(args: argparse.Namespace) -> int:
    if args.command == "hook":
        return pre_tool_use(args.config, args.store, sys.stdin.buffer, sys.stderr)
    settings = hook_settings(args)
    if not args.install:
        emit_json(settings)
        return 0
    target = _install(settings, args)
    print(f"installed lanes-tui hooks in {target}")
    return 0


def hook_settings(args: argparse.Namespace) -> dict[str, Any]:
    from lanes_tui.config import load_config

    config = load_config(args.config, store_override=args.store)
    program = [sys.executable, "-m", "lanes_tui", "--config", str(config.path)]
    if args.store:
        program += ["--store", str(config.store_root)]
    command = " ".join(shlex.quote(part) for part in [*program, "hook", "pre-tool-use"])
    return {"hooks": {"PreToolUse": [{"matcher": "|".join(EDIT_TOOLS),
                                      "hooks": [{"type": "command", "command": command, "timeout": 10}]}]}}


def _install(settings: dict[str, Any], args: argparse.Namespace) -> Path:
    """Merge into <workspace>/.claude/settings.json, keeping everything else in it."""
    from lanes_tui.config import load_config
    from lanes_tui.core import fsio

    config = load_config(args.config, store_override=args.store)
    folder = config.workspace_root / ".claude"
    folder.mkdir(exist_ok=True)
    target = folder / "settings.json"
    current: dict[str, Any] = {}
    if target.exists():
        try:
            current = json.loads(target.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{target} is not valid JSON ({exc}); fix it first, nothing was changed") from None
        if not isinstance(current, dict):
            raise ConfigError(f"{target} is not a JSON object; nothing was changed")
    hooks = current.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise ConfigError(f"{target}: hooks is not an object; nothing was changed")
    entries = [e for e in hooks.get("PreToolUse", []) if not _is_ours(e)]  # re-install replaces ours
    hooks["PreToolUse"] = entries + settings["hooks"]["PreToolUse"]
    with fsio.open_dir(folder) as fd:
        fsio.write_atomic(target.name, json.dumps(current, indent=2) + "\n", dir_fd=fd, mode=0o644)
    return target


def _is_ours(entry: Any) -> bool:
    return isinstance(entry, dict) and any(
        isinstance(h, dict) and "lanes_tui" in str(h.get("command", "")) and "pre-tool-use" in str(h.get("command", ""))
        for h in entry.get("hooks", []) or [])


def pre_tool_use(config_path: str, store: str | None, stdin: Any, stderr: Any) -> int:
    """Exit 2 with the holder on stderr if another live agent locked the file; else 0."""
    try:
        message = _blocked_by(config_path, store, stdin.read(MAX_HOOK_INPUT + 1))
    except (LanesError, OSError, ValueError, TypeError, KeyError, RecursionError):
        return EXIT_ALLOW  # fail open
    if message is None:
        return EXIT_ALLOW
    stderr.write(message + "\n")
    return EXIT_BLOCK


def _blocked_by(config_path: str, store: str | None, raw: bytes) -> str | None:
    if len(raw) > MAX_HOOK_INPUT:
        return None
    event = json.loads(raw.decode("utf-8"))
    if not isinstance(event, dict) or event.get("tool_name") not in EDIT_TOOLS:
        return None
    tool_input = event.get("tool_input") or {}
    path = tool_input.get("file_path") if isinstance(tool_input, dict) else None
    if not isinstance(path, str) or not path:
        return None
    from lanes_tui.config import load_config
    from lanes_tui.core.locks import LockTable, lock_key_for_path
    from lanes_tui.core.sanitize import one_line

    config = load_config(config_path, store_override=store)
    cwd = event.get("cwd") if isinstance(event.get("cwd"), str) else None
    key = lock_key_for_path(path, workspace_root=config.workspace_root, cwd=Path(cwd) if cwd else None)
    if not config.store_root.is_dir():
        return None
    table = LockTable(config.store_root)
    record = table.get(key)
    if record is None:
        return None
    me = os.environ.get(AGENT_ENV) or f"claude-session:{event.get('session_id') or 'unknown'}"
    state = table.state_of(record)
    if record.owner == me or state.stale is not None:
        return None
    reason = f" ({one_line(record.reason, 200)})" if record.reason else ""
    return (f"lanes-tui: {one_line(key[len('path:'):], 300)} is locked by {one_line(record.owner, 120)}{reason} "
            f"until {record.expires_at}. Work on something else, or wait for it: "
            f"lanes-tui lock {shlex.quote(path)} --wait 600")


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    hooks = sub.add_parser("hooks", parents=parents, help="print (or --install) Claude Code hook settings")
    hooks.add_argument("--install", action="store_true", help="merge them into <workspace>/.claude/settings.json")
    hook = sub.add_parser("hook", parents=parents, help="run a Claude Code hook (reads its JSON on stdin)")
    hook.add_argument("event", choices=["pre-tool-use"])
