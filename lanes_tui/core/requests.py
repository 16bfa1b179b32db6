"""Requests where an agent needs a person: questions, blockers and permission requests.

An agent asks (`ask_operator` through `lanes-tui mcp`), reports a blocker for a
human, or (under the `ask` preset) wants to run a tool its preset does not allow.
Each becomes a request record that any process can read and answer: the
dashboard, `lanes-tui answer`, another machine on a shared store. The rules live
here; a backend keeps the records (`core/records.Records`, one per request, plus
an audit trail) and makes each change one exclusive transaction, so exactly one
answer wins a race between two operators, or between an answer and the expiry.

A request is `open` until it is answered, expires (`expires_at` passed: the lane's
`request_timeout_seconds`), or is closed because nobody waits for it any more
(the attempt ended, the supervisor died, the task was cancelled). The process
that waits (the MCP server a worker started) is recorded by host, pid and start
time, so a reader on this host sees a request whose waiter died as closed before
anyone gets round to closing it.

Every change to a request of a task is also an event on that task
(`input_requested`, `input_answered`, `input_closed`: types agent-lanes accepts
and shows as the task's last event), so the task's own history tells the story.

Texts (question, options, tool input, replies) are kept as written and cleaned
where they are shown: they come from agents and are untrusted.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from lanes_tui.core import procinfo
from lanes_tui.core.clock import Clock, format_ts, parse_ts, system_clock
from lanes_tui.core.errors import ConflictError, InvalidInput, NotFound
from lanes_tui.core.hosts import this_host
from lanes_tui.core.records import Records, RecordTxn
from lanes_tui.core.sanitize import one_line

QUESTION, BLOCKER, PERMISSION = "question", "blocker", "permission"
KINDS = (QUESTION, BLOCKER, PERMISSION)
OPEN, ANSWERED, EXPIRED, CLOSED = "open", "answered", "expired", "closed"
STATES = (OPEN, ANSWERED, EXPIRED, CLOSED)
# How a request was answered. A question or a blocker gets a reply (one of its options, or
# free text); a permission request is allowed once, allowed for the rest of the task, denied
# (with a message the agent reads), or denied and its task stopped.
REPLY, ALLOW, ALLOW_TOOL, DENY, DENY_STOP = "reply", "allow", "allow_tool", "deny", "deny_stop"
DECISIONS = {QUESTION: (REPLY,), BLOCKER: (REPLY,), PERMISSION: (ALLOW, ALLOW_TOOL, DENY, DENY_STOP)}

DEFAULT_TIMEOUT_SECONDS = 1800.0
MAX_TIMEOUT_SECONDS = 30 * 86400.0  # as every duration in the settings
MAX_TEXT = 4000
MAX_REPLY = 4000
MAX_OPTIONS = 20
MAX_OPTION = 200
MAX_TOOL_INPUT = 32 << 10  # characters of JSON; a record is at most 64 KB on disk
KEEP_FINISHED_SECONDS = 86400.0  # answered/expired/closed records are pruned after a day
ID_PREFIX = "r"

TaskEvents = Callable[[str, str, str, dict[str, Any]], None]  # (task_id, type, message, data)


@dataclass(frozen=True)
class InputRequest:
    id: str
    kind: str
    agent: str  # who asks (an agent id)
    text: str  # the question, the blocker's summary, or what the tool call does
    created_at: str
    expires_at: str
    state: str = OPEN
    task_id: str | None = None
    lane: str | None = None
    options: tuple[str, ...] = ()
    tool: str | None = None
    tool_input: Any = None
    decision: str | None = None
    reply: str = ""  # the operator's answer, or why it expired or was closed
    answered_by: str | None = None
    answered_at: str | None = None
    host: str = ""
    pid: int | None = None
    pid_start: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in _FIELDS}
        data["options"] = list(self.options)
        return data

    @classmethod
    def from_json(cls, raw: Any) -> "InputRequest":
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        fields = {name: raw.get(name) for name in _FIELDS}
        for name in ("id", "kind", "agent", "text", "created_at", "expires_at", "state"):
            if not isinstance(fields[name], str):
                raise ValueError(f"{name} is not a string")
        if fields["kind"] not in KINDS or fields["state"] not in STATES:
            raise ValueError("unknown kind or state")
        for name in ("pid", "pid_start"):
            if fields[name] is not None and (not isinstance(fields[name], int) or isinstance(fields[name], bool)):
                raise ValueError(f"{name} is not an integer")
        options = fields["options"] or []
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise ValueError("options is not a list of strings")
        fields["options"] = tuple(options)
        fields["reply"] = fields["reply"] if isinstance(fields["reply"], str) else ""
        fields["host"] = fields["host"] if isinstance(fields["host"], str) else ""
        parse_ts(fields["expires_at"])
        return cls(**fields)

    @property
    def number(self) -> int:
        return int(self.id[len(ID_PREFIX):])


_FIELDS = tuple(InputRequest.__dataclass_fields__)


class RequestClosed(ConflictError):
    """Answering a request that is no longer open (answered, expired or closed meanwhile): its
    own exit code, so a script can tell "too late" from a refused answer."""

    exit_code = 16
    kind = "request_closed"


class RequestBook:
    def __init__(self, records: Records, *, clock: Clock = system_clock, host: str | None = None,
                 task_events: TaskEvents | None = None) -> None:
        self.records = records
        self.clock = clock
        self.host = host or this_host()
        self._task_events = task_events

    # -- reading (lock-free) ----------------------------------------------------------

    def get(self, request_id: str) -> InputRequest:
        """The request as of now (an open one past its time reads as expired); NotFound if none."""
        request = _parse(self.records.get(validate_request_id(request_id)))
        if request is None:
            raise NotFound(f"no request {one_line(request_id, 40)}")
        return self.as_of_now(request)

    def all(self) -> list[InputRequest]:
        """Every request kept, as of now, oldest first."""
        found = [self.as_of_now(r) for r in (_parse(raw) for raw in self.records.values()) if r is not None]
        return sorted(found, key=lambda r: r.number)

    def pending(self, task_id: str | None = None) -> list[InputRequest]:
        """The requests still waiting for a person (of one task), oldest first."""
        return [r for r in self.all() if r.state == OPEN and (task_id is None or r.task_id == task_id)]

    def as_of_now(self, request: InputRequest) -> InputRequest:
        """What an open record means now: past its time it has expired; on this host, with its
        waiter gone, nobody will read an answer. Nothing is written."""
        if request.state != OPEN:
            return request
        why = self._why_not_open(request)
        if why is None:
            return request
        state, reason = why
        return replace(request, state=state, decision=None, reply=reason)

    # -- verbs ---------------------------------------------------------------------------

    def open(self, *, kind: str, agent: str, text: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
             task_id: str | None = None, lane: str | None = None, options: Iterable[str] = (),
             tool: str | None = None, tool_input: Any = None, pid: int | None = None) -> InputRequest:
        """Record a new open request; `pid` is the process that will wait for the answer."""
        if kind not in KINDS:
            raise InvalidInput(f"a request is one of: {', '.join(KINDS)}")
        text = _text(text, "the question" if kind == QUESTION else "the summary", MAX_TEXT)
        options = _options(options)
        timeout = _timeout(timeout_seconds)
        now = self.clock()
        self._prune(now)
        with self.records.exclusive() as txn:
            number = txn.next_number(lambda: self._highest_number())
            request = InputRequest(
                id=f"{ID_PREFIX}{number}", kind=kind, agent=one_line(agent, 200), text=text,
                created_at=format_ts(now), expires_at=format_ts(now + timedelta(seconds=timeout)),
                task_id=task_id, lane=lane, options=options, tool=tool, tool_input=_tool_input(tool_input),
                host=self.host, pid=pid, pid_start=procinfo.start_time(pid) if pid else None,
            )
            self._write(txn, request, "opened")
        self._task_event(request, "input_requested", f"{kind} {request.id}: {one_line(text, 200)}",
                         {"kind": kind, "tool": tool, "expires_at": request.expires_at})
        return request

    def answer(self, request_id: str, *, decision: str, reply: str = "", by: str) -> InputRequest:
        """Answer an open request; RequestClosed if it was answered, expired or closed meanwhile."""
        reply = _text(reply, "the reply", MAX_REPLY, required=False)
        with self.records.exclusive() as txn:
            current = self._current(txn, request_id)
            allowed = DECISIONS[current.kind]
            if decision not in allowed:
                raise InvalidInput(f"a {current.kind} request is answered with: {', '.join(allowed)}")
            if current.kind != PERMISSION and not reply:
                raise InvalidInput("a reply needs text (one of the options, or your own words)")
            answered = replace(current, state=ANSWERED, decision=decision, reply=reply,
                               answered_by=one_line(by, 200), answered_at=format_ts(self.clock()))
            self._write(txn, answered, "answered")
        self._task_event(answered, "input_answered", f"{answered.id} answered by {answered.answered_by}: {decision}",
                         {"decision": decision, "by": answered.answered_by})
        return answered

    def finish(self, request_id: str, *, state: str, reason: str) -> InputRequest | None:
        """Expire or close an open request with `reason`; None if it was no longer open."""
        if state not in (EXPIRED, CLOSED):
            raise InvalidInput("a request is finished as expired or closed")
        with self.records.exclusive() as txn:
            # The record as written: one that only reads as expired or orphaned is still open here.
            current = _parse(txn.get(validate_request_id(request_id)))
            if current is None or current.state != OPEN:
                return None
            done = replace(current, state=state, decision=None, reply=one_line(reason, 500),
                           answered_at=format_ts(self.clock()))
            self._write(txn, done, state)
        self._task_event(done, "input_closed", f"{done.id} {state}: {done.reply}", {"state": state})
        return done

    def close_for_task(self, task_id: str, reason: str) -> list[InputRequest]:
        """Close what a task's agent still waits for (its attempt ended, or its owner died)."""
        closed = []
        for request in self.records.values():
            parsed = _parse(request)
            if parsed is not None and parsed.task_id == task_id and parsed.state == OPEN:
                done = self.finish(parsed.id, state=CLOSED, reason=reason)
                if done is not None:
                    closed.append(done)
        return closed

    def settle(self) -> list[InputRequest]:
        """Write down what `as_of_now` already shows (expired, waiter gone); returns those."""
        settled = []
        for raw in self.records.values():
            request = _parse(raw)
            if request is None or request.state != OPEN:
                continue
            why = self._why_not_open(request)
            if why is not None and (done := self.finish(request.id, state=why[0], reason=why[1])) is not None:
                settled.append(done)
        return settled

    # -- inside -----------------------------------------------------------------------------

    def _current(self, txn: RecordTxn, request_id: str) -> InputRequest:
        request = _parse(txn.get(validate_request_id(request_id)))
        if request is None:
            raise NotFound(f"no request {one_line(request_id, 40)}")
        now_view = self.as_of_now(request)
        if now_view.state != OPEN:
            raise RequestClosed(f"request {request.id} is {now_view.state}"
                                + (f" ({one_line(now_view.reply, 200)})" if now_view.reply and
                                   now_view.state != ANSWERED else ""))
        return request

    def _why_not_open(self, request: InputRequest) -> tuple[str, str] | None:
        expires = _expiry(request)
        if expires is not None and self.clock() >= expires:
            return EXPIRED, f"no answer by {request.expires_at}"
        if request.pid and request.host == self.host and not procinfo.is_running(request.pid, request.pid_start):
            return CLOSED, "the agent that asked is no longer waiting (its process ended)"
        return None

    def _prune(self, now: datetime) -> None:
        """Forget finished requests older than a day: the list stays short at any history size."""
        cutoff = now - timedelta(seconds=KEEP_FINISHED_SECONDS)
        old = []
        for raw in self.records.values():
            request = _parse(raw)
            if request is not None and request.state != OPEN:
                with contextlib.suppress(ValueError, TypeError):
                    if (parse_ts(request.answered_at or request.created_at) or now) < cutoff:
                        old.append(request.id)
        if old:
            with self.records.exclusive() as txn:
                for request_id in old:
                    txn.remove(request_id)

    def _highest_number(self) -> int:
        return max((r.number for r in (_parse(raw) for raw in self.records.values()) if r is not None), default=0)

    def _write(self, txn: RecordTxn, request: InputRequest, what: str) -> None:
        txn.put(request.id, request.to_json())
        txn.log({"at": format_ts(self.clock()), "type": what, "id": request.id, "state": request.state,
                 "task_id": request.task_id, "decision": request.decision})

    def _task_event(self, request: InputRequest, kind: str, message: str, data: dict[str, Any]) -> None:
        if request.task_id and self._task_events is not None:
            with contextlib.suppress(NotFound):  # a request may outlive its task's archive
                self._task_events(request.task_id, kind, message, {"request_id": request.id, **data})


def seconds_waiting(requests: Iterable[InputRequest], since: datetime, now: datetime) -> tuple[float, bool]:
    """How long, between `since` and `now`, an agent was held by these requests (the union of
    the times its questions and permission requests were open; a blocker does not hold it), and
    whether one still holds it. `requests` as of now: one past its time ends at its expiry."""
    spans: list[tuple[datetime, datetime]] = []
    holding = False
    for request in requests:
        if request.kind == BLOCKER:
            continue
        try:
            start = max(parse_ts(request.created_at), since)
            if request.state == OPEN:
                end, holding = now, True
            elif request.answered_at:
                end = parse_ts(request.answered_at)
            else:  # reads as expired or orphaned, not written down yet
                end = min(_expiry(request) or now, now)
        except ValueError:
            continue  # a damaged timestamp holds nothing
        if end > start:
            spans.append((start, min(end, now)))
    total, reach = 0.0, since
    for start, end in sorted(spans):
        if end > reach:
            total += (end - max(start, reach)).total_seconds()
            reach = end
    return total, holding


def validate_request_id(request_id: str) -> str:
    text = request_id.strip() if isinstance(request_id, str) else ""
    if text.startswith("#"):
        text = text[1:]
    if text.isdigit():
        text = ID_PREFIX + text
    if not (text.startswith(ID_PREFIX) and text[len(ID_PREFIX):].isdigit() and len(text) <= 20):
        raise InvalidInput(f"a request id looks like r12 (or 12); got {one_line(str(request_id), 40)!r}")
    return ID_PREFIX + str(int(text[len(ID_PREFIX):]))


def _parse(raw: Any) -> InputRequest | None:
    try:
        return InputRequest.from_json(raw) if raw is not None else None
    except (ValueError, TypeError):
        return None  # damaged or foreign: skipped, never fatal to the list


def _expiry(request: InputRequest) -> datetime | None:
    try:
        return parse_ts(request.expires_at)
    except ValueError:
        return None


def _text(value: Any, what: str, limit: int, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{what} is empty")
    if len(text) > limit:
        raise InvalidInput(f"{what} is {len(text)} characters; at most {limit}")
    if "\x00" in text:
        raise InvalidInput(f"{what} holds a NUL character")
    return text


def _options(options: Iterable[str]) -> tuple[str, ...]:
    found = tuple(options or ())
    if len(found) > MAX_OPTIONS:
        raise InvalidInput(f"at most {MAX_OPTIONS} options")
    cleaned = tuple(_text(option, "an option", MAX_OPTION) for option in found)
    if len(set(cleaned)) != len(cleaned):
        raise InvalidInput("options must differ from each other")
    return cleaned


def _timeout(seconds: float) -> float:
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 < seconds <= MAX_TIMEOUT_SECONDS:
        raise InvalidInput(f"a request's timeout is between 0 and {MAX_TIMEOUT_SECONDS:g} seconds")
    return float(seconds)


def _tool_input(value: Any) -> Any:
    """JSON as given, or its first characters when too big for one record."""
    if value is None:
        return None
    try:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return {"unreadable": one_line(repr(value), 500)}
    return value if len(text) <= MAX_TOOL_INPUT else {"truncated": text[:MAX_TOOL_INPUT]}
