"""`agents`, `register`, `heartbeat`, `send`, `inbox`, `intent`, `history`: agents sharing one repository.

Who you are: `--as NAME`, else `LANES_AGENT_ID` (set for every worker the
supervisor starts). Names starting with `operator:` belong to the dashboard:
these commands refuse them, so an agent cannot pass itself off as a person.

Everything agents wrote (notes, message bodies, intents) is printed through
`sanitize`: escape sequences, bidi controls and the like show as visible
escapes. Message bodies are also fenced (`| ` before each line, under a header
that says they are untrusted text), so an agent reading its inbox can tell a
colleague's words from lanes-tui's. `--json` prints them raw (JSON-escaped).

Exit status: 0 done; 5 bad input (too long, bad address, reserved name); 64
no identity or bad flags; 4 no queue.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any, BinaryIO

from lanes_tui.commands.output import emit_json
from lanes_tui.core.errors import InvalidInput, UsageError
from lanes_tui.core.sanitize import clean, one_line

if TYPE_CHECKING:
    from lanes_tui.core.journal import Entry
    from lanes_tui.core.messages import Message
    from lanes_tui.core.presence import AgentRecord, AgentState, Presence

AGENT_ENV = "LANES_AGENT_ID"
RESERVED_PREFIX = "operator:"


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: building the CLI's parser imports this module for
    # add_parsers, and must stay light for every other command (the edit hook above all).
    from lanes_tui.core.handoff import load_config
    from lanes_tui.storage import open_store

    config = load_config(args.config, store_override=args.store, settings_path=args.settings)
    store = open_store(config.store_location)  # created like any verb's, and checked (owner, modes, no symlinks)
    as_json = bool(args.json)
    command = args.command
    if command == "agents":
        return _list(store.presence(), as_json)
    if command == "history" and not args.record:
        return _entries(store.journal().read_history(args.limit), as_json)
    if command == "intent" and args.text is None:
        return _entries(store.journal().read_intents(args.limit), as_json)
    me = _identity(args)
    if command == "register":
        return _agent(store.presence().register(me, name=args.name, role=args.role, pid=args.pid),
                      "registered", as_json)
    if command == "heartbeat":
        return _agent(store.presence().heartbeat(me, task_id=args.task, note=args.note), "seen", as_json)
    if command == "send":
        box = store.messages()
        sent = box.send(me, args.to, _body(args))
        return _sent(sent, len(box.presence.matching(sent.to)), as_json)
    if command == "inbox":
        return _inbox(me, store.messages().inbox(me, mark_read=not args.peek), not args.peek, as_json)
    journal = store.journal()
    if command == "intent":
        return _entries([journal.intent(me, args.text, args.paths)], as_json, action="recorded")
    kind, text = args.record
    return _entries([journal.record(me, kind, text)], as_json, action="recorded")


def _identity(args: argparse.Namespace) -> str:
    name = args.as_name or os.environ.get(AGENT_ENV, "")
    if not name:
        raise UsageError(f"who are you? pass --as NAME or set {AGENT_ENV}")
    if name.startswith(RESERVED_PREFIX):
        raise InvalidInput("agent names starting with 'operator:' are reserved for the dashboard")
    return name


def _body(args: argparse.Namespace) -> str:
    """The body from --message, or --message-file (- for stdin), read no further than the limit allows."""
    if args.message is not None:
        return args.message
    if args.message_file == "-":
        data = _read_at_most(sys.stdin.buffer)
    else:
        try:
            with open(args.message_file, "rb") as handle:
                data = _read_at_most(handle)
        except OSError as exc:
            raise InvalidInput(f"cannot read {one_line(args.message_file, 200)}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("a message body must be UTF-8 text") from None


def _read_at_most(handle: BinaryIO) -> bytes:
    from lanes_tui.core.messages import MAX_BODY_BYTES

    # One byte past the limit is enough to know it is too big: a 10 MB file is neither read nor held.
    data = handle.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise InvalidInput(f"a message body is at most {MAX_BODY_BYTES} bytes of UTF-8")
    return data


# -- printing ---------------------------------------------------------------------------------


def _list(presence: "Presence", as_json: bool) -> int:
    states = presence.agents()
    if as_json:
        emit_json({"status": "ok", "count": len(states), "agents": [state.to_json() for state in states]})
        return 0
    if not states:
        print("no agents registered")
    for state in states:
        print(_agent_line(state))
    return 0


def _agent_line(state: AgentState) -> str:
    record = state.record
    ago = "?" if state.seen_seconds_ago == float("inf") else f"{max(0, int(state.seen_seconds_ago))}s ago"
    name = f" ({one_line(record.name, 40)})" if record.name != record.id else ""
    note = f"  note: {one_line(record.note, 80)}" if record.note else ""
    return (f"{one_line(record.id, 40) + name:<32} {state.status:<8} role {record.role or '-':<12} "
            f"task {one_line(record.task_id or '-', 40):<24} seen {record.last_seen} ({ago}){note}")


def _agent(record: AgentRecord, verb: str, as_json: bool) -> int:
    if as_json:
        emit_json({"status": "ok", "action": verb, "agent": record.to_json()})
    else:
        print(f"{verb} {one_line(record.id, 80)} at {record.last_seen}")
    return 0


def _sent(message: Message, reached: int, as_json: bool) -> int:
    summary = {key: value for key, value in message.to_json().items() if key != "body"}
    if as_json:
        emit_json({"status": "ok", "action": "sent", "message": summary, "registered_recipients": reached})
    else:
        print(f"sent message {message.id} to {one_line(message.to, 80)} "
              f"({reached} registered agent{' matches' if reached == 1 else 's match'})")
    return 0


def _inbox(agent: str, messages: list[Message], marked: bool, as_json: bool) -> int:
    if as_json:
        emit_json({"status": "ok", "agent": agent, "count": len(messages), "marked_read": marked,
                   "messages": [message.to_json() for message in messages]})
        return 0
    if not messages:
        print("no unread messages")
    for message in messages:
        # The header is ours; every body line is fenced so no line of it can pass for one of ours.
        print(f"message {message.id} from {one_line(message.sender, 200)} (untrusted text)")
        for line in clean(message.body).split("\n"):
            print(f"| {line}")
    return 0


def _entries(entries: list[Entry], as_json: bool, action: str | None = None) -> int:
    if as_json:
        payload: dict[str, Any] = {"status": "ok", "count": len(entries), "entries": [e.to_json() for e in entries]}
        if action:
            payload["action"] = action
        emit_json(payload)
        return 0
    if not entries and not action:
        print("nothing recorded yet")
    for entry in entries:
        paths = f" [{', '.join(one_line(p, 120) for p in entry.paths)}]" if entry.paths else ""
        print(f"{entry.at} {one_line(entry.agent, 60)} {entry.kind}: {one_line(entry.text, 300)}{paths}")
    return 0


# -- parsers ----------------------------------------------------------------------------------


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    def who(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--as", dest="as_name", metavar="NAME", help=f"your agent id (default: ${AGENT_ENV})")

    def limit(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--limit", type=_limit, default=20, help="how many of the newest to show (default 20)")

    sub.add_parser("agents", parents=parents, help="list agents with status (active/idle/offline), role, task")
    register = sub.add_parser("register", parents=parents, help="announce yourself to the other agents")
    register.add_argument("--name", help="display name (default: your id)")
    register.add_argument("--role", help="a short role (a-z 0-9 _ -), for role:<role> messages")
    register.add_argument("--pid", type=int, help="your long-running process: you are offline once it is gone")
    who(register)
    heartbeat = sub.add_parser("heartbeat", parents=parents, help="mark yourself seen now (registers if needed)")
    heartbeat.add_argument("--task", help="the task you are working on ('' clears it)")
    heartbeat.add_argument("--note", help="a short status note ('' clears it)")
    who(heartbeat)
    send = sub.add_parser("send", parents=parents, help="message an agent, name:<name>, role:<role> or all")
    send.add_argument("--to", required=True, metavar="ADDRESS")
    body = send.add_mutually_exclusive_group(required=True)
    body.add_argument("--message", metavar="TEXT")
    body.add_argument("--message-file", metavar="FILE", help="read the body from FILE (- for stdin)")
    who(send)
    inbox = sub.add_parser("inbox", parents=parents, help="your unread messages (then marked read)")
    inbox.add_argument("--peek", action="store_true", help="show them without marking them read")
    who(inbox)
    intent = sub.add_parser("intent", parents=parents, help="say what you are about to do (no TEXT: list intents)")
    intent.add_argument("text", nargs="?", metavar="TEXT")
    intent.add_argument("--path", dest="paths", action="append", default=[], metavar="PATH",
                        help="a path the work touches (repeatable)")
    limit(intent)
    who(intent)
    history = sub.add_parser("history", parents=parents, help="what agents did and decided (or --record it)")
    history.add_argument("--record", nargs=2, metavar=("KIND", "TEXT"),
                         help="append an entry; KIND is done or decision")
    limit(history)
    who(history)


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 1000, got {text!r}")
    return value
