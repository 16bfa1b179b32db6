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
    # A PostgreSQL queue (`--store postgresql://...`, or `queue_url` in lanes-tui.yaml) instead of
    # the folder at store_root.
    queue_url: str | None = None

    @property
    def store_location(self) -> str | Path:
        """What `storage.open_store` opens: the queue URL, else the store folder."""
        return self.queue_url or self.store_root


QUEUE_URL_SCHEMES = ("postgresql://", "postgres://")
SETTINGS_BESIDE = "lanes-tui.yaml"


def is_queue_url(value: object) -> bool:
    """A queue in PostgreSQL rather than a folder."""
    return isinstance(value, str) and value.startswith(QUEUE_URL_SCHEMES)


def load_config(config_path: str | Path, store_override: str | Path | None = None,
                settings_path: str | Path | None = None) -> RuntimeConfig:
    """`store_override`: `--store` (a folder, or a queue URL); `settings_path`: the lanes-tui.yaml
    whose `queue_url` applies (default: the one beside handoff.yaml)."""
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
    queue_url = None
    if is_queue_url(store_override):
        queue_url, store_override = str(store_override), None
    elif store_override is None:
        queue_url = _settings_queue_url(Path(settings_path) if settings_path else base / SETTINGS_BESIDE)
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
        queue_url=queue_url,
    )


def _settings_queue_url(settings: Path) -> str | None:
    """`queue_url` of a lanes-tui.yaml, if it has one (the settings loader checks it in full:
    this is the one key the one-shot commands need before they open the queue)."""
    if not settings.is_file() or "queue_url" not in settings.read_text(encoding="utf-8", errors="replace"):
        return None
    value = load_mapping(settings, what="settings file").get("queue_url")
    if value is not None and not is_queue_url(value):
        raise ConfigError(f"{settings}: queue_url must be a postgresql:// URL")
    return value


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
