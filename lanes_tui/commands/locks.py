"""`lock`, `unlock`, `locks`, `break-lock`: advisory locks for agents sharing one repository.

Who you are: `--as NAME`, else `LANES_AGENT_ID` (set for every worker the
supervisor starts). Paths are keyed relative to the workspace's repository
(storage/files/locks.py); `--name` locks a named resource instead of paths.

Exit status: 0 the lock is held (or released, listed, broken); 9 held by
someone else (after `--wait`: still held when the time ran out); the usual
codes for everything else (5 bad input, 4 nothing to break, 1 not your lock).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanes_tui.commands.lock_args import AGENT_ENV
from lanes_tui.commands.output import emit_json
from lanes_tui.core.clock import format_ts, parse_ts
from lanes_tui.core.errors import InvalidInput, UsageError
from lanes_tui.core.handoff import RuntimeConfig, load_config
from lanes_tui.core.locks import (
    LockHeld,
    LockRecord,
    LockState,
    LockTable,
    lock_key_for_name,
    lock_key_for_path,
)
from lanes_tui.core.sanitize import one_line
from lanes_tui.storage import open_store

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend

RECHECK_SECONDS = 1.0  # while waiting: a dead owner or a passed TTL announces itself by no file event


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, store_override=args.store, settings_path=args.settings)
    store = open_store(config.store_location)  # created like any verb's, and checked (owner, modes, no symlinks)
    table = store.locks()
    command = args.command
    if command == "locks":
        return _list(table, args.json)
    if command == "break-lock":
        broken = [table.break_lock(key, by=f"operator:{_identity(args, required=False) or 'unknown'}",
                                   reason=args.reason) for key in _keys(args, config)]
        _print(args.json, "broken", broken)
        return 0
    owner = _identity(args, required=True)
    keys = _keys(args, config)
    if command == "unlock":
        released = [table.release(key, owner=owner, token=args.token) for key in keys]
        _print(args.json, "released", released)
        return 0
    held = _acquire_all(store, table, keys, owner, args)
    _print(args.json, "locked", held)
    return 0


def _acquire_all(store: Backend, table: LockTable, keys: list[str], owner: str,
                 args: argparse.Namespace) -> list[LockRecord]:
    """All of them or none (sorted order: two agents locking the same set cannot deadlock)."""
    deadline = time.monotonic() + (args.wait or 0.0)
    watcher = None
    try:
        while True:
            held: list[LockRecord] = []
            try:
                for key in sorted(set(keys)):
                    held.append(table.acquire(key, owner=owner, ttl_seconds=args.ttl, reason=args.reason or "",
                                              pid=args.pid))
                return held
            except LockHeld as exc:
                for record in held:  # give back what this call took
                    table.release(record.key, owner=owner, token=record.token)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                if watcher is None:
                    watcher = store.record_watch("locks")
                    continue  # armed before the next look: a release in between is not missed
                watcher.wait(min(left, RECHECK_SECONDS, _until(exc.holder)))
    finally:
        if watcher is not None:
            watcher.close()


def _until(record: LockRecord) -> float:
    try:
        expires = parse_ts(record.expires_at)
    except ValueError:
        return RECHECK_SECONDS
    return max(0.01, (expires - datetime.now(UTC)).total_seconds()) if expires else RECHECK_SECONDS


def _identity(args: argparse.Namespace, *, required: bool) -> str | None:
    name = args.as_name or os.environ.get(AGENT_ENV, "")
    if not name and required:
        raise UsageError(f"who is locking? pass --as NAME or set {AGENT_ENV}")
    if name.startswith("operator:") and args.command != "break-lock":
        raise InvalidInput("agent names starting with 'operator:' are reserved for people breaking locks")
    return name or None


def _keys(args: argparse.Namespace, config: RuntimeConfig) -> list[str]:
    if args.name:
        return [lock_key_for_name(name) for name in args.targets]
    return [lock_key_for_path(raw, workspace_root=config.workspace_root, cwd=Path.cwd()) for raw in args.targets]


def _list(table: LockTable, as_json: bool) -> int:
    states = sorted(table.states(), key=lambda s: s.record.key)
    if as_json:
        emit_json({"status": "ok", "count": len(states), "locks": [_state_json(s) for s in states]})
        return 0
    if not states:
        print("no locks held")
    for state in states:
        record = state.record
        alive = {True: "alive", False: "dead", None: "?"}[state.alive]
        print(f"{one_line(record.key, 80):<40} {one_line(record.owner, 40):<24} until {record.expires_at}  "
              f"owner {alive}{'  STALE: ' + state.stale if state.stale else ''}"
              f"{'  (' + one_line(record.reason, 60) + ')' if record.reason else ''}")
    return 0


def _state_json(state: LockState) -> dict[str, Any]:
    return {**state.record.to_json(), "owner_alive": state.alive, "stale": state.stale}


def _print(as_json: bool, verb: str, records: list[LockRecord]) -> None:
    if as_json:
        emit_json({"status": "ok", "action": verb, "at": format_ts(datetime.now(UTC)),
                   "locks": [r.to_json() for r in records]})
        return
    for record in records:
        print(f"{verb} {one_line(record.key, 120)} token {record.token} until {record.expires_at}")
