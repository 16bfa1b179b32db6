"""The agent-lanes v0.1 wire format of tasks and events: shape checks and parsing (pure).

Both backends hold tasks as these dicts (the file backend's task.json, parsed); a task that
fails `normalise_task` is corrupt, and reported as such for that task alone.
"""

from __future__ import annotations

import json
from typing import Any

from lanes_tui.core.clock import parse_ts
from lanes_tui.core.errors import CorruptTask, InvalidInput
from lanes_tui.core.states import STATES, WIRE_KEYS

TASK_KEYS = WIRE_KEYS
# Prompts live inside task.json, and users do send megabytes of context.
MAX_TASK_BYTES = 64 << 20
MAX_RESPONSE_BYTES = 64 << 20
MAX_EVENT_LINE_BYTES = 1 << 20


class EventLog:
    """A task's events as read, and how many lines were torn or foreign (skipped)."""

    __slots__ = ("events", "bad_lines")  # a plain class: the one-shot CLI defines it on every run

    def __init__(self, events: list[dict[str, Any]] | None = None, bad_lines: int = 0) -> None:
        self.events = [] if events is None else events
        self.bad_lines = bad_lines

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EventLog) and (self.events, self.bad_lines) == (other.events, other.bad_lines)

    def __repr__(self) -> str:
        return f"EventLog({len(self.events)} events, {self.bad_lines} bad lines)"


def normalise_task(raw: Any, folder_name: str) -> dict[str, Any]:
    """Validate the shape of a parsed task.json; CorruptTask names what is wrong."""
    if not isinstance(raw, dict):
        raise CorruptTask(f"task {folder_name}: task.json is not a JSON object")
    if "correlation_id" not in raw and "checkpoint_id" in raw:
        raw["correlation_id"] = raw["checkpoint_id"]  # legacy name, read-compatible
    raw.pop("checkpoint_id", None)
    if raw.get("metadata") is None:
        raw["metadata"] = {}
    problems = []
    if raw.get("id") != folder_name:
        problems.append("id does not match its folder")
    if raw.get("state") not in STATES:
        problems.append(f"unknown state {raw.get('state')!r}")
    for key in ("lane", "created_at", "request_path", "response_path", "workspace_root"):
        if not isinstance(raw.get(key), str):
            problems.append(f"{key} is not a string")
    if not isinstance(raw.get("metadata"), dict):
        problems.append("metadata is not an object")
    if not isinstance(raw.get("prompt", ""), str):
        problems.append("prompt is not a string")
    try:
        parse_ts(raw.get("created_at"))
    except ValueError:
        problems.append("created_at is not a timestamp")
    if problems:
        raise CorruptTask(f"task {folder_name}: corrupt task.json ({'; '.join(problems)})")
    return raw


def parse_task_bytes(data: bytes, folder_name: str) -> dict[str, Any]:
    if not data.strip():
        raise CorruptTask(f"task {folder_name}: task.json is empty")
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise CorruptTask(f"task {folder_name}: task.json is not UTF-8") from None
    except ValueError as exc:
        raise CorruptTask(f"task {folder_name}: task.json is not valid JSON ({exc.msg})") from None
    except RecursionError:  # "[[[[..." : json has no depth limit of its own
        raise CorruptTask(f"task {folder_name}: task.json is not valid JSON (nested too deeply)") from None
    return normalise_task(raw, folder_name)


def parse_event_lines(data: bytes) -> EventLog:
    """Parse events.jsonl, skipping torn or corrupt lines (G6) instead of failing."""
    log = EventLog()
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):
            log.bad_lines += 1
            continue
        if isinstance(event, dict):
            log.events.append(event)
        else:
            log.bad_lines += 1
    return log


def event_line(event: dict[str, Any]) -> str:
    """One events.jsonl line (agent-lanes' form: sorted keys); InvalidInput past the line limit."""
    line = json.dumps(event, sort_keys=True) + "\n"
    if len(line) > MAX_EVENT_LINE_BYTES:
        raise InvalidInput(f"event is too large ({len(line)} bytes, limit {MAX_EVENT_LINE_BYTES})")
    return line
