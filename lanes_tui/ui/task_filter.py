"""The `/` filter: `lane:rev state:failed vendor:claude some words` (pure, no Textual).

Each `key:value` narrows by that field, the value matching as a prefix, case
insensitive (`lane:def` is the lane `default`; several values for one key are
OR-ed: `state:queued state:claimed`). The remaining words must all appear, case
insensitive, in the task's id, title, prompt (its first 500 characters), lane,
state, vendor, model, effort, owner, activity or reason. A key that is not one of
KEYS, or a state no task can be in, is an error the dashboard shows in a line of
its own; the rest of the filter applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lanes_tui.core.sanitize import one_line
from lanes_tui.core.states import CLAIMED, COMPLETED, FAILED, QUEUED
from lanes_tui.engine.service import TaskRow

KEYS = ("lane", "state", "vendor", "model", "effort")
STATES = (QUEUED, CLAIMED, COMPLETED, FAILED)
_STATE_ALIASES = {"running": CLAIMED, "done": COMPLETED, "ok": COMPLETED, "error": FAILED}


def _state_values(value: str) -> set[str]:
    """The states `value` names: an alias, or every state it is a prefix of."""
    if value in _STATE_ALIASES:
        return {_STATE_ALIASES[value]}
    return {state for state in STATES if state.startswith(value)} | {
        state for alias, state in _STATE_ALIASES.items() if alias.startswith(value)}


@dataclass(frozen=True)
class TaskFilter:
    fields: tuple[tuple[str, frozenset[str]], ...] = ()  # (key, prefixes), keys in KEYS order
    words: tuple[str, ...] = ()
    errors: tuple[str, ...] = field(default=(), compare=False)  # display-ready, one line each
    text: str = field(default="", compare=False)  # as typed, for showing it again

    @classmethod
    def parse(cls, text: str) -> "TaskFilter":
        picked: dict[str, set[str]] = {key: set() for key in KEYS}
        words: list[str] = []
        errors: list[str] = []
        for token in text.split():
            key, sep, value = token.partition(":")
            key, value = key.lower(), value.lower()
            if not sep or not key.isalpha():
                words.append(token.lower())  # a path, a time, a URL: a word like any other
            elif key not in picked:
                errors.append(f"unknown filter key {one_line(key, 40)!r} (keys: {', '.join(KEYS)})")
            elif not value:
                errors.append(f"{key}: needs a value ({key}:VALUE)")
            elif key == "state":
                states = _state_values(value)
                if states:
                    picked[key].update(states)
                else:
                    errors.append(f"no state {one_line(value, 40)!r} (states: {', '.join(STATES)}; running, done)")
            else:
                picked[key].add(value)
        return cls(tuple((key, frozenset(values)) for key, values in picked.items() if values), tuple(words),
                   tuple(errors), text.strip())

    def __bool__(self) -> bool:
        return bool(self.fields or self.words)

    def matches(self, row: TaskRow) -> bool:
        for key, values in self.fields:
            if key == "state":
                if row.state not in values:
                    return False
                continue
            have = getattr(row, key).lower()
            if not any(have.startswith(value) for value in values):
                return False
        if self.words:
            haystack = " ".join((row.id, row.title, row.prompt_head, row.lane, row.state, row.vendor, row.model,
                                 row.effort, row.owner, row.activity, row.reason)).lower()
            return all(word in haystack for word in self.words)
        return True
