"""What agents say they are about to do (intents) and what they did or decided (history).

Both are shared notes for the other agents and the operator, not state: an intent claims
nothing (locks do that). A backend keeps them as two append-only logs (`core/records.Logs`:
`intents`, `history`) whose appends never interleave and whose readers skip a torn last
line. Texts are capped (4 KiB of UTF-8), stored raw and sanitised only when printed.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from lanes_tui.core.clock import Clock, format_ts, system_clock
from lanes_tui.core.errors import InvalidInput
from lanes_tui.core.presence import validate_agent_id
from lanes_tui.core.records import Logs

INTENTS = "intents"
HISTORY = "history"
HISTORY_KINDS = ("done", "decision")
MAX_TEXT_BYTES = 4096
MAX_PATHS = 20
MAX_PATH_CHARS = 500
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Entry:
    kind: str  # intent, done or decision
    agent: str
    text: str
    at: str
    paths: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "agent": self.agent, "text": self.text, "at": self.at, "paths": list(self.paths)}

    @classmethod
    def from_json(cls, raw: Any) -> "Entry":
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        for name in ("kind", "agent", "text", "at"):
            if not isinstance(raw.get(name), str):
                raise ValueError(f"{name} is not a string")
        paths = raw.get("paths", [])
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ValueError("paths is not a list of strings")
        return cls(raw["kind"], raw["agent"], raw["text"], raw["at"], tuple(paths))


def validate_text(text: object, what: str = "a text") -> str:
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be text")
    too_big = f"{what} is at most {MAX_TEXT_BYTES} bytes of UTF-8"
    if len(text) > MAX_TEXT_BYTES:  # code points never outnumber bytes: refused before encoding
        raise InvalidInput(too_big)
    try:
        if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
            raise InvalidInput(too_big)
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} must be valid Unicode text (no lone surrogates)") from None
    if not text.strip():
        raise InvalidInput(f"{what} must not be empty")
    return text


def _paths(paths: Any) -> tuple[str, ...]:
    paths = tuple(paths or ())
    if len(paths) > MAX_PATHS:
        raise InvalidInput(f"an intent names at most {MAX_PATHS} paths")
    for path in paths:
        if not isinstance(path, str) or not path or len(path) > MAX_PATH_CHARS or "\x00" in path:
            raise InvalidInput(f"a path is 1-{MAX_PATH_CHARS} characters without NUL")
    return paths


def _limit(limit: object) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"a limit is a whole number from 1 to {MAX_LIMIT}")
    return limit


class Journal:
    def __init__(self, logs: Logs, *, clock: Clock = system_clock) -> None:
        self.logs = logs
        self.clock = clock

    def intent(self, agent: str, text: str, paths: Any = ()) -> Entry:
        entry = Entry("intent", validate_agent_id(agent), validate_text(text, "an intent"),
                      format_ts(self.clock()), _paths(paths))
        self.logs.append(INTENTS, entry.to_json())
        return entry

    def record(self, agent: str, kind: str, text: str) -> Entry:
        if kind not in HISTORY_KINDS:
            raise InvalidInput(f"a history entry is one of: {', '.join(HISTORY_KINDS)}")
        entry = Entry(kind, validate_agent_id(agent), validate_text(text, "a history entry"), format_ts(self.clock()))
        self.logs.append(HISTORY, entry.to_json())
        return entry

    def read_intents(self, limit: int = 50) -> list[Entry]:
        return self._tail(INTENTS, _limit(limit))

    def read_history(self, limit: int = 50) -> list[Entry]:
        return self._tail(HISTORY, _limit(limit))

    def _tail(self, log: str, limit: int) -> list[Entry]:
        """The last `limit` readable entries, newest last."""
        entries = []
        for raw in self.logs.tail(log, limit):
            with contextlib.suppress(ValueError):
                entries.append(Entry.from_json(raw))
        return entries[-limit:]
