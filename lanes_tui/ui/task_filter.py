"""The `/` filter: `lane:review state:failed vendor:claude some words` (pure, no Textual).

Each `key:value` narrows by that field (several values for one key are OR-ed:
`state:queued state:claimed`); the remaining words must all appear, case
insensitive, in the task's id, lane, owner, activity or reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lanes_tui.engine.service import TaskRow

KEYS = ("lane", "state", "vendor")
_STATE_ALIASES = {"running": "claimed", "done": "completed", "ok": "completed", "error": "failed"}


@dataclass(frozen=True)
class TaskFilter:
    lanes: frozenset[str] = frozenset()
    states: frozenset[str] = frozenset()
    vendors: frozenset[str] = frozenset()
    words: tuple[str, ...] = ()
    text: str = field(default="", compare=False)  # as typed, for showing it again

    @classmethod
    def parse(cls, text: str) -> "TaskFilter":
        picked: dict[str, set[str]] = {key: set() for key in KEYS}
        words = []
        for token in text.split():
            key, sep, value = token.partition(":")
            if sep and key.lower() in picked and value:
                value = value.lower()
                picked[key.lower()].add(_STATE_ALIASES.get(value, value) if key.lower() == "state" else value)
            else:
                words.append(token.lower())
        return cls(frozenset(picked["lane"]), frozenset(picked["state"]), frozenset(picked["vendor"]),
                   tuple(words), text.strip())

    def __bool__(self) -> bool:
        return bool(self.lanes or self.states or self.vendors or self.words)

    def matches(self, row: TaskRow) -> bool:
        if self.lanes and row.lane.lower() not in self.lanes:
            return False
        if self.states and row.state not in self.states:
            return False
        if self.vendors and row.vendor.lower() not in self.vendors:
            return False
        if self.words:
            haystack = " ".join((row.id, row.lane, row.owner, row.activity, row.reason, row.model)).lower()
            return all(word in haystack for word in self.words)
        return True
