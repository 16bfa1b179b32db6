"""Command line: agent-lanes' subcommands and flags, plus lanes-tui's own.

Heavy modules (PyYAML, watchfiles, the dashboard) are imported inside the
branch that needs them, so a one-shot command starts as fast as agent-lanes'.
Every failure is one line on stderr (and a JSON error object on stdout with
--json) with a documented exit code; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Sequence

from lanes_tui import __version__
from lanes_tui.core.errors import InternalError, Interrupted, LanesError, UsageError

DEFAULT_WAIT_TIMEOUT = 6 * 60 * 60.0
DEFAULT_LEASE_SECONDS = 2 * 60 * 60.0
DEFAULT_HEARTBEAT_SECONDS = 30.0
MAX_SECONDS = 10 * 365 * 86400.0
EXIT_BROKEN_PIPE = 141


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix("lanes-tui").strip()
        raise UsageError(f"{command}: {message}" if command else message)


def _seconds(minimum_exclusive: bool) -> "type[float]":
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
        if not math.isfinite(value) or value < 0 or (minimum_exclusive and value == 0) or value > MAX_SECONDS:
            bound = "> 0" if minimum_exclusive else ">= 0"
            raise argparse.ArgumentTypeError(f"must be a finite number {bound} and at most {MAX_SECONDS:g}, got {text!r}")
        return value

    return parse  # type: ignore[return-value]


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0 or value > 1_000_000:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1000000, got {text!r}")
    return value


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if not math.isfinite(value) or value < 0 or value > 36500:
        raise argparse.ArgumentTypeError(f"must be a finite number of days >= 0, got {text!r}")
    return value


MIN_SPEED, MAX_SPEED = 0.1, 1000.0


def _speed(text: str) -> float:
    """`demo --speed`: a factor on the simulated agent's pace (2 = twice as fast)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number (2 = twice as fast), got {text!r}") from None
    if not math.isfinite(value) or not MIN_SPEED <= value <= MAX_SPEED:
        raise argparse.ArgumentTypeError(f"must be a number from {MIN_SPEED:g} to {MAX_SPEED:g}, got {text!r}")
    return value


timeout_seconds = _seconds(minimum_exclusive=False)
lease_seconds = _seconds(minimum_exclusive=True)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lanes-tui", description="Run and watch AI coding agents on an agent-lanes queue.")
    parser.add_argument("--version", action="version", version=f"lanes-tui {__version__}")
    parser.add_argument("--config", default="handoff/handoff.yaml", help="path to handoff.yaml (default: %(default)s)")
    parser.add_argument("--store", help="queue store folder (overrides queue_root)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--no-ui", action="store_true", help="run the supervisor headless (CI, servers)")
    parser.add_argument("--drain", action="store_true", help="with --no-ui: exit once the internal/hybrid lanes are done")
    parser.add_argument("--summary", metavar="FILE", help="with --no-ui: write a JSON summary of the run to FILE")
    parser.add_argument("--transcript", action="store_true",
                        help="with --no-ui: also print every worker's transcript (messages, tool calls, results)")
    parser.add_argument("--settings", metavar="FILE", help="lanes-tui.yaml (default: next to handoff.yaml)")
    parser.add_argument("--watch-only", action="store_true",
                        help="dashboard without the supervisor (for a queue served by other dispatchers)")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    out = _Parser(add_help=False)
    out.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")

    init = sub.add_parser("init", parents=[out], help="scaffold handoff/ (config, state/) in PATH")
    init.add_argument("path", nargs="?", default=".")
    init.add_argument("--workspace-id")
    init.add_argument("--workspace-root", default="..")
    init.add_argument("--queue-root", default="state")
    init.add_argument("--no-examples", action="store_true", help="do not copy the example task files into tasks/")

    pool = sub.add_parser("init-pool", parents=[out], help="scaffold a workspace-level shared queue")
    pool.add_argument("path")
    pool.add_argument("--workspace-id")

    submit = sub.add_parser("submit", parents=[out], help="queue a task from --task and/or flags")
    submit.add_argument("--task", dest="task_path")
    submit.add_argument("--lane")
    submit.add_argument("--request-from", dest="request_from")
    submit.add_argument("--response-to", dest="response_to")
    submit.add_argument("--write-response", action="store_true",
                        help="the supervisor writes the answer to the response path when the task completes")
    submit.add_argument("--prompt")
    submit.add_argument("--title", help="what the dashboard's rows call the task (default: the prompt's first line)")
    submit.add_argument("--prompt-file", dest="prompt_file")
    submit.add_argument("--worktree-path", dest="worktree_path")
    submit.add_argument("--branch")
    submit.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE")
    submit.add_argument("--source-agent", default="orchestrator")
    submit.add_argument("--task-id", dest="correlation_id", help="correlation id embedded in the task id")

    def lane_wait_flags(cmd: argparse.ArgumentParser, *, lane_required: bool) -> None:
        cmd.add_argument("--lane", required=lane_required)
        cmd.add_argument("--timeout", type=timeout_seconds, default=DEFAULT_WAIT_TIMEOUT)
        cmd.add_argument("--heartbeat-seconds", type=timeout_seconds, default=DEFAULT_HEARTBEAT_SECONDS)
        cmd.add_argument("--quiet", action="store_true")
        cmd.add_argument("--vendor", help="only tasks whose metadata.required_vendor is this vendor or any")
        cmd.add_argument("--claim", action="store_true", help="claim the task found (atomic claim-next)")
        cmd.add_argument("--owner", default="worker", help="claim owner with --claim")
        cmd.add_argument("--lease-seconds", type=lease_seconds, default=DEFAULT_LEASE_SECONDS)

    wait = sub.add_parser("wait", parents=[out], help="wait for a task's answer, or --lane for a task")
    wait.add_argument("task_id", nargs="?")
    lane_wait_flags(wait, lane_required=False)
    for name in ("next", "watch"):
        lane_wait_flags(sub.add_parser(name, parents=[out], help="long-poll a lane for the next task"), lane_required=True)

    claim = sub.add_parser("claim", parents=[out], help="claim one task")
    claim.add_argument("task_id")
    claim.add_argument("--owner", default="worker")
    claim.add_argument("--lease-seconds", type=lease_seconds, default=DEFAULT_LEASE_SECONDS)

    renew = sub.add_parser("renew", parents=[out], help="extend a claim's lease")
    renew.add_argument("task_id")
    renew.add_argument("--claim-token", required=True)
    renew.add_argument("--lease-seconds", type=lease_seconds, default=DEFAULT_LEASE_SECONDS)

    release = sub.add_parser("release", parents=[out], help="return a claimed task to the queue")
    release.add_argument("task_id")
    release.add_argument("--claim-token", required=True)
    release.add_argument("--reason")

    event = sub.add_parser("event", parents=[out], help="append an event to a task")
    event.add_argument("task_id")
    event.add_argument("--type", default="note")
    event.add_argument("--message", default="")
    event.add_argument("--data", action="append", default=[], metavar="KEY=VALUE")
    event.add_argument("--claim-token", help="refuse unless this claim is still current")

    respond = sub.add_parser("respond", parents=[out], help="record a task's answer")
    respond.add_argument("task_id")
    respond.add_argument("--file", help="read the body from this file (- for stdin)")
    respond.add_argument("--body")
    respond.add_argument("--reviewer", default="worker")
    respond.add_argument("--claim-token")
    respond.add_argument("--status", default="completed", choices=["completed", "failed"])
    respond.add_argument("--follow-up-required", action="store_true")
    respond.add_argument("--verdict", choices=["accept", "accept-with-follow-ups", "needs-revision"])
    respond.add_argument("--blocking-count", type=_count)
    respond.add_argument("--nonblocking-count", type=_count)
    respond.add_argument("--expect-sha256")
    respond.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE")

    fail = sub.add_parser("fail", parents=[out], help="the claim holder reports that the task failed, and why")
    fail.add_argument("task_id")
    fail.add_argument("--claim-token", required=True)
    fail.add_argument("--error", required=True, help="what went wrong (the task's failure reason)")
    fail.add_argument("--by", default="worker", help="who reports it (the response's reviewer)")

    status = sub.add_parser("status", parents=[out], help="one task, or --all for the queue")
    status.add_argument("task_id", nargs="?")
    status.add_argument("--all", action="store_true")
    status.add_argument("--rack", action="store_true", help=argparse.SUPPRESS)
    status.add_argument("--lane")
    status.add_argument("--active-only", action="store_true")

    listing = sub.add_parser("list", parents=[out], help="list tasks without claiming")
    listing.add_argument("--lane")
    listing.add_argument("--active-only", action="store_true")

    cancel = sub.add_parser("cancel", parents=[out], help="queued/claimed -> failed (reason cancelled)")
    cancel.add_argument("task_id")
    cancel.add_argument("--reason")
    cancel.add_argument("--by", default="operator")

    brk = sub.add_parser("break", parents=[out], help="force-release a claim back to queued")
    brk.add_argument("task_id")
    brk.add_argument("--reason", required=True)
    brk.add_argument("--by", default="operator")

    requeue = sub.add_parser("requeue", parents=[out], help="submit a failed task again as a new task")
    requeue.add_argument("task_id")
    requeue.add_argument("--by", default="operator")
    requeue.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE", help="override metadata")

    archive = sub.add_parser("archive", parents=[out], help="move old finished tasks out of tasks/")
    archive.add_argument("--older-than-days", type=_days, required=True)
    archive.add_argument("--dry-run", action="store_true")

    from lanes_tui.commands.lock_args import add_parsers as add_lock_parsers

    add_lock_parsers(sub, [out], lease_seconds, timeout_seconds)
    from lanes_tui.commands.agents import add_parsers as add_agent_parsers

    add_agent_parsers(sub, [out])
    from lanes_tui.commands.hooks import add_parsers as add_hook_parsers

    add_hook_parsers(sub, [out])
    from lanes_tui.commands.mcp import add_parsers as add_mcp_parsers

    add_mcp_parsers(sub, [out])
    from lanes_tui.commands.requests import add_parsers as add_request_parsers

    add_request_parsers(sub, [out])

    from lanes_tui.commands.merge import add_parser as add_merge_parser
    from lanes_tui.commands.worktrees import add_parser as add_worktrees_parser

    add_merge_parser(sub, [out])
    add_worktrees_parser(sub, [out])
    from lanes_tui.commands.store import add_parser as add_store_parser

    add_store_parser(sub, [out])

    sub.add_parser("doctor", parents=[out],
                   help="check each vendor (executable, version, flags, credentials) and each lane; no network")

    demo = sub.add_parser("demo", parents=[out], help="a submit/claim/respond round trip on a scratch queue")
    demo.add_argument("--keep", action="store_true", help="keep the scratch queue and print its path")
    # Also after the subcommand (`demo --no-ui`, as the README shows it); SUPPRESS keeps a
    # `--no-ui` given before it.
    demo.add_argument("--no-ui", dest="no_ui", action="store_true", default=argparse.SUPPRESS,
                      help="drain the demo queue headless instead of opening the dashboard")
    demo.add_argument("--speed", type=_speed, default=1.0, metavar="FACTOR",
                      help="the simulated agent's pace: 2 = twice as fast, 0.5 = half speed (default: 1)")
    # Same namespace as demo (which reads args.keep), without the flag agent-lanes lacks.
    sub.add_parser("self-test", parents=[out], help="same as demo, for agent-lanes compatibility").set_defaults(keep=False)
    return parser


def _wants_json(argv: Sequence[str]) -> bool:
    return "--json" in argv


BLOCKING_COMMANDS = frozenset({"wait", "next", "watch"})


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point. Called without argv (console script, `python -m`), it owns the process."""
    owns_process = argv is None
    args_list = list(sys.argv[1:] if argv is None else argv)
    as_json = _wants_json(args_list)
    try:
        if "hook" in args_list:  # Claude Code runs it on every edit: skip building the whole CLI
            from lanes_tui.commands.hooks import fast_path

            code = fast_path(args_list)
            if code is not None:
                return code
        if "mcp" in args_list:  # every worker's CLI waits for this server: skip building the whole CLI
            from lanes_tui.commands.mcp import fast_path as mcp_fast_path

            code = mcp_fast_path(args_list)
            if code is not None:
                return code
        args = build_parser().parse_args(args_list)
        if args.command is None and args.no_ui:
            from lanes_tui.commands import supervise

            return supervise.run(args)
        if args.command is None:
            from lanes_tui.commands import dashboard

            return dashboard.run(args)
        from lanes_tui.commands import dispatch

        code = dispatch(args)
        if owns_process and args.command in BLOCKING_COMMANDS:
            from lanes_tui.commands.output import finish_stdout

            finish_stdout()  # the answer is complete: the reader need not wait for our exit
        return code
    except LanesError as exc:
        return report_error(exc, as_json)
    except KeyboardInterrupt:
        return report_error(Interrupted("interrupted"), as_json)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE  # the reader went away (`| head`): quiet, like other CLI tools
    except SystemExit as exc:  # argparse --help / --version
        return int(exc.code or 0)
    except OSError as exc:
        from lanes_tui.core.errors import StoreError
        from lanes_tui.core.fsio import describe_os_error

        return report_error(StoreError(describe_os_error(exc, exc.filename or "I/O error")), as_json)
    except Exception as exc:  # a bug: still one line, the traceback only on request
        if os.environ.get("LANES_TUI_DEBUG"):
            raise
        return report_error(InternalError(f"internal error ({type(exc).__name__}: {exc}); set LANES_TUI_DEBUG=1 for details"), as_json)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def report_error(exc: LanesError, as_json: bool) -> int:
    message = str(exc)
    if os.environ.get("LANES_TUI_DEBUG"):  # where it came from, for a bug report
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    if as_json:
        payload = {"status": "error", "error": exc.kind, "message": message, "exit_code": exc.exit_code}
        print(json.dumps(payload, indent=2, sort_keys=True))
    print(f"lanes-tui: {message}", file=sys.stderr)
    return exc.exit_code
