"""`requests` and `answer`: what agents are waiting for a person to decide, and the answer.

    lanes-tui requests [--all]                 open requests, oldest first (--all: finished ones too)
    lanes-tui answer r3 use postgres           reply to a question or a blocker
    lanes-tui answer r3 --option 2             reply with a question's second option
    lanes-tui answer r4 --allow | --allow-tool | --deny [MESSAGE] | --deny-stop [MESSAGE]

Everything an agent wrote (questions, options, tool inputs) is printed through
`sanitize`, so escape sequences show as visible escapes; `--json` prints the
records as stored (JSON-escaped). Exit status: 0 done; 4 no such request; 5 a
bad answer (empty reply, a decision the request's kind does not take); 16 the
request is no longer open (answered, expired or closed meanwhile); 64 bad flags.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from lanes_tui.commands.output import emit_json
from lanes_tui.core.errors import InvalidInput, UsageError
from lanes_tui.core.sanitize import clean, one_line

if TYPE_CHECKING:
    from lanes_tui.core.requests import InputRequest

TOOL_INPUT_SHOWN = 300  # characters of a tool call's input in the text listing


def run(args: argparse.Namespace) -> int:
    from lanes_tui.core.handoff import load_config
    from lanes_tui.storage import open_store

    config = load_config(args.config, store_override=args.store, settings_path=args.settings)
    store = open_store(config.store_location)
    if args.command == "requests":
        return _list(store, show_all=args.all, as_json=bool(args.json))
    return _answer(store, args)


def _list(store: Any, *, show_all: bool, as_json: bool) -> int:
    from lanes_tui.core.requests import OPEN

    found = [r for r in store.requests().all() if show_all or r.state == OPEN]
    if as_json:
        emit_json({"status": "ok", "requests": [r.to_json() for r in found], "count": len(found)})
        return 0
    if not found:
        print("no requests waiting" if not show_all else "no requests")
        return 0
    for request in found:
        sys.stdout.write(describe(request))
    return 0


def describe(request: "InputRequest") -> str:
    """A request as a few lines of text: who asks what, for which task, until when."""
    task = ""
    if request.task_id:
        task = f"  task {request.task_id}" + (f" ({one_line(request.lane, 40)})" if request.lane else "")
    who = one_line(request.agent, 80)
    head = f"{request.id}  {request.kind}  {request.state}  {request.created_at}  from {who}{task}\n"
    lines = [head, *(f"    {line}\n" for line in clean(request.text).splitlines() or [""])]
    if request.tool:
        shown = json.dumps(request.tool_input, ensure_ascii=False, sort_keys=True)
        lines.append(f"    tool {one_line(request.tool, 80)}: {one_line(clean(shown), TOOL_INPUT_SHOWN)}\n")
    if request.options:
        lines.append("    options: " + "  ".join(f"{n}) {one_line(o, 80)}" for n, o in enumerate(request.options, 1))
                     + "\n")
    if request.state == "open":
        lines.append(f"    expires {request.expires_at}\n")
    else:
        what = request.decision or request.state
        by = f" by {one_line(request.answered_by, 80)}" if request.answered_by else ""
        lines.append(f"    {what}{by}" + (f": {one_line(clean(request.reply), 200)}" if request.reply else "") + "\n")
    return "".join(lines)


def _answer(store: Any, args: argparse.Namespace) -> int:
    from lanes_tui.core.requests import (
        ALLOW,
        ALLOW_TOOL,
        DENY,
        DENY_STOP,
        PERMISSION,
        REPLY,
    )
    from lanes_tui.engine.operator_answers import answer_request

    reply = " ".join([*args.reply, args.deny or args.deny_stop or ""]).strip()
    decision = (ALLOW if args.allow else ALLOW_TOOL if args.allow_tool else DENY if args.deny is not None
                else DENY_STOP if args.deny_stop is not None else REPLY)
    request = store.requests().get(args.request_id)
    if args.option is not None:
        if decision != REPLY or reply:
            raise UsageError("--option takes no other answer")
        if not 1 <= args.option <= len(request.options):
            raise InvalidInput(f"request {request.id} has {len(request.options)} option(s); "
                               f"--option {args.option} is not one")
        reply = request.options[args.option - 1]
    if request.kind == PERMISSION and decision == REPLY:
        raise InvalidInput(f"request {request.id} asks to run a tool: "
                           "answer --allow, --allow-tool, --deny or --deny-stop")
    answered = answer_request(store, request.id, decision=decision, reply=reply, by=_operator(args.by))
    if args.json:
        emit_json({"status": "answered", "request": answered.to_json()})
    else:
        said = f": {one_line(clean(answered.reply), 200)}" if answered.reply else ""
        print(f"{answered.id} {answered.decision}{said}")
    return 0


def _operator(name: str | None) -> str:
    """Answers are recorded as a person's: `operator:<name>` (default: user@host)."""
    if not name:
        from lanes_tui.engine.service import default_operator

        return default_operator()
    return "operator:" + one_line(name.removeprefix("operator:"), 100)


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    listing = sub.add_parser("requests", parents=parents,
                             help="questions, blockers and permission requests waiting for a person")
    listing.add_argument("--all", action="store_true", help="also the ones answered, expired or closed (kept a day)")
    answer = sub.add_parser("answer", parents=parents, help="answer a request (see `requests`)")
    answer.add_argument("request_id", help="the request's id, e.g. r3")
    answer.add_argument("reply", nargs="*", help="the reply to a question or blocker; a deny's message")
    answer.add_argument("--option", type=int, metavar="N", help="reply with the question's Nth option")
    choice = answer.add_mutually_exclusive_group()
    choice.add_argument("--allow", action="store_true", help="run the tool this once")
    choice.add_argument("--allow-tool", action="store_true", help="allow this tool for the rest of the task")
    choice.add_argument("--deny", nargs="?", const="", metavar="MESSAGE", help="refuse, telling the agent why")
    choice.add_argument("--deny-stop", nargs="?", const="", metavar="MESSAGE", help="refuse and stop the task")
    answer.add_argument("--by", help="your name, recorded as operator:NAME (default: user@host)")
