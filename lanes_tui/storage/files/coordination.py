"""The coordination records of a file store, wired: core's rules over the store's folders.

`<store>/locks/`, `<store>/agents/` and `<store>/requests/` (records.py; requests: where agents
wait for a person), `<store>/messages/` (messages.py), `<store>/journal/` (journal.py).
Each call builds a light object; nothing is held open.
"""

from __future__ import annotations

from pathlib import Path

from lanes_tui.core.clock import Clock, system_clock
from lanes_tui.core.journal import Journal
from lanes_tui.core.locks import LockTable
from lanes_tui.core.messages import MessageBox
from lanes_tui.core.presence import Presence
from lanes_tui.core.requests import RequestBook, TaskEvents
from lanes_tui.storage.files.journal import JOURNAL_DIR, FolderLogs
from lanes_tui.storage.files.messages import MESSAGES_DIR, FolderMessageLog
from lanes_tui.storage.files.records import FolderRecords

LOCKS_DIR = "locks"
AGENTS_DIR = "agents"
REQUESTS_DIR = "requests"
FOLDERS = {"locks": LOCKS_DIR, "agents": AGENTS_DIR, "messages": MESSAGES_DIR, "requests": REQUESTS_DIR}


def file_presence(store_root: Path, *, clock: Clock = system_clock, host: str | None = None,
                  **thresholds: float) -> Presence:
    """`thresholds`: active_seconds, offline_seconds (core/presence.py)."""
    records = FolderRecords(store_root, AGENTS_DIR, key_field="id", what="presence file", durable=True)
    return Presence(records, clock=clock, host=host, **thresholds)


def file_locks(store_root: Path, *, clock: Clock = system_clock, host: str | None = None) -> LockTable:
    records = FolderRecords(store_root, LOCKS_DIR, key_field="key", what="lock file", durable=False, counter="fence")
    return LockTable(records, file_presence(store_root, clock=clock, host=host), clock=clock, host=host)


def file_messages(store_root: Path, *, clock: Clock = system_clock, presence: Presence | None = None) -> MessageBox:
    return MessageBox(FolderMessageLog(store_root), presence or file_presence(store_root, clock=clock), clock=clock)


def file_journal(store_root: Path, *, clock: Clock = system_clock) -> Journal:
    return Journal(FolderLogs(store_root, JOURNAL_DIR), clock=clock)


def file_requests(store_root: Path, *, clock: Clock = system_clock,
                  task_events: TaskEvents | None = None) -> RequestBook:
    # Durable: an operator's answer must survive a power cut as a task's answer does.
    records = FolderRecords(store_root, REQUESTS_DIR, key_field="id", what="request file", durable=True)
    return RequestBook(records, clock=clock, task_events=task_events)
