"""Queue verbs: submit, wait, next/watch, claim, renew, release, event, respond,
status, list, and lanes-tui's cancel, break, requeue and archive."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanes_tui.commands.output import emit, emit_committed, emit_json, note, warn
from lanes_tui.core import views
from lanes_tui.core.errors import (
    CorruptTask,
    InvalidInput,
    NotFound,
    TaskFailed,
    UsageError,
    WaitTimeout,
)
from lanes_tui.core.handoff import RuntimeConfig, load_config
from lanes_tui.core.paths import expand_user
from lanes_tui.core.request_files import WRITE_RESPONSE, write_answer_file
from lanes_tui.core.states import FAILED, QUEUED
from lanes_tui.storage import open_store
from lanes_tui.storage.results import ListingOutput

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend

MAX_BODY_BYTES = 32 << 20
MAX_METADATA_ITEMS = 200


def run(args: argparse.Namespace) -> int:
    config = _config(args)
    store = open_store(config.store_location) if config else open_store(args.store)
    handler = _HANDLERS[args.command]
    return handler(args, store, config)


def _config(args: argparse.Namespace) -> RuntimeConfig | None:
    """handoff.yaml is needed by submit; other verbs work from --store alone."""
    if args.store and args.command != "submit" and not Path(args.config).exists():
        return None
    return load_config(args.config, store_override=args.store, settings_path=args.settings)


def _as_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def parse_pairs(items: list[str], flag: str) -> dict[str, str]:
    if len(items) > MAX_METADATA_ITEMS:
        raise InvalidInput(f"{flag}: at most {MAX_METADATA_ITEMS} items")
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{flag} expects KEY=VALUE, got: {item!r}")
        result[key.strip()] = value
    return result


def _read_text_file(path: Path, limit: int, what: str) -> str:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise NotFound(f"{what} does not exist: {path}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc.strerror}") from None
    if path.is_dir():
        raise InvalidInput(f"{what} is a directory: {path}")
    if size > limit:
        raise InvalidInput(f"{what} {path} is too large ({size} bytes, limit {limit})")
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise InvalidInput(f"{what} {path} is too large (limit {limit} bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{what} {path} is not UTF-8 text") from None


# -- submit ----------------------------------------------------------------------


def cmd_submit(args: argparse.Namespace, store: Backend, config: RuntimeConfig | None) -> int:
    assert config is not None
    from lanes_tui.engine.submitting import Submission, submit

    metadata = parse_pairs(args.metadata, "--metadata")
    if args.write_response:
        metadata[WRITE_RESPONSE] = True
    sub = Submission(lane=args.lane or "", prompt=args.prompt, prompt_file=args.prompt_file or "",
                     task_file=args.task_path or "", request=args.request_from or "",
                     response=args.response_to or "", worktree=args.worktree_path or "", branch=args.branch or "",
                     correlation_id=args.correlation_id or "", title=args.title or "", metadata=metadata)
    # Relative paths are relative to the working directory, as agent-lanes resolves them.
    task = submit(store, config, sub, source_agent=args.source_agent, base=Path.cwd(), generate=False,
                  check=lambda lane, metadata: check_submittable(args, config, lane, metadata), warn=warn)
    emit_committed({"task_id": task["id"], "task": task}, _as_json(args), f"submitted {task['id']}")
    return 0


def check_submittable(args: argparse.Namespace, config: RuntimeConfig | None, lane: str,
                      metadata: dict[str, Any]) -> None:
    """Refuse (exit 5) metadata no vendor here could run: unknown model class, effort or preset.
    The supervisor's settings (lanes-tui.yaml) decide what is known; a broken file is exit 6."""
    from lanes_tui.settings import load_settings
    from lanes_tui.vendors.runcheck import check_run_metadata

    settings = load_settings(args.settings, config_dir=config.path.parent if config else None)
    check_run_metadata(settings.vendors, lane=lane, lane_preset=settings.lane(lane).permissions,
                       metadata=metadata, default_vendor=settings.default_vendor)


# -- waiting -------------------------------------------------------------------------


def cmd_wait(args: argparse.Namespace, store: Backend, config: RuntimeConfig | None) -> int:
    if args.lane is not None:
        return _lane_wait(args, store, "wait --lane")
    if args.task_id is None:  # an explicit "" is an invalid id (exit 5), as for every other verb
        raise UsageError("wait requires a task id or --lane")
    from lanes_tui.engine.waiting import wait_for_answer

    task_id = args.task_id
    store.read_task(task_id)  # unknown or invalid ids fail now, not after the timeout
    beat = None if args.quiet else (lambda: note(_wait_diagnostic(store, task_id)))
    task = wait_for_answer(store, task_id, timeout=args.timeout, heartbeat_seconds=args.heartbeat_seconds, on_heartbeat=beat)
    if task is None:
        raise WaitTimeout(f"timed out waiting for response: {task_id}")
    response = store.read_response(task_id)
    output_path = None
    if response is not None:
        output_path = write_answer_file(task, str(response.get("body", "")))
    if task["state"] == FAILED:
        # agent-lanes reports "completed" and exits 0 here; a failed task must not look done.
        payload = {
            "status": "failed",
            "task_id": task_id,
            "failure_reason": task.get("failure_reason"),
            "response_path": str(output_path) if output_path else task.get("response_path"),
            "response": response,
        }
        failure = TaskFailed(f"task {task_id} failed: {_first_line(task.get('failure_reason'))}")
        if not _as_json(args):
            raise failure
        # One JSON document on stdout (not this payload plus the generic error object):
        # the failure itself, carrying the error fields every other error prints.
        emit_json({**payload, "error": failure.kind, "message": str(failure), "exit_code": failure.exit_code})
        print(f"lanes-tui: {failure}", file=sys.stderr)
        return failure.exit_code
    emit({"status": "completed", "task_id": task_id, "response_path": str(output_path), "response": response}, _as_json(args))
    return 0


def _lane_wait(args: argparse.Namespace, store: Backend, label: str) -> int:
    if not args.lane.strip():
        raise InvalidInput("--lane must be a non-empty lane name")  # submit refuses empty lanes: waiting would never end
    from lanes_tui.engine.waiting import wait_for_lane_task

    beat = None if args.quiet else (lambda: note(f"lanes-tui {label}: waiting for lane {args.lane}"))
    result = wait_for_lane_task(
        store,
        args.lane,
        timeout=args.timeout,
        vendor=args.vendor,
        claim_owner=args.owner if args.claim else None,
        lease_seconds=args.lease_seconds,
        heartbeat_seconds=args.heartbeat_seconds,
        on_heartbeat=beat,
    )
    _report_stale(result.stale)
    extra: dict[str, Any] = {}
    if result.stale:
        extra["stale_input"] = [{"task_id": tid, "reason": reason} for tid, reason in result.stale]
    if result.task is None:
        _print_idle(args, store, extra)
        return 0
    payload: dict[str, Any] = {"status": "task_available", "lane": args.lane, "task": result.task, **extra}
    if result.claim_token:
        payload.update(status="claimed", task_id=result.task["id"], claim_token=result.claim_token)
    emit(payload, _as_json(args))
    return 0


def _report_stale(stale: tuple[tuple[str, str], ...], shown: int = 3) -> None:
    """A few lines on stderr, not one per task: a deleted request can strand hundreds."""
    for _, reason in stale[:shown]:
        warn(f"stale input skipped: {reason}")
    if len(stale) > shown:
        warn(f"... and {len(stale) - shown} more stale task(s) skipped (see stale_input with --json)")


def _print_idle(args: argparse.Namespace, store: Backend, extra: dict[str, Any]) -> None:
    lane = args.lane
    message = (
        f"No queued tasks found on lane {lane}. If you are the polling monitor, keep waiting. "
        "If you are the orchestrator, submit a task when the next artifact is ready."
    )
    if _as_json(args):
        emit_json(
            {
                "status": "idle",
                "lane": lane,
                "reason": "no_queued_task" if store.lane_has_tasks(lane) else "no_task_submitted",
                "timeout_seconds": args.timeout,
                "message": message,
                "next_action": f"monitor: run wait --lane {lane} --json again; orchestrator: submit when ready",
                **extra,
            }
        )
    else:
        note(message + f" Timed out after {args.timeout:g}s.")


def cmd_next(args: argparse.Namespace, store: Backend, config: RuntimeConfig | None) -> int:
    return _lane_wait(args, store, args.command)


# -- claims and answers ----------------------------------------------------------------


def cmd_claim(args: argparse.Namespace, store: Backend, config: RuntimeConfig | None) -> int:
    task = store.claim(args.task_id, owner=args.owner, lease_seconds=args.lease_seconds)
    payload = {"status": "claimed", "task_id": task["id"], "claim_token": task["claim_token"], "task": task}
    if _as_json(args):
        emit_json(payload)
    else:
        print(f"task_id={task['id']}")
        print(f"claim_token={task['claim_token']}")
    return 0


def cmd_renew(args: argparse.Namespace, store: Backend, config: RuntimeConfig | None) -> int:
    task = store.renew(args.task_id, claim_token=args.claim_token, lease_seconds=args.lease_seconds)
    emit({"status": "renewed", "task_id": task["id"], "claim_token": task["claim_token"], "task": task}, _as_json(args))
    return 0


def cmd_release(args: argparse.Namespace, store: Backend, config: RuntimeConfig | None) -> int:
    task = store.release(args.task_id, claim_token=args.claim_token, reason=args.reason)
    emit({"status": "released", "task_id": task["id"], "task": task}, _as_json(args))
    return 0


def cmd_event(args: argparse.Namespace, store: Backend, config: RuntimeConfig | None) -> int:
    data = parse_pairs(args.data, "--data")
    store.append_event(args.task_id, args.type, args.message, data, claim_token=args.claim_token)
    emit({"status": "ok", "task_id": args.task_id}, _as_json(args))
    return 0


def cmd_respond(args: argparse.Namespace, store: Backend, config: RuntimeConfig | None) -> int:
    if args.file and args.file != "-":
        body = _read_text_file(expand_user(args.file, "--file"), MAX_BODY_BYTES, "response file")
    elif args.body is not None and not args.file:
        body = args.body
    else:
        body = sys.stdin.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise InvalidInput(f"response body is too large (limit {MAX_BODY_BYTES} bytes)")
    response = store.respond(
        args.task_id,
        body=body,
        reviewer=args.reviewer,
        claim_token=args.claim_token,
        status=args.status,
        follow_up_required=args.follow_up_required,
        verdict=args.verdict,
        blocking_count=args.blocking_count,
        nonblocking_count=args.nonblocking_count,
        expect_sha256=args.expect_sha256,
        metadata=parse_pairs(args.metadata, "--metadata"),
    )
    task = store.read_task(args.task_id)
    depth = sum(1 for t in store.live_tasks(lane=task["lane"]).tasks if t["state"] == QUEUED)
    payload = {
        "status": response["status"],
        "task_id": task["id"],
        "correlation_id": task["correlation_id"],
        "lane": task["lane"],
        "response_path": task["response_path"],
        "verdict": response.get("verdict"),
        "blocking_count": response.get("blocking_count"),
        "nonblocking_count": response.get("nonblocking_count"),
        "queue_depth": depth,
        "next_action": (
            "reviewer: stop after this task unless instructed otherwise; "
            f"orchestrator: run wait {task['id']}; "
            f"monitor: re-arm wait --lane {task['lane']} --json if more tasks are expected"
        ),
        "response": response,
    }
    if _as_json(args):
        emit_json(payload)
    else:
        for key in ("status", "task_id", "verdict", "response_path", "queue_depth"):
            print(f"{key}={payload[key]}")
        print(payload["next_action"])
    return 0


# -- inspection ------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace, store: Backend, config: RuntimeConfig | None) -> int:
    if args.rack and not args.all:
        note("[deprecated] --rack is renamed to --all; --rack will be removed in v0.2.")
        args.all = True
    if args.all:
        _emit_listing(store.listing_output(status=True, lane=args.lane, include_terminal=not args.active_only))
        return 0
    if args.task_id is None:  # an explicit "" is an invalid id (exit 5), as for every other verb
        raise UsageError("status requires a task id or --all")
    task = store.effective_task(args.task_id)
    view = views.task_view(
        task,
        response_exists=store.response_exists(task["id"]),
        last_event=_last_event(store, task["id"]),
        now=store.now(),
    )
    emit({"status": "ok", "task": view}, _as_json(args))
    return 0


def cmd_list(args: argparse.Namespace, store: Backend, config: RuntimeConfig | None) -> int:
    _emit_listing(store.listing_output(status=False, lane=args.lane, include_terminal=not args.active_only))
    return 0


def _emit_listing(output: ListingOutput) -> None:
    """Always JSON, as agent-lanes prints it; corrupt tasks are reported beside the rest.

    The output is UTF-8 (in fact ASCII: json escapes the rest) and 20 MB or more
    at 10,000 tasks, so when stdout is a real file whose encoding gives the same
    bytes, its pieces go to the descriptor as they are, never joined or re-encoded.
    """
    import codecs

    from lanes_tui.core.batched_output import (  # list and status --all only
        joined,
        write_batches,
    )

    for _, reason in output.corrupt:
        warn(reason)
    out = sys.stdout
    try:
        direct = codecs.lookup(out.encoding).name == "utf-8"
        fd = out.fileno() if direct else -1
    except (AttributeError, TypeError, LookupError, OSError, ValueError):  # captured or replaced stdout
        fd = -1
    if fd >= 0:
        out.flush()  # anything already written as text goes first
        write_batches(fd, output.batches)
        write_batches(fd, iter([[b"\n"]]))
    else:
        out.write(joined(output.batches).decode("utf-8") + "\n")


# -- operator verbs ------------------------------------------------------------------------


def cmd_cancel(args: argparse.Namespace, store: Backend, config: RuntimeConfig | None) -> int:
    task = store.cancel(args.task_id, by=args.by, reason=args.reason)
    emit({"status": "cancelled", "task_id": task["id"], "task": task}, _as_json(args))
    return 0


def cmd_fail(args: argparse.Namespace, store: Backend, config: RuntimeConfig | None) -> int:
    """The holder reports that it could not do the task: `respond --status failed` with the
    error as the body, which agent-lanes records as the failure reason."""
    if not args.error.strip():
        raise InvalidInput("--error must say what went wrong")
    if len(args.error.encode("utf-8")) > MAX_BODY_BYTES:
        raise InvalidInput(f"--error is too large (limit {MAX_BODY_BYTES} bytes)")
    store.respond(args.task_id, body=args.error, reviewer=args.by, claim_token=args.claim_token, status=FAILED)
    task = store.read_task(args.task_id)
    emit({"status": "failed", "task_id": task["id"], "failure_reason": task.get("failure_reason"), "task": task},
         _as_json(args))
    return 0


def cmd_break(args: argparse.Namespace, store: Backend, config: RuntimeConfig | None) -> int:
    task = store.break_claim(args.task_id, by=args.by, reason=args.reason)
    emit({"status": "broken", "task_id": task["id"], "task": task}, _as_json(args))
    return 0


def cmd_requeue(args: argparse.Namespace, store: Backend, config: RuntimeConfig | None) -> int:
    overrides = parse_pairs(args.metadata, "--metadata")
    original = store.read_task(args.task_id)
    metadata = {**(original.get("metadata") or {}), **overrides}
    check_submittable(args, config, str(original.get("lane") or ""), metadata)
    task = store.requeue(args.task_id, by=args.by, metadata_overrides=overrides)
    emit({"status": "requeued", "task_id": task["id"], "requeued_from": args.task_id, "task": task}, _as_json(args))
    return 0


def cmd_archive(args: argparse.Namespace, store: Backend, config: RuntimeConfig | None) -> int:
    moved = store.archive(older_than_days=args.older_than_days, dry_run=args.dry_run)
    payload = {
        "status": "ok",
        "dry_run": args.dry_run,
        "archived": moved,
        "count": len(moved),
        "archive_path": store.archive_location,
    }
    if _as_json(args):
        emit_json(payload)
    else:
        verb = "would archive" if args.dry_run else "archived"
        print(f"{verb} {len(moved)} task(s) to {store.archive_location}")
    return 0


def _last_event(store: Backend, task_id: str) -> dict[str, Any] | None:
    """The last event, or None when the log cannot be read (status still shows the task)."""
    try:
        return store.last_event(task_id)
    except (NotFound, CorruptTask, OSError):
        return None


def _wait_diagnostic(store: Backend, task_id: str) -> str:
    try:
        task = store.effective_task(task_id)
    except Exception as exc:  # diagnostics must never break the wait itself
        return f"lanes-tui wait: waiting for response {task_id}; status unavailable: {exc}"
    if task["state"] == QUEUED:
        return f"lanes-tui wait: task_id={task_id}; state=queued; awaiting reviewer claim"
    return (
        f"lanes-tui wait: task_id={task_id}; state={task['state']}; claim_owner={task.get('claim_owner')}; "
        f"lease_expires_at={task.get('lease_expires_at')}"
    )


def _first_line(text: Any) -> str:
    line = str(text or "no reason recorded").strip().splitlines()
    return (line[0] if line else "no reason recorded")[:300]


_HANDLERS = {
    "submit": cmd_submit,
    "wait": cmd_wait,
    "next": cmd_next,
    "watch": cmd_next,
    "claim": cmd_claim,
    "renew": cmd_renew,
    "release": cmd_release,
    "event": cmd_event,
    "respond": cmd_respond,
    "status": cmd_status,
    "list": cmd_list,
    "cancel": cmd_cancel,
    "fail": cmd_fail,
    "break": cmd_break,
    "requeue": cmd_requeue,
    "archive": cmd_archive,
}
