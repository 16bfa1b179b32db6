"""Task definition files (YAML or JSON), agent-lanes' format.

Recognised keys: lane, metadata, prompt, prompt_file, request_from, response_to,
supporting_paths, worktree_path, branch. Unknown keys are reported as a warning
and ignored, as agent-lanes does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanes_tui.core.errors import ConfigError
from lanes_tui.core.jsonvalue import json_value
from lanes_tui.core.paths import expand_user
from lanes_tui.core.yamlload import load_mapping

TASK_FILE_KEYS = frozenset(
    {"lane", "metadata", "prompt", "prompt_file", "request_from", "response_to", "supporting_paths", "worktree_path", "branch"}
)
_STRING_KEYS = ("lane", "prompt", "prompt_file", "request_from", "response_to", "worktree_path", "branch")


@dataclass(frozen=True)
class TaskDefinition:
    path: Path
    fields: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    unknown_keys: tuple[str, ...] = ()


def load_task_file(path: str | Path) -> TaskDefinition:
    source = expand_user(path, "task file", ConfigError)
    data = load_mapping(source, what="task file")
    source = source.resolve()
    fields = {k: v for k, v in data.items() if k in TASK_FILE_KEYS and k != "metadata" and v is not None}
    for key in _STRING_KEYS:
        value = fields.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ConfigError(f"task file {source}: {key} must be a string")
        fields[key] = str(value)
    supporting = fields.get("supporting_paths")
    if supporting is not None and (not isinstance(supporting, list) or not all(isinstance(p, str) for p in supporting)):
        raise ConfigError(f"task file {source}: supporting_paths must be a list of paths")
    metadata = data.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise ConfigError(f"task file {source}: metadata must be a mapping")
    # YAML has values JSON has not (.nan, dates, binary, sets): refused here, naming the key.
    metadata = json_value(metadata, f"task file {source}: metadata", ConfigError)
    unknown = tuple(sorted(str(k) for k in data if k not in TASK_FILE_KEYS))
    return TaskDefinition(path=source, fields=fields, metadata=dict(metadata), unknown_keys=unknown)
