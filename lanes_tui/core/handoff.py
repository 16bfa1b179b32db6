"""handoff.yaml -> a frozen RuntimeConfig, with agent-lanes' semantics.

Same keys and defaults as agent-lanes 0.1.1: `workspace_id` (required),
`workspace_root` (default `..`) and `queue_root` (default `state`) relative to
the config's folder, `lanes`, optional `worktree_path` / `expected_branch`.
Stricter than agent-lanes: duplicate keys, anchors, non-mapping values and
huge files are one-line errors instead of silent surprises or tracebacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanes_tui.core.errors import ConfigError, NotFound
from lanes_tui.core.paths import expand_user
from lanes_tui.core.yamlload import load_mapping

DEFAULT_CONFIG_PATH = "handoff/handoff.yaml"


@dataclass(frozen=True)
class RuntimeConfig:
    path: Path
    workspace_id: str
    workspace_root: Path
    store_root: Path
    worktree_path: Path | None = None
    expected_branch: str | None = None
    lanes: dict[str, str] = field(default_factory=dict)


def load_config(config_path: str | Path, store_override: str | Path | None = None) -> RuntimeConfig:
    path = expand_user(config_path, "config path", ConfigError)
    if not path.exists() and not path.is_symlink():
        # What a first run sees: say how to start, not only what is missing.
        raise NotFound(f"config file does not exist: {config_path} (start a queue here with `lanes-tui init`, "
                          "try one with `lanes-tui demo`, or name another with --config)")
    data = load_mapping(path, what="config file")
    path = path.resolve()
    base = path.parent
    if "checkpoints" in data:
        raise ConfigError(
            f"{path}: 'checkpoints' is not supported in handoff.yaml; put each task in its own "
            "file (e.g. tasks/<id>.yaml) and submit it with --task <path>"
        )
    raw_id = data.get("workspace_id")
    if not isinstance(raw_id, (str, int)) or isinstance(raw_id, bool) or not str(raw_id).strip():
        raise ConfigError(f"{path}: workspace_id must be a non-empty string")
    workspace_root = _path_value(base, data.get("workspace_root", ".."), path, "workspace_root")
    if store_override is not None:
        if not str(store_override).strip():
            raise ConfigError("--store must be a non-empty path")
        store = expand_user(store_override, "--store")
        store_root = (store if store.is_absolute() else Path.cwd() / store).resolve()
    else:
        store_root = _path_value(base, data.get("queue_root", "state"), path, "queue_root")
    worktree = data.get("worktree_path")
    branch = data.get("expected_branch")
    if branch is not None and not isinstance(branch, (str, int)):
        raise ConfigError(f"{path}: expected_branch must be a string")
    return RuntimeConfig(
        path=path,
        workspace_id=str(raw_id).strip(),
        workspace_root=workspace_root,
        store_root=store_root,
        worktree_path=_path_value(base, worktree, path, "worktree_path") if worktree else None,
        expected_branch=str(branch) if branch else None,
        lanes=_lanes(data.get("lanes"), path),
    )


def _path_value(base: Path, value: Any, source: Path, key: str) -> Path:
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise ConfigError(f"{source}: {key} must be a non-empty path string")
    if "\x00" in str(value):
        raise ConfigError(f"{source}: {key} contains a NUL byte")
    candidate = expand_user(str(value), f"{source}: {key}", ConfigError)
    return (candidate if candidate.is_absolute() else base / candidate).resolve()


def _lanes(raw: Any, source: Path) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: lanes must be a mapping of lane name to description")
    lanes: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, dict):
            lanes[str(name)] = str(value.get("description") or "")
        else:
            lanes[str(name)] = "" if value is None else str(value)
    return lanes
