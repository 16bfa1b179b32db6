"""Messages between agents (and from the dashboard), each with its own read state per reader.

A message goes to an agent id, `name:<name>`, `role:<role>` or `all`; which agents that
reaches is decided when each one reads (`presence.addresses_of`), by the name and role it
has registered then. An agent is never handed its own messages.

A backend keeps an append-only log (`core/records.MessageLog`) whose ids are handed out in
log order and never reused, so a message with a smaller id than one already seen can no
longer appear. That makes one number per reader enough: every id up to its `high_water`
has been looked at by that agent (plus an opaque cursor where the next read starts).
Marking read is exclusive per reader, so two inbox calls of one agent cannot both hand out
the same message; one agent's reading never touches another's.

Bodies are stored raw (up to 64 KiB of UTF-8) and sanitised only when printed.
"""

from __future__ import annotations

import collections
from dataclasses import asdict, dataclass
from typing import Any

from lanes_tui.core.clock import Clock, format_ts, system_clock
from lanes_tui.core.errors import InvalidInput
from lanes_tui.core.presence import (
    Presence,
    addresses_of,
    validate_agent_id,
    validate_name,
    validate_role,
)
from lanes_tui.core.records import MessageLog

MAX_BODY_BYTES = 64 << 10


@dataclass(frozen=True)
class Message:
    id: int
    sender: str
    to: str
    body: str
    sent_at: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Any) -> "Message":
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        fields = {name: raw.get(name) for name in cls.__dataclass_fields__}
        if not isinstance(fields["id"], int) or isinstance(fields["id"], bool) or fields["id"] <= 0:
            raise ValueError("id is not a positive integer")
        for name in ("sender", "to", "body", "sent_at"):
            if not isinstance(fields[name], str):
                raise ValueError(f"{name} is not a string")
        return cls(**fields)


def validate_address(to: object) -> str:
    """`all`, `name:<name>`, `role:<role>` or an agent id."""
    if to == "all":
        return "all"
    if isinstance(to, str) and to.startswith("name:"):
        return "name:" + validate_name(to[len("name:"):])
    if isinstance(to, str) and to.startswith("role:"):
        return "role:" + validate_role(to[len("role:"):])
    return validate_agent_id(to, "a recipient")


def validate_body(body: object) -> str:
    if not isinstance(body, str):
        raise InvalidInput("a message body is text")
    # A code point is at least one UTF-8 byte: a body with too many is refused before it is encoded (copied).
    too_big = f"a message body is at most {MAX_BODY_BYTES} bytes of UTF-8"
    if len(body) > MAX_BODY_BYTES:
        raise InvalidInput(too_big)
    try:
        size = len(body.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput("a message body must be valid Unicode text (no lone surrogates)") from None
    if size > MAX_BODY_BYTES:
        raise InvalidInput(too_big)
    if not body.strip():
        raise InvalidInput("a message needs a body")
    return body


class MessageBox:
    def __init__(self, log: MessageLog, presence: Presence, *, clock: Clock = system_clock) -> None:
        self.log = log
        self.presence = presence
        self.clock = clock

    def send(self, sender: str, to: str, body: str) -> Message:
        sender = validate_agent_id(sender, "a sender")
        to = validate_address(to)
        body = validate_body(body)
        sent_at = format_ts(self.clock())
        raw = self.log.append(lambda number: Message(id=number, sender=sender, to=to, body=body,
                                                     sent_at=sent_at).to_json())
        return Message.from_json(raw)

    def inbox(self, agent_id: str, *, mark_read: bool = True, max_chars: int | None = None) -> list[Message]:
        """Messages for `agent_id` that it has not read yet, oldest first; with mark_read they are read now.

        `max_chars`: stop before the message whose body would pass this many characters in all
        (at least one is always returned); the rest stay unread for next time."""
        agent_id = validate_agent_id(agent_id)
        reach = addresses_of(agent_id, self.presence.get(agent_id))
        with self.log.reading(agent_id, exclusive=mark_read) as reader:
            found: list[Message] = []
            high, cursor = reader.high_water, None
            used = 0
            for raw, after in reader.since():
                message = _parse(raw)
                if message is None or message.id <= reader.high_water:
                    cursor = after
                    continue
                if message.sender != agent_id and message.to in reach:
                    if max_chars is not None and found and used + len(message.body) > max_chars:
                        break  # this one and the rest stay unread
                    used += len(message.body)
                    found.append(message)
                cursor = after
                high = max(high, message.id)
            if mark_read:
                reader.advance(high, cursor)
            return found

    def recent(self, limit: int = 50) -> list[Message]:
        """The last `limit` messages to anyone, newest last (for the dashboard; reads nothing as read)."""
        if not isinstance(limit, int) or limit <= 0:
            raise InvalidInput("a limit is a positive whole number")
        last: collections.deque[Message] = collections.deque(maxlen=limit)
        for raw in self.log.all():
            message = _parse(raw)
            if message is not None:
                last.append(message)
        return list(last)


def _parse(raw: Any) -> Message | None:
    try:
        return Message.from_json(raw)
    except ValueError:
        return None  # a corrupt or foreign entry: skipped, like torn lines in events.jsonl
