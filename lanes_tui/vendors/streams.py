"""Incremental parsers for the output streams of headless agent CLIs.

The supervisor feeds each complete stdout line of `claude -p --output-format
stream-json` or `codex exec --json` (and each stderr line) to the parser its
vendor's `stream:` setting names, and gets back small frozen events for the
dashboard; the parser also keeps a running `RunSummary` (session id, tokens,
cost, final answer, error, rate limit or quota, API retries, denied tool calls).

Agent output is untrusted and the vendors change their formats without notice,
so parsing is total: a line that is not JSON becomes `PlainOutput`, unknown
event types and fields are ignored, and a field of the wrong type (usage as a
string, negative or boolean token counts, NaN cost) is treated as missing.
`feed` never raises for any input (a hypothesis test holds it to that).

What the events carry:

* `Activity.text`, `ApiRetry.describe()` and `Denied.shown` are display-ready:
  one line, sanitised (`core.sanitize`) and short.
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

from typing import Iterable

from lanes_tui.vendors.claude_stream import ClaudeStreamParser
from lanes_tui.vendors.codex_stream import CodexStreamParser
from lanes_tui.vendors.stream_base import (  # noqa: F401 - the public names of this package
    ACTIVITY_MAX,
    ERROR_MAX,
    MAX_JSON_LINE,
    PLAIN_MAX,
    Activity,
    ApiRetry,
    Denied,
    FinalAnswer,
    Outcome,
    PlainOutput,
    RunError,
    RunSummary,
    SessionStarted,
    StreamEvent,
    StreamParser,
    Usage,
    mentions_rate_limit,
    summarise_tool_call,
)

PARSERS: dict[str, type[StreamParser]] = {"claude": ClaudeStreamParser, "codex": CodexStreamParser}


def make_parser(stream: str, max_json_line: int = MAX_JSON_LINE, *, vendor: str | None = None) -> StreamParser:
    """The parser for a stream format ("claude", "codex"): a vendor's `stream:` setting.

    `vendor` only labels the summary (a custom vendor "codex-ws" with stream codex)."""
    kind = PARSERS.get(stream)
    if kind is None:
        raise ValueError(f"unknown stream format: {stream!r} (known: {', '.join(sorted(PARSERS))})")
    parser = kind(max_json_line)
    parser.vendor = vendor or stream
    return parser


def parse_stream(stream: str, lines: Iterable[bytes | str], *, vendor: str | None = None) -> tuple[list[StreamEvent], RunSummary]:
    """Parse a whole captured stream at once (tests, post-mortems of a log file)."""
    parser = make_parser(stream, vendor=vendor)
    events = parser.feed_all(lines)
    return events, parser.summary
