"""Who is working in this repository: one presence record per agent, kept fresh by heartbeats.

A backend keeps the records (`core/records.Records`, keyed by agent id, with an audit
trail of registrations; heartbeats are not logged: too many) and makes each change one
exclusive transaction; reads take no lock. The file store's layout is in
`storage/files/records.py`.

Status is derived when read, never stored, so it cannot go stale:
`active` when the last heartbeat is at most ACTIVE_SECONDS old, `idle` up to
OFFLINE_SECONDS, `offline` after that. An agent registered with a pid on this
host is `offline` as soon as that process (pid plus start time: pids are
reused) is gone, whatever its last heartbeat says.

Agent ids are what agents call themselves (`--as NAME`, `LANES_AGENT_ID`);
they are shown everywhere, so they refuse control characters, bidi controls
and the other code points `sanitize.clean` would escape. `all`, `name:...`
and `role:...` are message addresses (core/messages.py), so they cannot be ids.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from lanes_tui.core import procinfo
from lanes_tui.core.clock import Clock, format_ts, parse_ts, system_clock
from lanes_tui.core.errors import InvalidInput
from lanes_tui.core.hosts import this_host
from lanes_tui.core.records import Records, RecordTxn
from lanes_tui.core.sanitize import is_clean

ACTIVE_SECONDS = 120.0
OFFLINE_SECONDS = 900.0
MAX_ID = 200
MAX_NOTE = 500
MAX_RECORD_BYTES = 64 << 10
STATUSES = ("active", "idle", "offline")
_ROLE = re.compile(r"^[a-z0-9_-]{1,40}$")
_RESERVED_IDS = ("all",)
_RESERVED_PREFIXES = ("name:", "role:")


@dataclass(frozen=True)
class AgentRecord:
    id: str
    name: str
    role: str | None
    host: str
    registered_at: str
    last_seen: str
    pid: int | None = None
    pid_start: int | None = None
    task_id: str | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Any) -> "AgentRecord":
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        fields = {name: raw.get(name) for name in cls.__dataclass_fields__}
        for name in ("id", "name", "host", "registered_at", "last_seen", "note"):
            if not isinstance(fields[name], str):
                raise ValueError(f"{name} is not a string")
        for name in ("role", "task_id"):
            if fields[name] is not None and not isinstance(fields[name], str):
                raise ValueError(f"{name} is not a string")
        for name in ("pid", "pid_start"):
            if fields[name] is not None and (not isinstance(fields[name], int) or isinstance(fields[name], bool)):
                raise ValueError(f"{name} is not an integer")
        if parse_ts(fields["last_seen"]) is None:
            raise ValueError("last_seen is empty")
        return cls(**fields)


@dataclass(frozen=True)
class AgentState:
    """A record as a reader sees it now."""

    record: AgentRecord
    status: str  # active, idle or offline
    alive: bool | None  # the registered process runs (None: no pid, or another host)
    seen_seconds_ago: float

    def to_json(self) -> dict[str, Any]:
        return {**self.record.to_json(), "status": self.status, "alive": self.alive,
                "seen_seconds_ago": round(self.seen_seconds_ago, 3)}


def validate_agent_id(agent_id: object, what: str = "an agent id") -> str:
    """1-200 characters that print as themselves, and not a message address."""
    if (not isinstance(agent_id, str) or not 1 <= len(agent_id) <= MAX_ID or not is_clean(agent_id)
            or "\t" in agent_id or "\n" in agent_id or agent_id != agent_id.strip()):
        raise InvalidInput(f"{what} must be 1-{MAX_ID} characters without control characters "
                           "or surrounding spaces")
    if agent_id in _RESERVED_IDS or agent_id.startswith(_RESERVED_PREFIXES):
        raise InvalidInput(f"{what} cannot be 'all' or start with 'name:' or 'role:' (message addresses)")
    return agent_id


def validate_name(name: object) -> str:
    """A display name, shown like an id so held to the same printable rule. Unlike an id it may be
    `all` or `role:x`: a name is only ever addressed through `name:<name>`, never alone."""
    if (not isinstance(name, str) or not 1 <= len(name) <= MAX_ID or not is_clean(name)
            or "\t" in name or "\n" in name or name != name.strip()):
        raise InvalidInput(f"a name must be 1-{MAX_ID} characters without control characters or surrounding spaces")
    return name


def validate_role(role: object) -> str:
    if not isinstance(role, str) or not _ROLE.match(role):
        raise InvalidInput("a role is 1-40 characters of a-z, 0-9, _ and -")
    return role


class Presence:
    def __init__(self, records: Records, *, clock: Clock = system_clock, host: str | None = None,
                 active_seconds: float = ACTIVE_SECONDS, offline_seconds: float = OFFLINE_SECONDS) -> None:
        self.records = records
        self.clock = clock
        self.host = host or this_host()
        self.active_seconds = active_seconds
        self.offline_seconds = offline_seconds

    # -- reading (lock-free) ----------------------------------------------------------

    def get(self, agent_id: str) -> AgentRecord | None:
        return _record(self.records.get(agent_id), agent_id)

    def agents(self, now: datetime | None = None) -> list[AgentState]:
        """Every registered agent with its status as of `now`, sorted by id (unreadable records skipped)."""
        now = now or self.clock()
        found = []
        for raw in self.records.values():
            with contextlib.suppress(ValueError):
                found.append(self.state_of(AgentRecord.from_json(raw), now))
        return sorted(found, key=lambda state: state.record.id)

    def state_of(self, record: AgentRecord, now: datetime | None = None) -> AgentState:
        now = now or self.clock()
        alive = None
        if record.pid is not None and record.host == self.host:
            alive = procinfo.is_running(record.pid, record.pid_start)
        try:
            seen = parse_ts(record.last_seen)
            ago = (now - seen).total_seconds() if seen else float("inf")
        except ValueError:
            ago = float("inf")
        if alive is False or ago > self.offline_seconds:
            status = "offline"
        elif ago > self.active_seconds:
            status = "idle"
        else:
            status = "active"  # includes a heartbeat from a clock slightly ahead of ours
        return AgentState(record, status, alive, ago)

    def status_of(self, agent_id: str) -> str | None:
        """active, idle, offline, or None when `agent_id` never registered (or its record is unreadable)."""
        record = self.get(agent_id)
        return None if record is None else self.state_of(record).status

    def matching(self, address: str) -> list[AgentRecord]:
        """Registered agents a message address reaches (`all`, `name:N`, `role:R` or an id)."""
        return [state.record for state in self.agents() if address in addresses_of(state.record.id, state.record)]

    # -- verbs -----------------------------------------------------------------------------

    def register(self, agent_id: str, name: str | None = None, role: str | None = None,
                 pid: int | None = None, task_id: str | None = None) -> AgentRecord:
        """Create or replace the agent's record: a re-register starts a new session."""
        agent_id = validate_agent_id(agent_id)
        name = validate_name(name) if name is not None else agent_id
        role = validate_role(role) if role is not None else None
        if pid is not None and (not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0):
            raise InvalidInput("a pid is a positive whole number")
        task_id = _task(task_id)
        with self.records.exclusive() as txn:
            return self._register_at(txn, agent_id, name, role, pid, task_id or None)

    def heartbeat(self, agent_id: str, task_id: str | None = None, note: str | None = None) -> AgentRecord:
        """Mark the agent seen now. None keeps the current task/note; "" clears it.

        An agent that never registered is registered on the way (name = id): a worker
        whose first call is a heartbeat should show up, not fail."""
        agent_id = validate_agent_id(agent_id)
        task_id = _task(task_id)
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
            raise InvalidInput(f"a note is text of at most {MAX_NOTE} characters")
        with self.records.exclusive() as txn:
            current = _record(txn.get(agent_id), agent_id)
            if current is None:
                current = self._register_at(txn, agent_id, agent_id, None, None, task_id or None)
            data = current.to_json()
            data["last_seen"] = format_ts(self.clock())
            if task_id is not None:
                data["task_id"] = task_id or None
            if note is not None:
                data["note"] = note
            record = AgentRecord(**data)
            txn.put(agent_id, record.to_json())
            return record

    # -- inside -----------------------------------------------------------------------------

    def _register_at(self, txn: RecordTxn, agent_id: str, name: str, role: str | None, pid: int | None,
                     task_id: str | None) -> AgentRecord:
        stamp = format_ts(self.clock())
        record = AgentRecord(id=agent_id, name=name, role=role, host=self.host, registered_at=stamp,
                             last_seen=stamp, pid=pid, pid_start=procinfo.start_time(pid) if pid else None,
                             task_id=task_id)
        txn.put(agent_id, record.to_json())
        txn.log({"at": stamp, "type": "registered", **record.to_json()})  # an audit trail
        return record


def _record(raw: Any, agent_id: str) -> AgentRecord | None:
    """The agent's record; None when missing or unreadable (as good as unregistered: the next
    register replaces it) or when it is another agent's (a record copied in is not trusted)."""
    if raw is None:
        return None
    try:
        record = AgentRecord.from_json(raw)
    except ValueError:
        return None
    return record if record.id == agent_id else None


def addresses_of(agent_id: str, record: AgentRecord | None) -> frozenset[str]:
    """Every message address that reaches this agent: its id, `all`, `name:<its name>` and
    `role:<its role>` as registered now (an unregistered agent's name is its id)."""
    reach = {"all", agent_id, f"name:{record.name if record else agent_id}"}
    if record is not None and record.role:
        reach.add(f"role:{record.role}")
    return frozenset(reach)


def _task(task_id: str | None) -> str | None:
    """A task id as given (agent-lanes ids, or anything printable); "" (clear it) passes through."""
    if task_id is None or task_id == "":
        return task_id
    if (not isinstance(task_id, str) or len(task_id) > MAX_ID or not is_clean(task_id)
            or "\t" in task_id or "\n" in task_id):
        raise InvalidInput(f"a task id must be at most {MAX_ID} characters without control characters")
    return task_id
