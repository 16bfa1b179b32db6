"""`lanes-tui merge <id>`: a finished task's branch into the branch it was based on."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lanes_tui.engine.merging import MergeTarget


def add_parser(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    merge = sub.add_parser("merge", parents=parents,
                           help="merge a completed task's branch into its base branch (refuses on conflict)")
    merge.add_argument("task_id")
    merge.add_argument("--into", metavar="BRANCH", help="target branch (default: the branch the task was based on)")
    verify = merge.add_mutually_exclusive_group()
    verify.add_argument("--verify", dest="verify", action="store_true", default=None,
                        help="run the lane's verify commands on the merged result first (default when it has some)")
    verify.add_argument("--no-verify", dest="verify", action="store_false", help="do not run them")
    merge.add_argument("--check", action="store_true", help="only say what the merge would do; change nothing")
    merge.add_argument("--by", default="operator", help="who merges (recorded on the task)")


def run(args: argparse.Namespace) -> int:
    # Here, not at the top: the parser (every command's start-up) imports this module.
    from lanes_tui.engine.merging import MergeConflict, merge_task, plan_task_merge
    from lanes_tui.gitwork import merging
    from lanes_tui.wiring import open_queue

    queue = open_queue(args.config, store=args.store, settings=args.settings)
    as_json = bool(getattr(args, "json", False))
    target = plan_task_merge(queue.store, queue.settings, args.task_id, into=args.into, verify=args.verify)
    plan = target.plan
    if args.check:
        _emit({"status": "checked", "task_id": args.task_id, "branch": plan.branch, "into": plan.into,
              "how": plan.how, "conflicts": list(plan.conflicts), "head": plan.head, "target": plan.target,
              "verify": [list(argv) for argv in target.verify], "merged_before": target.merged_before},
             as_json, text=_check_text(target))
        return MergeConflict.exit_code if plan.how == merging.CONFLICT else 0
    # Verify output goes to stderr as it comes (stdout stays the result, for scripts).
    outcome = merge_task(queue.store, queue.settings, target, by=args.by, log=_to_stderr)
    _emit({"status": "merged", "task_id": outcome.task_id, "branch": outcome.branch, "into": outcome.into,
          "how": outcome.how, "commit": outcome.commit, "verified": outcome.verified},
         as_json, text=f"{outcome.branch} -> {outcome.into}: {outcome.how} ({outcome.commit[:12]})"
                       f"{', verified' if outcome.verified else ''}")
    return 0


def _emit(data: dict[str, object], as_json: bool, *, text: str) -> None:
    from lanes_tui.commands.output import emit_json

    if as_json:
        emit_json(data)
    else:
        print(text)


def _check_text(target: MergeTarget) -> str:
    plan = target.plan
    line = f"{plan.branch} -> {plan.into}: {plan.how}"
    if plan.conflicts:
        line += " in " + ", ".join(plan.conflicts)
    if target.verify:
        line += f"; verify: {len(target.verify)} command(s) first"
    return line


def _to_stderr(chunk: bytes) -> None:
    from lanes_tui.core.sanitize import clean

    # What the verify commands print is the repository's (and the agent's) text: escaped.
    sys.stderr.write(clean(chunk.decode("utf-8", "replace")))
    sys.stderr.flush()
