"""Advisory locks on workspace paths and named resources: the rules, over any backend's records.

Agents sharing one repository take a lock before editing a file; lanes-tui
never enforces it on the filesystem (the Claude Code hook does, at edit time).
A backend keeps the records (`core/records.Records`: one per held lock, an audit
trail of acquired, renewed, released, taken_over and broken, and the fence
counter) and makes each change one exclusive transaction, so exactly one caller
wins any race; the file store's layout is in `storage/files/records.py`.

A record holds owner, a fencing token (strictly increasing across all locks, so
a resource can refuse an older holder), reason, acquired/expires timestamps,
host, and pid + process start time when the owner gave a pid. A lock is stale
when its TTL passed or its owner is provably dead (a pid on this host that no
longer runs with that start time, or a registered agent gone offline); a stale
lock may be taken over, and the takeover is recorded. Renew and release need the
current token: a holder whose lock was broken or taken over is fenced out.

Keys: `path:<path relative to the repository root>` for files, so one file has
one key whatever form its path takes (relative, absolute, through a symlink,
from a linked git worktree of the same repository), and `name:<name>` for
anything else.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from lanes_tui.core import procinfo
from lanes_tui.core.clock import Clock, format_ts, parse_ts, system_clock
from lanes_tui.core.errors import ConflictError, InvalidInput, LanesError, NotFound
from lanes_tui.core.hosts import this_host
from lanes_tui.core.paths import expand_user
from lanes_tui.core.presence import Presence
from lanes_tui.core.records import Records, RecordTxn
from lanes_tui.core.sanitize import one_line

MAX_TTL_SECONDS = 7 * 86400.0
MAX_REASON = 500
MAX_OWNER = 200
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$")
_OWNER = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


class LockHeld(ConflictError):
    """Held by another live owner: its own exit code, so scripts can wait or back off."""

    exit_code = 9
    kind = "lock_held"

    def __init__(self, message: str, holder: "LockRecord") -> None:
        super().__init__(message)
        self.holder = holder


class LockLost(ConflictError):
    """Renew or release with a token that is not the current one (broken, taken over, expired)."""

    kind = "lock_lost"


@dataclass(frozen=True)
class LockRecord:
    key: str
    owner: str
    token: int
    reason: str
    acquired_at: str
    expires_at: str
    host: str
    pid: int | None = None
    pid_start: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _RECORD_FIELDS}

    @classmethod
    def from_json(cls, raw: Any) -> "LockRecord":
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        fields = {name: raw.get(name) for name in cls.__dataclass_fields__}
        for name in ("key", "owner", "reason", "acquired_at", "expires_at", "host"):
            if not isinstance(fields[name], str):
                raise ValueError(f"{name} is not a string")
        if not isinstance(fields["token"], int) or isinstance(fields["token"], bool):
            raise ValueError("token is not an integer")
        for name in ("pid", "pid_start"):
            if fields[name] is not None and (not isinstance(fields[name], int) or isinstance(fields[name], bool)):
                raise ValueError(f"{name} is not an integer")
        parse_ts(fields["expires_at"])
        return cls(**fields)


_RECORD_FIELDS = tuple(LockRecord.__dataclass_fields__)


@dataclass(frozen=True)
class LockState:
    """A record as a reader sees it now."""

    record: LockRecord
    alive: bool | None  # the owner's process runs (None: no pid, or another host)
    stale: str | None  # why it may be taken over, or None


def lock_key_for_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput("a lock name: letters, digits and . _ : / @ -, up to 200 characters")
    return f"name:{name}"


def lock_key_for_path(raw: str, *, workspace_root: Path, cwd: Path | None = None) -> str:
    """`path:<relative path>` for a file in the workspace's repository, however it is named.

    Symlinks are resolved (the file's real place counts); a path in a linked git worktree
    maps to the same key as in the main working tree; a path outside both is refused.
    """
    if not isinstance(raw, str) or not raw or "\x00" in raw:
        raise InvalidInput("a lock path must be a non-empty path")
    base = Path(cwd) if cwd is not None else Path.cwd()
    candidate = expand_user(raw)
    real = Path(os.path.realpath(candidate if candidate.is_absolute() else base / candidate))
    root = Path(os.path.realpath(workspace_root))
    for tree in _trees_of(root):
        with contextlib.suppress(ValueError):
            relative = real.relative_to(tree)
            if str(relative) in ("", "."):
                break  # the root itself is not a file
            return f"path:{relative.as_posix()}"
    raise InvalidInput(f"lock path is outside the workspace: {one_line(raw, 200)}")


def _trees_of(root: Path) -> list[Path]:
    """Where a lockable file may be: the workspace, or, when the workspace is a git working
    tree, the repository's main tree and every linked worktree. Deepest first, so a worktree
    nested in the main tree wins over it."""
    git = root / ".git"
    common = git if git.is_dir() else _common_dir(git) if git.is_file() else None
    if common is None:
        return [root]
    trees = {root}
    if common.name == ".git":
        trees.add(Path(os.path.realpath(common.parent)))
    with contextlib.suppress(OSError):
        for entry in (common / "worktrees").iterdir():
            with contextlib.suppress(OSError, UnicodeDecodeError):
                pointer = (entry / "gitdir").read_text(encoding="utf-8").strip()  # <tree>/.git
                trees.add(Path(os.path.realpath(Path(pointer).parent)))
    return sorted(trees, key=lambda tree: len(str(tree)), reverse=True)


def _common_dir(git_file: Path) -> Path | None:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        text = git_file.read_text(encoding="utf-8").strip()
        if text.startswith("gitdir:"):
            gitdir = Path(text[len("gitdir:"):].strip())
            gitdir = gitdir if gitdir.is_absolute() else git_file.parent / gitdir
            commondir = gitdir / "commondir"
            if commondir.is_file():
                pointer = Path(commondir.read_text(encoding="utf-8").strip())
                return Path(os.path.realpath(pointer if pointer.is_absolute() else gitdir / pointer))
    return None


class LockTable:
    def __init__(self, records: Records, presence: Presence, *, clock: Clock = system_clock,
                 host: str | None = None) -> None:
        self.records = records
        self.presence = presence
        self.clock = clock
        self.host = host or this_host()

    # -- reading (lock-free) ----------------------------------------------------------

    def get(self, key: str) -> LockRecord | None:
        return _record(self.records.get(key), key)

    def states(self) -> list[LockState]:
        """Every held lock, with liveness and staleness as of now (unreadable records skipped)."""
        found = []
        for raw in self.records.values():
            with contextlib.suppress(ValueError):
                found.append(self.state_of(LockRecord.from_json(raw)))
        return found

    def state_of(self, record: LockRecord) -> LockState:
        alive = self._owner_alive(record)
        return LockState(record, alive, self._stale_reason(record, alive))

    # -- verbs -----------------------------------------------------------------------------

    def acquire(self, key: str, *, owner: str, ttl_seconds: float, reason: str = "",
                pid: int | None = None) -> LockRecord:
        """Take `key` for `owner`; the same owner re-acquiring extends its lock (same token).

        Raises LockHeld when another owner holds it and it is not stale."""
        owner, reason = _owner(owner), _reason(reason)
        ttl = _ttl(ttl_seconds)
        with self.records.exclusive() as txn:
            current = _record(txn.get(key), key)
            now = self.clock()
            if current is not None and current.owner == owner and not self._stale_reason(current, self._owner_alive(current)):
                record = self._with_expiry(current, now, ttl, reason or current.reason)
                self._write(txn, record, "renewed", {})
                return record
            if current is not None:
                stale = self._stale_reason(current, self._owner_alive(current))
                if stale is None:
                    raise LockHeld(f"{_show_key(key)} is locked by {one_line(current.owner, 80)} "
                                   f"until {current.expires_at}" + (f" ({one_line(current.reason, 120)})" if current.reason else ""),
                                   current)
            record = LockRecord(
                key=key, owner=owner, token=self._next_token(txn), reason=reason,
                acquired_at=format_ts(now), expires_at=format_ts(now + timedelta(seconds=ttl)),
                host=self.host, pid=pid, pid_start=procinfo.start_time(pid) if pid else None,
            )
            if current is not None:
                self._write(txn, record, "taken_over", {"previous": current.to_json(), "why": stale})
            else:
                self._write(txn, record, "acquired", {})
            return record

    def renew(self, key: str, *, owner: str, token: int | None, ttl_seconds: float) -> LockRecord:
        ttl = _ttl(ttl_seconds)
        with self.records.exclusive() as txn:
            current = self._holder(txn, key, owner, token, "renew")
            record = self._with_expiry(current, self.clock(), ttl, current.reason)
            self._write(txn, record, "renewed", {})
            return record

    def release(self, key: str, *, owner: str, token: int | None) -> LockRecord:
        """Only the holder releases; with `token`, only that very grant (fencing)."""
        with self.records.exclusive() as txn:
            current = self._holder(txn, key, owner, token, "release")
            self._remove(txn, current, "released", {})
            return current

    def break_lock(self, key: str, *, by: str, reason: str) -> LockRecord:
        """An operator removes someone's lock; the holder's token is dead afterwards."""
        by, reason = _owner(by), _reason(reason)
        if not reason:
            raise InvalidInput("breaking a lock needs a reason")
        with self.records.exclusive() as txn:
            current = _record(txn.get(key), key)
            if current is None:
                raise NotFound(f"{_show_key(key)} is not locked")
            self._remove(txn, current, "broken", {"by": by, "reason": reason})
            return current

    # -- inside -----------------------------------------------------------------------------

    def _holder(self, txn: RecordTxn, key: str, owner: str, token: int | None, verb: str) -> LockRecord:
        current = _record(txn.get(key), key)
        if current is None or current.owner != owner or (token is not None and current.token != token):
            with_token = f" with token {token}" if token is not None else ""
            raise LockLost(f"cannot {verb} {_show_key(key)}: not held by {one_line(owner, 80)}{with_token}")
        return current

    def _with_expiry(self, record: LockRecord, now: datetime, ttl: float, reason: str) -> LockRecord:
        data = record.to_json()
        data.update(expires_at=format_ts(now + timedelta(seconds=ttl)), reason=reason)
        return LockRecord(**data)

    def _owner_alive(self, record: LockRecord) -> bool | None:
        if record.pid is None or record.host != self.host:
            return None
        return procinfo.is_running(record.pid, record.pid_start)

    def _stale_reason(self, record: LockRecord, alive: bool | None) -> str | None:
        if alive is False:
            return f"owner process {record.pid} is gone"
        try:
            expires = parse_ts(record.expires_at)
        except ValueError:
            return "expiry unreadable"
        if expires is not None and expires <= self.clock():
            return f"expired at {record.expires_at}"
        # A registered agent that stopped heartbeating is offline: its locks stop counting.
        # An owner that never registered is judged by its TTL (and pid) alone.
        with contextlib.suppress(LanesError, OSError):
            if self.presence.status_of(record.owner) == "offline":
                return f"owner agent {one_line(record.owner, 80)} is offline"
        return None

    def _next_token(self, txn: RecordTxn) -> int:
        # A damaged counter must never hand out an old token again: start above every held one.
        return txn.next_number(lambda: max((s.record.token for s in self.states()), default=0) + 1_000_000)

    def _write(self, txn: RecordTxn, record: LockRecord, kind: str, data: dict[str, Any]) -> None:
        txn.put(record.key, record.to_json())
        self._event(txn, kind, record, data)

    def _remove(self, txn: RecordTxn, record: LockRecord, kind: str, data: dict[str, Any]) -> None:
        txn.remove(record.key)
        self._event(txn, kind, record, data)

    def _event(self, txn: RecordTxn, kind: str, record: LockRecord, data: dict[str, Any]) -> None:
        txn.log({"at": format_ts(self.clock()), "type": kind, "key": record.key, "owner": record.owner,
                 "token": record.token, **data})


def _record(raw: Any, key: str) -> LockRecord | None:
    """The lock stored under `key`; None when unreadable (as good as free: nobody can prove they
    hold it) or when it names another key (a record copied in is not trusted)."""
    if raw is None:
        return None
    try:
        record = LockRecord.from_json(raw)
    except ValueError:
        return None
    return record if record.key == key else None


def _owner(owner: str) -> str:
    if not isinstance(owner, str) or not _OWNER.match(owner):
        raise InvalidInput("an owner must be 1-200 characters without control characters")
    return owner


def _reason(reason: str) -> str:
    if not isinstance(reason, str):
        raise InvalidInput("a reason must be text")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"a reason is at most {MAX_REASON} characters")
    return reason


def _ttl(seconds: float) -> float:
    if not isinstance(seconds, (int, float)) or not (0 < seconds <= MAX_TTL_SECONDS) or seconds != seconds:
        raise InvalidInput(f"a TTL must be more than 0 and at most {MAX_TTL_SECONDS:g} seconds")
    return float(seconds)


def _show_key(key: str) -> str:
    return one_line(key, 200)
