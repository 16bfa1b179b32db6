"""Strict YAML/JSON mapping loader for handoff.yaml and task files.

safe_load only, plus what safe_load lacks: duplicate keys and anchors/aliases
(the "billion laughs" bomb) are errors, files are size-capped, and every error
is one line naming the file and line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lanes_tui.core.errors import ConfigError, NotFound

MAX_YAML_BYTES = 1 << 20
# Pure-Python PyYAML spends ~30 us per value: a 1 MB "[1,1,1,...]" takes 14 s, and
# deep nesting overflows the Python stack. Task files and configs hold dozens of
# values, so structure is capped too (fault row 20: hostile YAML is rejected fast).
MAX_YAML_NODES = 20_000
MAX_YAML_DEPTH = 64


def load_mapping(path: Path, *, what: str, max_bytes: int = MAX_YAML_BYTES) -> dict[str, Any]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError as exc:
        raise NotFound(f"{what} does not exist: {path}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from exc
    try:
        import stat as _stat

        info = os.fstat(fd)
        if not _stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{what} is not a regular file: {path}")
        if info.st_size > max_bytes:
            raise ConfigError(f"{what} {path} is too large ({info.st_size} bytes, limit {max_bytes})")
        raw = os.read(fd, max_bytes + 1)
    finally:
        os.close(fd)
    if len(raw) > max_bytes:
        raise ConfigError(f"{what} {path} is too large (limit {max_bytes} bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path} is not UTF-8 text (byte {exc.start})") from exc
    data = parse_yaml_text(text, source=str(path))
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must contain a mapping at the top level")
    return data


def parse_yaml_text(text: str, *, source: str) -> Any:
    import yaml  # imported lazily: PyYAML costs start-up time for commands that never read YAML

    loader_cls = _strict_loader(yaml)
    loader = loader_cls(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{where}: {problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from exc
    except RecursionError:
        raise ConfigError(f"{source}: YAML is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise ConfigError(f"{source}: invalid YAML value: {' '.join(str(exc).split())[:200]}") from None
    finally:
        loader.dispose()


_LOADER_CACHE: dict[str, type] = {}


def _strict_loader(yaml: Any) -> type:
    cached = _LOADER_CACHE.get("strict")
    if cached is not None:
        return cached

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.MarkedYAMLError(
                    problem="YAML aliases are not allowed", problem_mark=event.start_mark
                )
            event = self.peek_event()
            if getattr(event, "anchor", None):
                raise yaml.MarkedYAMLError(
                    problem="YAML anchors are not allowed", problem_mark=event.start_mark
                )
            self._yaml_nodes = getattr(self, "_yaml_nodes", 0) + 1
            if self._yaml_nodes > MAX_YAML_NODES:
                raise yaml.MarkedYAMLError(
                    problem=f"too many YAML values (more than {MAX_YAML_NODES})", problem_mark=event.start_mark
                )
            depth = getattr(self, "_yaml_depth", 0)
            if depth >= MAX_YAML_DEPTH:
                raise yaml.MarkedYAMLError(
                    problem=f"YAML is nested deeper than {MAX_YAML_DEPTH} levels", problem_mark=event.start_mark
                )
            self._yaml_depth = depth + 1
            try:
                return super().compose_node(parent, index)
            finally:
                self._yaml_depth = depth

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:
                    raise yaml.MarkedYAMLError(
                        problem="mapping keys must be plain values", problem_mark=key_node.start_mark
                    ) from None
                if duplicate:
                    raise yaml.MarkedYAMLError(
                        problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    _LOADER_CACHE["strict"] = StrictLoader
    return StrictLoader
