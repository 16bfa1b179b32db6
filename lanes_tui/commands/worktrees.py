"""`lanes-tui worktrees [--clean [--dry-run]]`: the task worktrees of the workspace's repository."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lanes_tui.core.sanitize import (
    one_line,  # already loaded by the parser's other commands
)

if TYPE_CHECKING:
    from lanes_tui.engine.worktree_cleanup import WorktreeReport


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    worktrees = sub.add_parser("worktrees", parents=parents,
                               help="list the task worktrees (state, size, age); --clean removes merged/empty ones")
    worktrees.add_argument("--clean", action="store_true",
                           help="remove merged or empty worktrees that are clean and unused (their tips kept)")
    worktrees.add_argument("--dry-run", action="store_true", help="with --clean: say what would be removed")


def run(args: argparse.Namespace) -> int:
    # Here, not at the top: the parser (every command's start-up) imports this module.
    from lanes_tui.commands.output import emit_json
    from lanes_tui.core.errors import UsageError
    from lanes_tui.engine.worktree_cleanup import clean, repository_of, survey
    from lanes_tui.wiring import open_queue

    if args.dry_run and not args.clean:
        raise UsageError("--dry-run goes with --clean")
    queue = open_queue(args.config, store=args.store, settings=args.settings)
    if queue.config is None:
        raise UsageError("worktrees needs a handoff.yaml (its workspace_root names the repository)")
    repo = repository_of(queue.config.workspace_root)
    as_json = bool(getattr(args, "json", False))
    if not args.clean:
        reports = survey(queue.store, queue.settings, repo)
        if as_json:
            emit_json({"status": "ok", "repository": str(repo.top), "worktrees": [r.to_json() for r in reports]})
        else:
            _print_table(reports)
        return 0
    outcomes = clean(queue.store, queue.settings, repo, dry_run=args.dry_run)
    if as_json:
        emit_json({"status": "ok", "dry_run": args.dry_run, "worktrees": [
            {**o.report.to_json(), "removed": o.removed, "kept_as": o.kept_as, "branch_deleted": o.branch_deleted,
             "left_because": o.reason or None} for o in outcomes]})
        return 0
    for o in outcomes:
        name = _task_name(o.report)
        if o.removed:
            print(f"removed  {name}  {o.report.path}  (tip kept as {o.kept_as}"
                  f"{'; branch deleted, it is merged' if o.branch_deleted else ''})")
        else:
            print(f"kept     {name}  {o.report.path}  ({one_line(o.reason, 200)})")
    return 0


def _task_name(report: WorktreeReport) -> str:
    return one_line(report.task_id or "(no task)", 60)


def _print_table(reports: list[WorktreeReport]) -> None:
    if not reports:
        print("no task worktrees")
        return
    rows = [("STATE", "TASK", "BRANCH", "SIZE", "AGE", "PATH")]
    for r in reports:
        rows.append((r.state, _task_name(r), one_line(r.branch or "-", 40), _size(r.size_bytes), _age(r.age_seconds),
                     one_line(str(r.path), 200)))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[5])


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{max(seconds, 0):.0f}s"
