"""`lanes-tui store copy FROM TO`: a queue moved between backends (a file store, PostgreSQL),
whole and checked.

Every task goes as it is (ids, claim tokens, times, answers, every event in order, archived
or not), so agent-lanes' CLI, `wait` and the dashboard read the same queue on the other side,
and so does this host's raw output of each attempt (its transcripts). Nothing in the
destination is ever overwritten: a task already there with the same contents counts as
copied (a copy run again after an interruption finishes it), one with other contents stops
the copy before anything is written.

The copy refuses while a claim's lease is still running: that task's worker would answer into
the source after the copy was taken. Success is reported only after the destination was read
back and every task's digest (storage/task_records.py) matched the source's, and the source
was read again and found unchanged.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, NamedTuple

from lanes_tui.core import lifecycle
from lanes_tui.core.errors import ConflictError, StoreError, UsageError
from lanes_tui.core.sanitize import one_line
from lanes_tui.storage.task_records import digest

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend
    from lanes_tui.storage.results import WholeTask

_ATTEMPT_LOG = re.compile(r"attempt-\d+\.log")
_SHOWN = 3  # ids named in a refusal; the count says how many more


class CopyReport(NamedTuple):
    source: str
    destination: str
    tasks: int  # in the source, all of them now in the destination
    copied: int  # written by this run
    already_there: int  # found in the destination with the same contents
    answered: int
    archived: int
    events: int
    skipped_event_lines: int  # torn or foreign lines the source's reader skips (G6): not copied
    attempt_logs: int  # this host's raw worker output files copied
    sha256: str  # over every task's id and digest, the same on both sides

    def to_json(self) -> dict[str, object]:
        return {"status": "ok", **self._asdict()}


def copy_queue(source: Backend, destination: Backend) -> CopyReport:
    if source.address is not None and source.address == destination.address:
        raise UsageError(f"FROM and TO are the same queue ({source.location})")
    records = list(source.export_tasks())
    _refuse_running_claims(source, records)
    wanted = {record.task["id"]: digest(record) for record in records}
    _refuse_different_tasks(destination, wanted)
    copied = sum(destination.import_task(record) for record in records)
    logs = sum(_copy_attempt_logs(source, destination, task_id) for task_id in wanted)
    _check_destination(destination, wanted)
    _check_source_unchanged(source, wanted)
    return CopyReport(
        source=source.location, destination=destination.location, tasks=len(records), copied=copied,
        already_there=len(records) - copied, answered=sum(r.response is not None for r in records),
        archived=sum(r.archived for r in records), events=sum(len(r.events) for r in records),
        skipped_event_lines=sum(r.bad_event_lines for r in records), attempt_logs=logs, sha256=_total(wanted))


def _refuse_running_claims(source: Backend, records: list[WholeTask]) -> None:
    now = source.now()
    running = [r.task for r in records
               if not r.archived and r.task.get("state") == "claimed" and not lifecycle.lease_expired(r.task, now)]
    if running:
        first = running[0]
        raise ConflictError(
            f"{len(running)} task(s) in {source.location} are claimed with their lease running (first: "
            f"{first['id']} by {one_line(str(first.get('claim_owner')), 80)} until {first.get('lease_expires_at')}): "
            "their workers would answer into the old queue; stop the supervisors on it (or wait for the leases to "
            "run out) and copy again; nothing was copied")


def _refuse_different_tasks(destination: Backend, wanted: dict[str, str]) -> None:
    """Before anything is written: a task of the source that the destination holds with other
    contents (one of the two would be lost)."""
    clashes = [record.task["id"] for record in destination.export_tasks()
               if record.task.get("id") in wanted and digest(record) != wanted[record.task["id"]]]
    if clashes:
        raise ConflictError(f"{len(clashes)} task(s) are already in {destination.location} with other contents "
                            f"({_some(clashes)}); nothing was copied")


def _check_destination(destination: Backend, wanted: dict[str, str]) -> None:
    found = {record.task["id"]: digest(record) for record in destination.export_tasks()
             if record.task.get("id") in wanted}
    missing = [task_id for task_id in wanted if task_id not in found]
    differ = [task_id for task_id in wanted if task_id in found and found[task_id] != wanted[task_id]]
    if missing or differ:
        raise StoreError(f"the copy in {destination.location} does not read back as the source: "
                         f"{len(missing)} missing ({_some(missing)}), {len(differ)} different ({_some(differ)}); "
                         "the source is untouched")


def _check_source_unchanged(source: Backend, wanted: dict[str, str]) -> None:
    now = {record.task["id"]: digest(record) for record in source.export_tasks()}
    changed = sorted(set(now) ^ set(wanted) | {t for t in wanted if t in now and now[t] != wanted[t]})
    if changed:
        raise StoreError(f"{source.location} changed while it was copied ({len(changed)} task(s): {_some(changed)}): "
                         "stop what writes to it and copy again (what was copied stays and is checked again)")


def _copy_attempt_logs(source: Backend, destination: Backend, task_id: str) -> int:
    """This host's raw output of each attempt of the task, where the destination keeps it; a
    log already there is left as it is."""
    folder = source.attempt_log_path(task_id, 1).parent
    try:
        names = sorted(name for name in os.listdir(folder) if _ATTEMPT_LOG.fullmatch(name))
    except (FileNotFoundError, NotADirectoryError):
        return 0
    target = destination.attempt_log_path(task_id, 1).parent
    copied = 0
    for name in names:
        origin, copy = folder / name, target / name
        if origin.is_symlink() or not origin.is_file() or copy.exists() or copy.is_symlink():
            continue
        _make_private_folders(target)
        try:
            shutil.copyfile(origin, copy, follow_symlinks=False)
            os.chmod(copy, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot copy the attempt log {origin} to {copy}: {exc.strerror or exc}") from None
        copied += 1
    return copied


def _make_private_folders(folder: Path) -> None:
    """Every missing folder down to `folder` 0700: attempt logs hold prompts and agent output."""
    for parent in reversed([folder, *folder.parents]):
        if not parent.exists():
            parent.mkdir(mode=0o700, exist_ok=True)


def _total(wanted: dict[str, str]) -> str:
    lines = "".join(f"{task_id} {wanted[task_id]}\n" for task_id in sorted(wanted))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _some(ids: Iterable[str]) -> str:
    ids = list(ids)
    if not ids:
        return "none"
    shown = ", ".join(ids[:_SHOWN])
    return shown + (f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else "")
