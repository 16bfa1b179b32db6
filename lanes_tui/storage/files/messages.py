"""Messages between agents (and from the dashboard), each with its own read state per reader.

On disk, under `<store>/messages/`:

    messages.jsonl                     append-only, one message a line: id, sender, to, body, sent_at
    counter                            the last message id handed out (an integer)
    read/<sha256(agent id)[:40]>.json  one reader's cursor: agent, high_water, offset

A message goes to an agent id, `name:<name>`, `role:<role>` or `all`; which
agents that reaches is decided when each one reads (presence.py
`addresses_of`), by the name and role it has registered then. An agent is
never handed its own messages.

Sending takes an exclusive flock on the `messages/` folder, hands out the next
id (counter first, so a crash can skip an id but never reuse one) and appends
the line, so the log is always in id order. Readers take no lock on the log:
a line is only read once its newline is there, so an append in progress (or a
torn one) is never half-read, and a message with a smaller id than one
already seen can no longer appear. That makes one number per reader enough:
every id up to its `high_water` has been looked at by that agent; `offset` is
where the next read starts (a hint, checked, the log is re-scanned if it does
not fit). Marking read takes an exclusive flock on `read/`, so two inbox
calls of one agent cannot both hand out the same message; one agent's reading
never touches another's cursor.

Bodies are stored raw (up to 64 KiB of UTF-8) and sanitised only when printed.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import hashlib
import json
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

from lanes_tui.core import fsio
from lanes_tui.core.clock import Clock, format_ts, system_clock
from lanes_tui.core.errors import CorruptTask, InvalidInput
from lanes_tui.storage.files.folders import locked_store_folder, open_store_folder, read_store_folder
from lanes_tui.storage.files.presence import Presence, addresses_of, validate_agent_id, validate_name, validate_role

MESSAGES_DIR = "messages"
LOG = "messages.jsonl"
COUNTER = "counter"
READ_DIR = "read"
MAX_BODY_BYTES = 64 << 10
# json.dumps escapes a control byte as \u0000 (6 bytes): the longest body still fits, a planted giant line does not.
MAX_LINE_BYTES = 1 << 20
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


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


@dataclass(frozen=True)
class _Cursor:
    high_water: int = 0
    offset: int = 0


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
    def __init__(self, store_root: Path, *, clock: Clock = system_clock, presence: Presence | None = None) -> None:
        self.store_root = Path(store_root)
        self.folder = self.store_root / MESSAGES_DIR
        self.clock = clock
        self.presence = presence or Presence(self.store_root, clock=clock)

    def send(self, sender: str, to: str, body: str) -> Message:
        sender = validate_agent_id(sender, "a sender")
        to = validate_address(to)
        body = validate_body(body)
        with self._locked() as fd:
            message = Message(id=self._next_id(fd), sender=sender, to=to, body=body, sent_at=format_ts(self.clock()))
            fsio.append_line(LOG, json.dumps(message.to_json(), sort_keys=True) + "\n", dir_fd=fd)
            return message

    def inbox(self, agent_id: str, *, mark_read: bool = True, max_chars: int | None = None) -> list[Message]:
        """Messages for `agent_id` that it has not read yet, oldest first; with mark_read they are read now.

        `max_chars`: stop before the message whose body would pass this many characters in all
        (at least one is always returned); the rest stay unread for next time."""
        agent_id = validate_agent_id(agent_id)
        reach = addresses_of(agent_id, self.presence.get(agent_id))
        if not mark_read:
            with self._dir() as fd:
                if fd is None:
                    return []  # nothing was ever sent
        with self._writable_dir() as fd, self._read_dir(fd) as read_fd:
            if mark_read:
                fcntl.flock(read_fd, fcntl.LOCK_EX)  # released when the descriptor closes
            cursor = self._cursor(read_fd, agent_id)
            found: list[Message] = []
            high, offset = cursor.high_water, cursor.offset
            used = 0
            for line, end in _complete_lines(fd, cursor.offset):
                message = _parse(line)
                if message is None or message.id <= cursor.high_water:
                    offset = end
                    continue
                if message.sender != agent_id and message.to in reach:
                    if max_chars is not None and found and used + len(message.body) > max_chars:
                        break  # this one and the rest stay unread
                    used += len(message.body)
                    found.append(message)
                offset = end
                high = max(high, message.id)
            if mark_read and (high, offset) != (cursor.high_water, cursor.offset):
                data = {"agent": agent_id, "high_water": high, "offset": offset}
                fsio.write_atomic(_file_name(agent_id), fsio.dumps_json(data), dir_fd=read_fd)
            return found

    def recent(self, limit: int = 50) -> list[Message]:
        """The last `limit` messages to anyone, newest last (for the dashboard; reads nothing as read)."""
        if not isinstance(limit, int) or limit <= 0:
            raise InvalidInput("a limit is a positive whole number")
        with self._dir() as fd:
            if fd is None:
                return []
            last: collections.deque[Message] = collections.deque(maxlen=limit)
            for line, _end in _complete_lines(fd, 0):
                message = _parse(line)
                if message is not None:
                    last.append(message)
            return list(last)

    # -- inside -----------------------------------------------------------------------------

    def _next_id(self, fd: int) -> int:
        try:
            last = int(fsio.read_file(COUNTER, dir_fd=fd, max_bytes=64).decode("ascii").strip())
        except (FileNotFoundError, ValueError, UnicodeDecodeError, CorruptTask):
            # No counter, or a damaged one: the log says which ids were handed out (we hold the lock).
            last = max((m.id for m in map(_parse, (line for line, _ in _complete_lines(fd, 0))) if m), default=0)
        fsio.write_atomic(COUNTER, f"{last + 1}\n", dir_fd=fd)
        return last + 1

    def _cursor(self, read_fd: int, agent_id: str) -> _Cursor:
        try:
            raw = json.loads(fsio.read_file(_file_name(agent_id), dir_fd=read_fd, max_bytes=4096))
        except FileNotFoundError:
            return _Cursor()
        except (ValueError, UnicodeDecodeError, CorruptTask):
            return _Cursor()  # damaged: read everything again rather than lose a message
        if not isinstance(raw, dict) or raw.get("agent") != agent_id:
            return _Cursor()
        high, offset = raw.get("high_water"), raw.get("offset")
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (high, offset)):
            return _Cursor()
        return _Cursor(high, offset)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def _read_dir(self, fd: int) -> Iterator[int]:
        fsio.make_dir(READ_DIR, dir_fd=fd, exist_ok=True)
        with fsio.open_dir(READ_DIR, dir_fd=fd) as read_fd:
            yield read_fd

    def _writable_dir(self) -> "contextlib.AbstractContextManager[int]":
        return open_store_folder(self.store_root, MESSAGES_DIR)

    def _dir(self) -> "contextlib.AbstractContextManager[int | None]":
        """For reading: None while the folder does not exist (nothing recorded yet)."""
        return read_store_folder(self.store_root, MESSAGES_DIR)

    def _locked(self) -> "contextlib.AbstractContextManager[int]":
        return locked_store_folder(self.store_root, MESSAGES_DIR)


def _file_name(agent_id: str) -> str:
    return hashlib.sha256(agent_id.encode("utf-8")).hexdigest()[:40] + ".json"


def _parse(line: bytes) -> Message | None:
    try:
        return Message.from_json(json.loads(line))
    except (ValueError, RecursionError):
        return None  # a corrupt or foreign line: skipped, like torn lines in events.jsonl


def _complete_lines(fd: int, offset: int) -> Iterator[tuple[bytes, int]]:
    """Each newline-terminated line of the log from `offset` on, with the offset just past it.

    A last line without its newline is an append in progress (or a torn one): not
    yielded, so a cursor stops before it. An offset that does not follow a newline
    is not where a line starts (the log was replaced?): the scan starts over.
    A line longer than any message can be (planted) is skipped without holding it.
    """
    try:
        raw = os.open(LOG, _READ_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        return
    with os.fdopen(raw, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise CorruptTask(f"{LOG} is not a regular file")
        if offset > 0 and os.pread(handle.fileno(), 1, offset - 1) != b"\n":
            offset = 0
        handle.seek(offset)
        position = offset
        while True:
            line = handle.readline(MAX_LINE_BYTES + 1)
            if not line.endswith(b"\n"):
                if len(line) <= MAX_LINE_BYTES:
                    return  # the end, or an unfinished last line
                while line and not line.endswith(b"\n"):  # over-long: skip to its end
                    position += len(line)
                    line = handle.readline(MAX_LINE_BYTES + 1)
                if not line:
                    return
                position += len(line)
                continue
            position += len(line)
            yield line, position
