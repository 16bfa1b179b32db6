"""What the stream parsers of headless agent CLIs share: events, the run summary, helpers.

The contract (total parsing, which texts are raw and which display-ready, usage
as running totals) is described where the parsers are offered: vendors/streams.py.
The vendor parsers live in vendors/claude_stream.py and vendors/codex_stream.py; the
base class here turns lines into JSON objects safely and keeps the state the
summary is made of.
"""

from __future__ import annotations

import enum
import json
import math
import shlex
from dataclasses import dataclass
from typing import Any, Iterable, Union

from lanes_tui.core.sanitize import one_line
from lanes_tui.vendors import limits

ACTIVITY_MAX = 160
MAX_DENIALS = 100  # kept per run; more only repeat the point
ERROR_MAX = 2000
PLAIN_MAX = 2000
# Lines longer than this are not parsed as JSON (they are kept as a capped
# PlainOutput): json.loads on a huge line costs several times its size in memory.
# Large enough for a big final answer, which arrives as one `result` line.
MAX_JSON_LINE = 64 << 20
# Larger counts are not plausible token numbers; treat them as garbage.
_MAX_COUNT = 1 << 53


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
    """Running totals for the run. `tokens_in` includes cached input tokens (reads and
    writes); `tokens_reasoning` is part of `tokens_out`. `cost_usd` is the vendor's own
    figure, None until it gives one."""

    tokens_in: int
    tokens_out: int
    cost_usd: float | None = None
    tokens_cached: int = 0  # cache reads
    tokens_cache_write: int = 0
    tokens_reasoning: int = 0


@dataclass(frozen=True, slots=True)
class FinalAnswer:
    text: str


@dataclass(frozen=True, slots=True)
class RunError:
    message: str
    rate_limited: bool = False
    quota: bool = False  # a quota or usage limit, not a passing rate limit
    resets_at: float | None = None  # epoch seconds, when the message says


@dataclass(frozen=True, slots=True)
class ApiRetry:
    """The CLI is retrying a failed API call itself (Claude's system/api_retry, Codex's
    "Reconnecting... 2/5"). `delay_seconds` is how long it waits first, when it says."""

    attempt: int
    max_retries: int | None
    status: int | None
    delay_seconds: float | None
    error: str

    def describe(self) -> str:
        """`API 429, retry 3/10 in 8 s`: display-ready."""
        what = f"API {self.status}" if self.status else f"API error ({one_line(self.error, 40) or 'unknown'})"
        of = f"/{self.max_retries}" if self.max_retries else ""
        wait = f" in {self.delay_seconds:.0f} s" if self.delay_seconds is not None else ""
        return f"{what}, retry {self.attempt}{of}{wait}"


@dataclass(frozen=True, slots=True)
class Denied:
    """A tool call the CLI's permission rules or sandbox refused. `tool` and `target` are
    raw (short): the UI sanitises them; `shown` is display-ready."""

    tool: str
    target: str
    shown: str


@dataclass(frozen=True, slots=True)
class PlainOutput:
    """A line that is not a JSON object (capped at PLAIN_MAX characters)."""

    text: str


StreamEvent = Union[SessionStarted, Activity, Usage, FinalAnswer, RunError, PlainOutput, ApiRetry, Denied]


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
    tokens_cache_write: int = 0
    tokens_reasoning: int = 0
    cost_usd: float | None = None
    final_answer: str | None = None
    # The last message text seen, answer or not: worth keeping for a run that
    # died before its result.
    last_message: str | None = None
    error: str | None = None
    rate_limited: bool = False
    quota: bool = False
    resets_at: float | None = None
    api_error_status: int | None = None
    api_retries: int = 0
    denials: tuple[Denied, ...] = ()
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


def mentions_rate_limit(text: object) -> bool:
    """Whether an error text or a stderr line speaks of a rate limit, quota or usage limit.

    Only for error results and stderr: an agent's ordinary messages may well
    mention quotas or the number 429.
    """
    return limits.classify(text) is not None


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


def json_object(text: str, max_len: int = MAX_JSON_LINE) -> dict[str, Any] | None:
    """The line as a JSON object, or None (not JSON, not an object, or longer than `max_len`)."""
    stripped = text.strip()
    # Cheap pre-checks keep megabytes of plain output away from json.loads.
    if not stripped.startswith("{") or len(stripped) > max_len:
        return None
    try:
        obj = json.loads(stripped)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


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
        self._tokens = (0, 0, 0, 0, 0)  # in (all), out, cache reads, cache writes, reasoning
        self._cost: float | None = None
        self._final: str | None = None
        self._last_message: str | None = None
        self._error: str | None = None
        self._rate_limited = False
        self._quota = False
        self._resets_at: float | None = None
        self._api_error_status: int | None = None
        self._api_retries = 0
        self._denials: list[Denied] = []
        self._turns = 0
        self._tool_ids: set[str] = set()
        self._tool_calls = 0
        self._activity: str | None = None
        self._lines = 0
        self._plain_lines = 0

    @property
    def summary(self) -> RunSummary:
        tokens_in, tokens_out, cache_read, cache_write, reasoning = self._tokens
        return RunSummary(
            vendor=self.vendor, session_id=self._session_id, model=self._model,
            tokens_in=tokens_in, tokens_out=tokens_out, tokens_cached=cache_read,
            tokens_cache_write=cache_write, tokens_reasoning=reasoning,
            cost_usd=self._cost, final_answer=self._final,
            last_message=self._last_message, error=self._error,
            rate_limited=self._rate_limited, quota=self._quota, resets_at=self._resets_at,
            api_error_status=self._api_error_status, api_retries=self._api_retries,
            denials=tuple(self._denials), turns=self._turns, tool_calls=self._tool_calls,
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
        """Note a stderr line: a rate limit or quota it names, and what the vendor reports
        there only (Codex: sandbox denials)."""
        text = _decode(line)
        out: list[StreamEvent] = []
        try:
            self._stderr(text, out)
        except Exception:  # noqa: BLE001 - as in feed(): never fatal
            pass
        limit = limits.classify(text)
        if limit is not None:
            self._note_limit(limit)
            out.append(RunError(_cap(text.strip(), ERROR_MAX), True, limit.kind == limits.QUOTA, limit.resets_at))
        return out

    def feed_all(self, lines: Iterable[bytes | str]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for line in lines:
            events.extend(self.feed(line))
        return events

    def _load(self, text: str) -> dict[str, Any] | None:
        return json_object(text, self._max_json_line)

    def _handle(self, obj: dict[str, Any], out: list[StreamEvent]) -> None:
        raise NotImplementedError

    def _stderr(self, text: str, out: list[StreamEvent]) -> None:
        """Vendor-specific stderr reading (nothing by default)."""

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

    def _set_usage(self, tokens: tuple[int, int, int, int, int], cost: float | None, out: list[StreamEvent]) -> None:
        """tokens: (in incl. cache, out incl. reasoning, cache reads, cache writes, reasoning)."""
        if cost is None:
            cost = self._cost
        if (tokens, cost) == (self._tokens, self._cost):
            return
        self._tokens, self._cost = tokens, cost
        out.append(Usage(tokens[0], tokens[1], cost, tokens[2], tokens[3], tokens[4]))

    def _count_tool(self, tool_id: object) -> None:
        if isinstance(tool_id, str) and tool_id:
            if tool_id in self._tool_ids:
                return
            self._tool_ids.add(tool_id)
        self._tool_calls += 1

    def _note_limit(self, limit: limits.Limit) -> None:
        self._rate_limited = True
        self._quota = self._quota or limit.kind == limits.QUOTA
        if limit.resets_at is not None:
            self._resets_at = max(self._resets_at or 0.0, limit.resets_at)

    def _fail(self, message: str, rate_limited: bool, out: list[StreamEvent]) -> None:
        message = _cap(message.strip() or "error", ERROR_MAX)
        limit = limits.classify(message)
        if limit is None and rate_limited:
            limit = limits.Limit(limits.RATE_LIMIT)
        self._error = message
        self._final = None  # the last terminal event decides
        if limit is not None:
            self._note_limit(limit)
        out.append(RunError(message, limit is not None, bool(limit and limit.kind == limits.QUOTA),
                            limit.resets_at if limit else None))

    def _retry(self, retry: ApiRetry, out: list[StreamEvent]) -> None:
        self._api_retries += 1
        out.append(retry)

    def _deny(self, tool: str, arguments: object, out: list[StreamEvent]) -> None:
        target = _cap(_tool_target(arguments), 300)
        denial = Denied(_cap(tool or "tool", 100), target, summarise_tool_call(tool or "tool", arguments))
        if denial not in self._denials and len(self._denials) < MAX_DENIALS:
            self._denials.append(denial)
            out.append(denial)

    def _answer(self, text: str, out: list[StreamEvent]) -> None:
        self._final = text
        self._last_message = text
        out.append(FinalAnswer(text))


def _tool_target(arguments: object) -> str:
    """The argument that says what a tool call was about (a path, a command), raw."""
    if isinstance(arguments, str):
        return arguments
    args = _dict(arguments)
    return next((args[key] for key in _ARG_KEYS if isinstance(args.get(key), str) and args[key]), "")
