"""Incremental parsers for the output streams of headless agent CLIs.

The supervisor feeds each complete stdout line of `claude -p --output-format
stream-json --verbose` or `codex exec --json` to a parser and gets back small
frozen events for the dashboard; the parser also keeps a running `RunSummary`
(session id, tokens, cost, final answer, error, rate limit, turns).

Agent output is untrusted and the vendors change their formats without notice,
so parsing is total: a line that is not JSON becomes `PlainOutput`, unknown
event types and fields are ignored, and a field of the wrong type (usage as a
string, negative or boolean token counts, NaN cost) is treated as missing.
`feed` never raises for any input (a hypothesis test holds it to that).

What the events carry:

* `Activity.text` is display-ready: one line, sanitised (`core.sanitize`) and
  short, because it exists only to be shown in a table cell.
* `FinalAnswer.text`, `RunError.message` and `PlainOutput.text` are raw: the
  answer is written to the response file byte for byte, so the UI must run
  them through `sanitize.clean` before drawing them. Error and plain-output
  texts are capped so that a 20 MB line cannot become a 20 MB event.
* `Usage` holds running *totals* for the run, not deltas: Claude repeats one
  message's usage on every content block of that message, and Codex reports
  thread totals on each `turn.completed`, so summing would double count.

A run that ended without a terminal success event (Claude `result`, Codex
`turn.completed`) has `summary.final_answer is None`, whatever its exit status.
"""

from __future__ import annotations

import enum
import json
import math
import re
import shlex
from dataclasses import dataclass
from typing import Any, Iterable, Union

from lanes_tui.core.sanitize import one_line

ACTIVITY_MAX = 160
ERROR_MAX = 2000
PLAIN_MAX = 2000
# Lines longer than this are not parsed as JSON (they are kept as a capped
# PlainOutput): json.loads on a huge line costs several times its size in memory.
# Large enough for a big final answer, which arrives as one `result` line.
MAX_JSON_LINE = 64 << 20
# Larger counts are not plausible token numbers; treat them as garbage.
_MAX_COUNT = 1 << 53

VENDOR_FORMATS = {"claude": "claude", "demo": "claude", "codex": "codex"}


# --- events -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionStarted:
    """The session (Claude) or thread (Codex) id is known: it is what resume needs."""

    session_id: str
    model: str | None = None


@dataclass(frozen=True, slots=True)
class Activity:
    """What the agent is doing now: its last tool call, or its last message line."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Running totals for the run. `tokens_in` includes cached input tokens."""

    tokens_in: int
    tokens_out: int
    cost_usd: float | None = None
    tokens_cached: int = 0


@dataclass(frozen=True, slots=True)
class FinalAnswer:
    text: str


@dataclass(frozen=True, slots=True)
class RunError:
    message: str
    rate_limited: bool = False


@dataclass(frozen=True, slots=True)
class PlainOutput:
    """A line that is not a JSON object (capped at PLAIN_MAX characters)."""

    text: str


StreamEvent = Union[SessionStarted, Activity, Usage, FinalAnswer, RunError, PlainOutput]


class Outcome(str, enum.Enum):
    ANSWERED = "answered"
    RATE_LIMITED = "rate_limited"
    FAILED = "failed"
    INCOMPLETE = "incomplete"  # ended (or is still running) without a result


@dataclass(frozen=True, slots=True)
class RunSummary:
    vendor: str
    session_id: str | None = None
    model: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0
    cost_usd: float | None = None
    final_answer: str | None = None
    # The last message text seen, answer or not: worth keeping for a run that
    # died before its result.
    last_message: str | None = None
    error: str | None = None
    rate_limited: bool = False
    turns: int = 0
    tool_calls: int = 0
    activity: str | None = None
    lines: int = 0
    plain_lines: int = 0

    @property
    def outcome(self) -> Outcome:
        """How the run ended, judged from its stream alone.

        A final answer wins over an earlier error (Codex reports retried stream
        errors, then completes the turn); a rate limit wins over a plain error
        because the supervisor treats it as a vendor-wide cooldown.
        """
        if self.final_answer is not None:
            return Outcome.ANSWERED
        if self.rate_limited:
            return Outcome.RATE_LIMITED
        if self.error is not None:
            return Outcome.FAILED
        return Outcome.INCOMPLETE


# --- rate limits --------------------------------------------------------------

_RATE_LIMIT = re.compile(
    r"(?<![\w.])429(?![\w.])|rate[ _-]?limit|usage[ _-]?limit|quota|too many requests",
    re.IGNORECASE,
)


def mentions_rate_limit(text: object) -> bool:
    """Whether an error text or a stderr line speaks of a rate limit or quota.

    Only for error results and stderr: an agent's ordinary messages may well
    mention quotas or the number 429.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return isinstance(text, str) and _RATE_LIMIT.search(text) is not None


# --- helpers for untrusted JSON -----------------------------------------------


def _count(value: object) -> int | None:
    """A token count, or None when the value is not a plausible count."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= _MAX_COUNT else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value) if 0 <= value <= _MAX_COUNT else None
    return None


def _money(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        amount = float(value)
    except OverflowError:
        return None
    return amount if math.isfinite(amount) and amount >= 0 else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _last_line(text: str) -> str:
    """The start of the last non-blank line: what an activity column shows."""
    stripped = text.rstrip()
    start = max(stripped.rfind("\n"), stripped.rfind("\r")) + 1
    return stripped[start : start + 4 * ACTIVITY_MAX]


def _decode(line: bytes | str) -> str:
    if isinstance(line, (bytes, bytearray, memoryview)):
        line = bytes(line).decode("utf-8", "replace")
    elif not isinstance(line, str):
        line = str(line)
    return line.rstrip("\r\n")


# Preferred argument for the activity line of a tool call, in order.
_ARG_KEYS = ("command", "file_path", "notebook_path", "pattern", "path", "url", "query",
             "description", "prompt", "skill", "name")


def summarise_tool_call(name: str, arguments: object) -> str:
    """`Bash: ls -la`, `Read: src/app.py`: the tool and its most telling argument.

    Display-ready, like `Activity.text`: one sanitised line of at most ACTIVITY_MAX.
    """
    args = _dict(arguments)
    detail = next((args[key] for key in _ARG_KEYS if isinstance(args.get(key), str) and args[key]), None)
    if detail is None:
        todos = _list(args.get("todos"))
        if todos:
            detail = f"{len(todos)} items"
    if detail is None:
        detail = next((value for value in args.values() if isinstance(value, str) and value), "")
    # Only the start can be shown; do not fold megabytes of a Write's content.
    detail = detail.lstrip()[: 4 * ACTIVITY_MAX]
    return one_line(f"{name}: {detail}" if detail else name, ACTIVITY_MAX)


def _unwrap_shell(command: object) -> str:
    """Codex runs commands as `bash -lc '<cmd>'`: show the <cmd> part."""
    if isinstance(command, list) and all(isinstance(part, str) for part in command):
        parts: list[str] | None = command
        shown = shlex.join(command)
    elif isinstance(command, str):
        shown = command
        try:
            # shlex is slow on huge input; such a command is shown raw, capped.
            parts = shlex.split(command) if len(command) < 4096 else None
        except ValueError:
            parts = None
    else:
        return ""
    if (parts and len(parts) == 3 and parts[0].rsplit("/", 1)[-1] in ("bash", "sh", "zsh")
            and parts[1] in ("-c", "-lc")):
        return parts[2]
    return shown


# --- parsers ------------------------------------------------------------------


class StreamParser:
    """Shared state and line handling; subclasses interpret the JSON objects."""

    vendor = "?"

    def __init__(self, max_json_line: int = MAX_JSON_LINE) -> None:
        self._max_json_line = max_json_line
        self._session_id: str | None = None
        self._model: str | None = None
        self._tokens_in = 0
        self._tokens_out = 0
        self._tokens_cached = 0
        self._cost: float | None = None
        self._final: str | None = None
        self._last_message: str | None = None
        self._error: str | None = None
        self._rate_limited = False
        self._turns = 0
        self._tool_ids: set[str] = set()
        self._tool_calls = 0
        self._activity: str | None = None
        self._lines = 0
        self._plain_lines = 0

    @property
    def summary(self) -> RunSummary:
        return RunSummary(
            vendor=self.vendor, session_id=self._session_id, model=self._model,
            tokens_in=self._tokens_in, tokens_out=self._tokens_out,
            tokens_cached=self._tokens_cached, cost_usd=self._cost, final_answer=self._final,
            last_message=self._last_message, error=self._error,
            rate_limited=self._rate_limited, turns=self._turns, tool_calls=self._tool_calls,
            activity=self._activity, lines=self._lines, plain_lines=self._plain_lines,
        )

    def feed(self, line: bytes | str) -> list[StreamEvent]:
        """Interpret one complete stdout line (its newline may be included)."""
        text = _decode(line)
        self._lines += 1
        obj = self._load(text)
        if obj is None:
            if not text.strip():
                return []
            self._plain_lines += 1
            return [PlainOutput(_cap(text, PLAIN_MAX))]
        out: list[StreamEvent] = []
        try:
            self._handle(obj, out)
        except Exception as exc:  # noqa: BLE001 - a parser bug must not kill a supervisor
            # Every access above is type-checked; this is a last line of defence,
            # kept visible instead of silent.
            out.append(PlainOutput(_cap(f"[lanes-tui: unreadable {self.vendor} event: {exc!r}]", PLAIN_MAX)))
        return out

    def feed_stderr(self, line: bytes | str) -> list[StreamEvent]:
        """Note a stderr line; only a rate-limit mention matters to the summary."""
        text = _decode(line)
        if not mentions_rate_limit(text):
            return []
        self._rate_limited = True
        return [RunError(_cap(text.strip(), ERROR_MAX), rate_limited=True)]

    def feed_all(self, lines: Iterable[bytes | str]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for line in lines:
            events.extend(self.feed(line))
        return events

    def _load(self, text: str) -> dict[str, Any] | None:
        stripped = text.strip()
        # Cheap pre-checks keep megabytes of plain output away from json.loads.
        if not stripped.startswith("{") or len(stripped) > self._max_json_line:
            return None
        try:
            obj = json.loads(stripped)
        except (ValueError, RecursionError):
            return None
        return obj if isinstance(obj, dict) else None

    def _handle(self, obj: dict[str, Any], out: list[StreamEvent]) -> None:
        raise NotImplementedError

    # Shared state changes, each appending the matching event when something changed.

    def _set_session(self, session_id: object, model: object, out: list[StreamEvent]) -> None:
        model = _text(model) or None
        if model is not None:
            self._model = model
        if isinstance(session_id, str) and session_id and session_id != self._session_id:
            self._session_id = session_id
            out.append(SessionStarted(session_id, self._model))

    def _set_activity(self, text: str, out: list[StreamEvent]) -> None:
        shown = one_line(text, ACTIVITY_MAX)
        if shown and shown != self._activity:
            self._activity = shown
            out.append(Activity(shown))

    def _set_usage(self, tokens_in: int, tokens_out: int, cached: int, cost: float | None,
                   out: list[StreamEvent]) -> None:
        if cost is None:
            cost = self._cost
        state = (tokens_in, tokens_out, cached, cost)
        if state == (self._tokens_in, self._tokens_out, self._tokens_cached, self._cost):
            return
        self._tokens_in, self._tokens_out, self._tokens_cached, self._cost = state
        out.append(Usage(tokens_in, tokens_out, cost, cached))

    def _count_tool(self, tool_id: object) -> None:
        if isinstance(tool_id, str) and tool_id:
            if tool_id in self._tool_ids:
                return
            self._tool_ids.add(tool_id)
        self._tool_calls += 1

    def _fail(self, message: str, rate_limited: bool, out: list[StreamEvent]) -> None:
        message = _cap(message.strip() or "error", ERROR_MAX)
        rate_limited = rate_limited or mentions_rate_limit(message)
        self._error = message
        self._final = None  # the last terminal event decides
        self._rate_limited = self._rate_limited or rate_limited
        out.append(RunError(message, rate_limited))

    def _answer(self, text: str, out: list[StreamEvent]) -> None:
        self._final = text
        self._last_message = text
        out.append(FinalAnswer(text))


class ClaudeStreamParser(StreamParser):
    """`claude -p --output-format stream-json --verbose` (also the demo agent)."""

    vendor = "claude"

    def __init__(self, max_json_line: int = MAX_JSON_LINE) -> None:
        super().__init__(max_json_line)
        # message id -> (input incl. cache, output, cache reads): Claude repeats
        # the usage of one message on each of its content blocks.
        self._message_usage: dict[str, tuple[int, int, int]] = {}
        self._anonymous = 0
        self._result_seen = False

    def _handle(self, obj: dict[str, Any], out: list[StreamEvent]) -> None:
        kind = obj.get("type")
        if kind == "system":
            if obj.get("subtype") == "init":
                self._set_session(obj.get("session_id"), obj.get("model"), out)
        elif kind == "assistant":
            self._assistant(obj, out)
        elif kind == "result":
            self._result(obj, out)
        elif kind == "rate_limit_event":
            # Newer CLIs report limit status as its own event; only a rejection matters.
            info = _dict(obj.get("rate_limit_info"))
            if info.get("status") == "rejected":
                self._rate_limited = True
        # "user" lines carry tool results: nothing the dashboard shows. Unknown
        # types (stream_event, compact boundaries...) are ignored.

    def _assistant(self, obj: dict[str, Any], out: list[StreamEvent]) -> None:
        self._set_session(obj.get("session_id"), None, out)
        if obj.get("error") == "rate_limit":
            self._rate_limited = True
        message = _dict(obj.get("message"))
        if self._model is None:  # init names the model; subagents may use others
            self._set_session(None, message.get("model"), out)
        message_id = _text(message.get("id"))
        if message_id is None:
            self._anonymous += 1
            message_id = f"#anonymous-{self._anonymous}"
        if message_id not in self._message_usage:
            # One API response per message id: a running turn count until the
            # result states num_turns.
            if not self._result_seen:
                self._turns += 1
            self._message_usage[message_id] = (0, 0, 0)
        for block in _list(message.get("content")):
            block = _dict(block)
            block_type = block.get("type")
            if block_type == "text":
                text = _text(block.get("text"))
                if text is not None:
                    self._last_message = text
                    self._set_activity(_last_line(text), out)
            elif block_type == "thinking":
                thinking = _text(block.get("thinking"))
                if thinking:
                    self._set_activity("thinking: " + _last_line(thinking), out)
            elif block_type == "tool_use":
                name = _text(block.get("name")) or "tool"
                self._count_tool(block.get("id"))
                self._set_activity(summarise_tool_call(name, block.get("input")), out)
        usage = _dict(message.get("usage"))
        if usage and not self._result_seen:
            tokens = _claude_tokens(usage)
            if tokens is not None:
                self._message_usage[message_id] = tokens
                totals = [sum(values) for values in zip(*self._message_usage.values())]
                self._set_usage(totals[0], totals[1], totals[2], None, out)

    def _result(self, obj: dict[str, Any], out: list[StreamEvent]) -> None:
        self._result_seen = True
        self._set_session(obj.get("session_id"), None, out)
        turns = _count(obj.get("num_turns"))
        if turns is not None:
            self._turns = turns
        # The result's usage and cost are the run's totals: they replace the running sums.
        cost = _money(obj.get("total_cost_usd"))
        if cost is None:
            cost = _money(obj.get("cost_usd"))  # field name of older CLIs
        tokens = _claude_tokens(_dict(obj.get("usage")))
        if tokens is not None:
            self._set_usage(tokens[0], tokens[1], tokens[2], cost, out)
        elif cost is not None:
            self._set_usage(self._tokens_in, self._tokens_out, self._tokens_cached, cost, out)
        subtype = _text(obj.get("subtype")) or ""
        result = obj.get("result")
        failed = obj.get("is_error") is True or subtype.startswith("error")
        if failed:
            errors = [e for e in _list(obj.get("errors")) if isinstance(e, str)]
            text = _text(result) or "; ".join(errors) or subtype or "error"
            if subtype.startswith("error") and not text.startswith(subtype):
                text = f"{subtype}: {text}"
            self._fail(text, "rate" in subtype, out)
        elif isinstance(result, str):
            self._answer(result, out)
        # A success result without a result text is not an answer: final stays None.


def _claude_tokens(usage: dict[str, Any]) -> tuple[int, int, int] | None:
    """(input incl. cache, output, cache reads), or None if nothing usable."""
    fresh = _count(usage.get("input_tokens"))
    output = _count(usage.get("output_tokens"))
    created = _count(usage.get("cache_creation_input_tokens")) or 0
    read = _count(usage.get("cache_read_input_tokens")) or 0
    if fresh is None and output is None and not created and not read:
        return None
    return (fresh or 0) + created + read, output or 0, read


class CodexStreamParser(StreamParser):
    """`codex exec --json` JSONL events."""

    vendor = "codex"

    def __init__(self, max_json_line: int = MAX_JSON_LINE) -> None:
        super().__init__(max_json_line)
        self._turn_message: str | None = None

    def _handle(self, obj: dict[str, Any], out: list[StreamEvent]) -> None:
        kind = obj.get("type")
        if kind == "thread.started":
            self._set_session(obj.get("thread_id"), obj.get("model"), out)
        elif kind == "turn.started":
            self._turns += 1
            self._turn_message = None
        elif kind in ("item.started", "item.updated", "item.completed"):
            self._item(kind, _dict(obj.get("item")), out)
        elif kind == "turn.completed":
            usage = _dict(obj.get("usage"))
            fresh = _count(usage.get("input_tokens"))
            output = _count(usage.get("output_tokens"))
            cached = _count(usage.get("cached_input_tokens")) or 0
            if fresh is not None or output is not None:
                # Thread totals (input already includes cached): the latest replaces.
                self._set_usage(fresh or 0, output or 0, cached, None, out)
            if self._turn_message is not None:
                self._answer(self._turn_message, out)
            else:
                # A turn that ended without any message has no answer to record.
                self._final = None
        elif kind == "turn.failed":
            message = _text(_dict(obj.get("error")).get("message")) or "turn failed"
            self._fail(message, False, out)
        elif kind == "error":
            message = _text(obj.get("message")) or _text(_dict(obj.get("error")).get("message"))
            self._fail(message or "error", False, out)

    def _item(self, kind: str, item: dict[str, Any], out: list[StreamEvent]) -> None:
        item_type = item.get("type")
        if item_type == "agent_message":
            text = _text(item.get("text"))
            if text is not None:
                if kind == "item.completed":
                    self._turn_message = text
                    self._last_message = text
                self._set_activity(_last_line(text), out)
        elif item_type == "reasoning":
            text = _text(item.get("text"))
            if text:
                self._set_activity("thinking: " + _last_line(text), out)
        elif item_type == "command_execution":
            self._count_tool(item.get("id"))
            self._set_activity("$ " + _unwrap_shell(item.get("command")), out)
        elif item_type == "file_change":
            self._count_tool(item.get("id"))
            changes = [_dict(change) for change in _list(item.get("changes"))]
            paths = [f"{_text(c.get('kind')) or 'edit'} {_text(c.get('path')) or '?'}" for c in changes[:3]]
            more = f" (+{len(changes) - 3})" if len(changes) > 3 else ""
            self._set_activity("edit: " + (", ".join(paths) or "files") + more, out)
        elif item_type == "mcp_tool_call":
            self._count_tool(item.get("id"))
            server = _text(item.get("server")) or "mcp"
            tool = _text(item.get("tool")) or "tool"
            self._set_activity(summarise_tool_call(f"{server}.{tool}", item.get("arguments")), out)
        elif item_type == "web_search":
            self._count_tool(item.get("id"))
            self._set_activity("search: " + (_text(item.get("query")) or ""), out)
        elif item_type == "todo_list":
            todos = [_dict(todo) for todo in _list(item.get("items"))]
            done = sum(1 for todo in todos if todo.get("completed") is True)
            pending = next((_text(t.get("text")) for t in todos if t.get("completed") is not True), None)
            suffix = f", next: {pending}" if pending else ""
            self._set_activity(f"todo: {done}/{len(todos)} done{suffix}", out)
        elif item_type == "error":
            # Item errors are non-fatal warnings (the turn goes on); shown, not recorded.
            self._set_activity("warning: " + (_text(item.get("message")) or "error"), out)


def make_parser(vendor: str, max_json_line: int = MAX_JSON_LINE) -> StreamParser:
    """The parser for a configured vendor name ("claude", "codex", "demo")."""
    fmt = VENDOR_FORMATS.get(vendor)
    if fmt == "claude":
        parser: StreamParser = ClaudeStreamParser(max_json_line)
    elif fmt == "codex":
        parser = CodexStreamParser(max_json_line)
    else:
        raise ValueError(f"unknown agent vendor: {vendor!r} (known: {', '.join(sorted(VENDOR_FORMATS))})")
    parser.vendor = vendor
    return parser


def parse_stream(vendor: str, lines: Iterable[bytes | str]) -> tuple[list[StreamEvent], RunSummary]:
    """Parse a whole captured stream at once (tests, post-mortems of a log file)."""
    parser = make_parser(vendor)
    events = parser.feed_all(lines)
    return events, parser.summary
