"""What agents say they are about to do (intents) and what they did or decided (history).

On disk, under `<store>/journal/`:

    intents.jsonl   append-only: {kind: "intent", agent, text, paths, at}
    history.jsonl   append-only: {kind: "done" | "decision", agent, text, paths: [], at}

Both are shared notes for the other agents and the operator, not state: an
intent claims nothing (locks do that). Appends take an exclusive flock on the
`journal/` folder so concurrent writers never interleave a line; reads take
none and only trust newline-terminated lines, so a torn (or in-progress) last
line is skipped. Texts are capped (4 KiB of UTF-8), stored raw and sanitised
only when printed.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanes_tui.core import fsio
from lanes_tui.core.clock import Clock, format_ts, system_clock
from lanes_tui.core.errors import CorruptTask, InvalidInput
from lanes_tui.core.wire import parse_event_lines
from lanes_tui.storage.files.folders import locked_store_folder, read_store_folder
from lanes_tui.storage.files.presence import validate_agent_id

JOURNAL_DIR = "journal"
INTENTS = "intents.jsonl"
HISTORY = "history.jsonl"
HISTORY_KINDS = ("done", "decision")
MAX_TEXT_BYTES = 4096
MAX_PATHS = 20
MAX_PATH_CHARS = 500
MAX_LIMIT = 1000
_TAIL_CHUNK = 64 << 10
_TAIL_BUDGET = 16 << 20  # a reader never pulls more than this, whatever was planted in the file
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


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
    def __init__(self, store_root: Path, *, clock: Clock = system_clock) -> None:
        self.store_root = Path(store_root)
        self.folder = self.store_root / JOURNAL_DIR
        self.clock = clock

    def intent(self, agent: str, text: str, paths: Any = ()) -> Entry:
        entry = Entry("intent", validate_agent_id(agent), validate_text(text, "an intent"),
                      format_ts(self.clock()), _paths(paths))
        return self._append(INTENTS, entry)

    def record(self, agent: str, kind: str, text: str) -> Entry:
        if kind not in HISTORY_KINDS:
            raise InvalidInput(f"a history entry is one of: {', '.join(HISTORY_KINDS)}")
        entry = Entry(kind, validate_agent_id(agent), validate_text(text, "a history entry"), format_ts(self.clock()))
        return self._append(HISTORY, entry)

    def read_intents(self, limit: int = 50) -> list[Entry]:
        return self._tail(INTENTS, _limit(limit))

    def read_history(self, limit: int = 50) -> list[Entry]:
        return self._tail(HISTORY, _limit(limit))

    # -- inside -----------------------------------------------------------------------------

    def _append(self, name: str, entry: Entry) -> Entry:
        with locked_store_folder(self.store_root, JOURNAL_DIR) as fd:
            fsio.append_line(name, json.dumps(entry.to_json(), sort_keys=True) + "\n", dir_fd=fd)
        return entry

    def _tail(self, name: str, limit: int) -> list[Entry]:
        """The last `limit` readable entries, newest last."""
        with self._dir() as fd:
            lines = _tail_lines(name, fd, limit) if fd is not None else []
        entries = []
        for raw in parse_event_lines(b"\n".join(lines)).events:
            with contextlib.suppress(ValueError):
                entries.append(Entry.from_json(raw))
        return entries[-limit:]

    def _dir(self) -> "contextlib.AbstractContextManager[int | None]":
        """For reading: None while the folder does not exist (nothing recorded yet)."""
        return read_store_folder(self.store_root, JOURNAL_DIR)


def _tail_lines(name: str, dir_fd: int, limit: int) -> list[bytes]:
    """The last `limit` newline-terminated lines, read backwards so a long log costs nothing.

    What follows the last newline is torn or still being written: dropped."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return []
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CorruptTask(f"{name} is not a regular file")
        start, chunks, newlines = info.st_size, [], 0
        # limit + 1 newlines: the text before the first one may be the cut-off end of an older line.
        while start > 0 and newlines <= limit and info.st_size - start < _TAIL_BUDGET:
            size = min(_TAIL_CHUNK, start)
            start -= size
            chunk = os.pread(fd, size, start)
            chunks.append(chunk)
            newlines += chunk.count(b"\n")
    finally:
        os.close(fd)
    data = b"".join(reversed(chunks))
    data = data[: data.rfind(b"\n") + 1]
    lines = data.split(b"\n")[:-1]
    if start > 0 and lines:
        lines = lines[1:]
    return lines[-limit:]
