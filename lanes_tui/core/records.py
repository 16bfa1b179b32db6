"""What the coordination records (locks, presence, messages, journal) need from a backend.

The rules live in core (who may take a lock, when an agent is offline, who a message
reaches); a backend only keeps records and logs, atomically. Three shapes cover all four:

* `Records`: keyed JSON records, changed in exclusive transactions (locks, presence);
* `Logs`: append-only JSON lines read from the tail (the journal);
* `MessageLog`: append-only messages with ids handed out in order, and one cursor per
  reader (messages).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Protocol


class RecordTxn(Protocol):
    """Inside `Records.exclusive()`: nobody else changes the records meanwhile."""

    def get(self, key: str) -> Any | None:
        """The JSON value stored under `key`; None when missing or unreadable."""

    def put(self, key: str, record: dict[str, Any]) -> None: ...

    def remove(self, key: str) -> None: ...

    def log(self, entry: dict[str, Any]) -> None:
        """Append to the audit trail beside the records."""

    def next_number(self, recover: Callable[[], int]) -> int:
        """A number larger than every one handed out before (a fencing token). `recover` gives
        the highest number still in use when the counter itself is found damaged."""


class Records(Protocol):
    def get(self, key: str) -> Any | None:
        """Lock-free read of one record (None when missing or unreadable)."""

    def values(self) -> list[Any]:
        """Every readable record stored under its own key (`key_field`)."""

    def exclusive(self) -> contextlib.AbstractContextManager[RecordTxn]: ...


class Logs(Protocol):
    def append(self, log: str, entry: dict[str, Any]) -> None: ...

    def tail(self, log: str, limit: int) -> list[Any]:
        """The last `limit` readable entries of `log`, oldest first."""


class MessageCursor(Protocol):
    """One reader's place in the message log, opaque to the rules."""


class MessageLog(Protocol):
    def append(self, make: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
        """Append `make(next id)`; ids increase in log order and are never reused."""

    def all(self) -> Iterator[Any]:
        """Every entry in log order (None for one that is not JSON)."""

    def reading(self, reader: str, *, exclusive: bool) -> contextlib.AbstractContextManager["MessageReader"]:
        """One reader's view; `exclusive` while it marks messages read (two reads of one reader
        never hand out the same message)."""


class MessageReader(Protocol):
    high_water: int  # every id up to this one was looked at by this reader

    def since(self) -> Iterator[tuple[Any, MessageCursor]]:
        """Entries after the reader's cursor (None for one that is not JSON), each with the
        cursor just past it."""

    def advance(self, high_water: int, cursor: MessageCursor | None) -> None:
        """Record how far the reader has read (`cursor` None: where it was)."""
