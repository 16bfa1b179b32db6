"""Stream parsers for claude stream-json and codex exec --json: realistic runs and hostile input."""

from __future__ import annotations

import json
import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lanes_tui.core.sanitize import is_clean
from lanes_tui.vendors.streams import (
    ACTIVITY_MAX,
    PLAIN_MAX,
    Activity,
    ApiRetry,
    ClaudeStreamParser,
    CodexStreamParser,
    FinalAnswer,
    Outcome,
    PlainOutput,
    RunError,
    SessionStarted,
    Usage,
    make_parser,
    mentions_rate_limit,
    parse_stream,
    summarise_tool_call,
)

SAFETY_NET = "[lanes-tui: unreadable"

# --- sample streams, shaped like real CLI output --------------------------------------------

SID = "8f2c3b1e-5d7a-4c1e-9b0a-2f6d8e4c1a77"
USAGE_A = {"input_tokens": 4, "cache_creation_input_tokens": 5339, "cache_read_input_tokens": 11997,
           "output_tokens": 3, "service_tier": "standard"}
USAGE_B = {"input_tokens": 7, "cache_creation_input_tokens": 800, "cache_read_input_tokens": 17336,
           "output_tokens": 120, "service_tier": "standard"}


def claude_assistant(msg_id: str, content: list, usage: dict | None = None, **extra) -> dict:
    message = {"id": msg_id, "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
               "content": content, "stop_reason": None, "stop_sequence": None}
    if usage is not None:
        message["usage"] = usage
    return {"type": "assistant", "message": message, "parent_tool_use_id": None, "session_id": SID,
            "uuid": f"uuid-{msg_id}", **extra}


CLAUDE_INIT = {
    "type": "system", "subtype": "init", "cwd": "/home/dev/proj", "session_id": SID,
    "tools": ["Task", "Bash", "Glob", "Grep", "Read", "Edit", "Write", "TodoWrite"], "mcp_servers": [],
    "model": "claude-sonnet-4-5-20250929", "permissionMode": "default", "slash_commands": ["compact"],
    "apiKeySource": "none", "output_style": "default", "uuid": "u0",
}
ANSWER = "The bug is in `load()`: it ignored the encoding.\nI fixed it and the tests pass."
CLAUDE_RESULT = {
    "type": "result", "subtype": "success", "is_error": False, "duration_ms": 9876, "duration_api_ms": 9500,
    "num_turns": 3, "result": ANSWER, "session_id": SID, "total_cost_usd": 0.0421,
    "usage": {"input_tokens": 11, "cache_creation_input_tokens": 6139, "cache_read_input_tokens": 29333,
              "output_tokens": 250, "server_tool_use": {"web_search_requests": 0}, "service_tier": "standard"},
    "permission_denials": [], "uuid": "u9",
}
CLAUDE_OK = [
    CLAUDE_INIT,
    claude_assistant("msg_01A", [{"type": "thinking", "thinking": "The user wants a fix.\nLet me read the file.",
                                  "signature": "c2ln"}], USAGE_A),
    # Claude emits each content block of a message as its own line, repeating the usage.
    claude_assistant("msg_01A", [{"type": "tool_use", "id": "toolu_01", "name": "Read",
                                  "input": {"file_path": "/home/dev/proj/src/app.py"}}], USAGE_A),
    {"type": "user", "message": {"role": "user", "content": [
        {"tool_use_id": "toolu_01", "type": "tool_result", "content": "     1\timport os\n     2\tdef load(p):"}]},
     "parent_tool_use_id": None, "session_id": SID, "uuid": "u3"},
    claude_assistant("msg_01B", [{"type": "text", "text": ANSWER}], USAGE_B),
    CLAUDE_RESULT,
]

TID = "0199a213-81c0-7800-8aa1-bbab2a035a53"
CODEX_ANSWER = "Fixed `load()` in src/app.py.\nTests pass."
CODEX_OK = [
    {"type": "thread.started", "thread_id": TID},
    {"type": "turn.started"},
    {"type": "item.completed", "item": {"id": "item_0", "type": "reasoning",
                                        "text": "**Scanning the repository**\n\nI'll search for load first."}},
    {"type": "item.started", "item": {"id": "item_1", "type": "command_execution",
                                      "command": "bash -lc 'rg -n \"def load\" src'", "aggregated_output": "",
                                      "exit_code": None, "status": "in_progress"}},
    {"type": "item.completed", "item": {"id": "item_1", "type": "command_execution",
                                        "command": "bash -lc 'rg -n \"def load\" src'",
                                        "aggregated_output": "src/app.py:12:def load(path):\n", "exit_code": 0,
                                        "status": "completed"}},
    {"type": "item.completed", "item": {"id": "item_2", "type": "file_change",
                                        "changes": [{"path": "/repo/src/app.py", "kind": "update"}],
                                        "status": "completed"}},
    {"type": "item.started", "item": {"id": "item_3", "type": "todo_list", "items": [
        {"text": "Fix load", "completed": True}, {"text": "Run tests", "completed": False}]}},
    {"type": "item.completed", "item": {"id": "item_4", "type": "agent_message", "text": CODEX_ANSWER}},
    {"type": "turn.completed", "usage": {"input_tokens": 24763, "cached_input_tokens": 24448, "output_tokens": 122}},
]


def lines(objs: list) -> list[str]:
    return [json.dumps(obj) + "\n" for obj in objs]


def feed(parser, line) -> list:
    events = parser.feed(line)
    assert not any(isinstance(e, PlainOutput) and e.text.startswith(SAFETY_NET) for e in events), events
    return events


def feed_all(parser, objs_or_lines) -> list:
    events = []
    for item in objs_or_lines:
        events.extend(feed(parser, item if isinstance(item, (str, bytes)) else json.dumps(item)))
    return events


def of(events, kind) -> list:
    return [e for e in events if isinstance(e, kind)]


# --- claude ---------------------------------------------------------------------------------


def test_claude_successful_run_gives_events_and_summary():
    parser = ClaudeStreamParser()
    events = feed_all(parser, lines(CLAUDE_OK))
    assert events[0] == SessionStarted(SID, "claude-sonnet-4-5-20250929")
    assert [e.text for e in of(events, Activity)] == [
        "thinking: Let me read the file.",
        "Read: /home/dev/proj/src/app.py",
        "I fixed it and the tests pass.",
    ]
    # msg_01A's repeated usage counts once; the result's totals then replace the running sum.
    in_a = 4 + 5339 + 11997
    in_b = 7 + 800 + 17336
    assert of(events, Usage) == [
        Usage(in_a, 3, None, 11997, 5339),
        Usage(in_a + in_b, 123, None, 11997 + 17336, 5339 + 800),
        Usage(11 + 6139 + 29333, 250, 0.0421, 29333, 6139),
    ]
    assert of(events, FinalAnswer) == [FinalAnswer(ANSWER)]
    assert events[-1] == FinalAnswer(ANSWER)
    s = parser.summary
    assert (s.session_id, s.model, s.turns, s.tool_calls) == (SID, "claude-sonnet-4-5-20250929", 3, 1)
    assert (s.tokens_in, s.tokens_out, s.tokens_cached, s.cost_usd) == (35483, 250, 29333, 0.0421)
    assert s.final_answer == ANSWER and s.error is None and not s.rate_limited
    assert s.outcome is Outcome.ANSWERED
    assert s.activity == "I fixed it and the tests pass."
    assert s.lines == len(CLAUDE_OK) and s.plain_lines == 0


def test_claude_turns_are_counted_while_running():
    parser = ClaudeStreamParser()
    feed_all(parser, CLAUDE_OK[:5])
    assert parser.summary.turns == 2  # msg_01A and msg_01B
    assert parser.summary.final_answer is None and parser.summary.outcome is Outcome.INCOMPLETE
    assert parser.summary.last_message == ANSWER


def test_claude_legacy_cost_field_is_read():
    result = dict(CLAUDE_RESULT)
    del result["total_cost_usd"]
    result["cost_usd"] = 0.5
    _, summary = parse_stream("claude", lines([CLAUDE_INIT, result]))
    assert summary.cost_usd == 0.5


def test_claude_cost_without_usage_still_updates():
    result = {k: v for k, v in CLAUDE_RESULT.items() if k != "usage"}
    parser = ClaudeStreamParser()
    feed_all(parser, [CLAUDE_OK[1], result])
    assert parser.summary.cost_usd == 0.0421
    assert parser.summary.tokens_in == 4 + 5339 + 11997  # running sum kept


def test_claude_error_subtype_is_a_failure_without_answer():
    result = {"type": "result", "subtype": "error_max_turns", "is_error": True, "duration_ms": 100,
              "num_turns": 11, "session_id": SID, "total_cost_usd": 0.3,
              "usage": {"input_tokens": 10, "output_tokens": 5}}
    events, summary = parse_stream("claude", lines([CLAUDE_INIT, *CLAUDE_OK[1:5], result]))
    assert of(events, RunError) == [RunError("error_max_turns", False)]
    assert not of(events, FinalAnswer)
    assert summary.final_answer is None and summary.error == "error_max_turns"
    assert summary.turns == 11 and summary.outcome is Outcome.FAILED
    assert summary.last_message == ANSWER  # partial text survives for the attempt record


def test_claude_error_subtype_with_errors_list():
    result = {"type": "result", "subtype": "error_during_execution", "is_error": True,
              "errors": ["tool crashed", 7, "disk full"]}
    events, summary = parse_stream("claude", lines([result]))
    assert summary.error == "error_during_execution: tool crashed; disk full"


@pytest.mark.parametrize("text, quota", [
    ('API Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}', False),
    ("API Error: Request rejected (429) \u00b7 Number of request tokens has exceeded your per-minute rate limit", False),
    ("Credit balance is too low", True),
])
def test_claude_rate_limit_result(text, quota):
    result = {"type": "result", "subtype": "success", "is_error": True, "result": text, "session_id": SID,
              "total_cost_usd": 0, "num_turns": 1}
    events, summary = parse_stream("claude", lines([CLAUDE_INIT, result]))
    assert of(events, RunError) == [RunError(text, True, quota)]
    assert summary.rate_limited and summary.quota is quota and summary.final_answer is None
    assert summary.outcome is Outcome.RATE_LIMITED


def test_claude_usage_limit_with_its_reset_time(monkeypatch):
    reset = int(time.time()) + 3600
    text = f"Claude AI usage limit reached|{reset}"
    result = {"type": "result", "subtype": "success", "is_error": True, "result": text, "api_error_status": 429}
    events, summary = parse_stream("claude", lines([CLAUDE_INIT, result]))
    assert of(events, RunError) == [RunError(text, True, True, float(reset))]
    assert summary.quota and summary.resets_at == reset and summary.api_error_status == 429


def test_claude_plain_api_error_is_not_a_rate_limit():
    result = {"type": "result", "subtype": "success", "is_error": True,
              "result": "API Error: 500 Internal server error"}
    _, summary = parse_stream("claude", lines([result]))
    assert summary.outcome is Outcome.FAILED and not summary.rate_limited


def test_claude_rate_limit_signals_outside_the_result():
    parser = ClaudeStreamParser()
    feed(parser, json.dumps({"type": "rate_limit_event", "rate_limit_info": {"status": "allowed"}}))
    assert not parser.summary.rate_limited
    feed(parser, json.dumps({"type": "rate_limit_event", "rate_limit_info": {"status": "rejected"}}))
    assert parser.summary.rate_limited and parser.summary.outcome is Outcome.RATE_LIMITED
    parser = ClaudeStreamParser()
    feed(parser, json.dumps(claude_assistant("m", [{"type": "text", "text": "limit hit"}], error="rate_limit")))
    assert parser.summary.rate_limited


def test_claude_stream_without_result_is_incomplete():
    events, summary = parse_stream("claude", lines(CLAUDE_OK[:-1]))
    assert not of(events, FinalAnswer)
    assert summary.final_answer is None and summary.outcome is Outcome.INCOMPLETE


def test_claude_success_without_result_text_is_not_an_answer():
    result = {k: v for k, v in CLAUDE_RESULT.items() if k != "result"}
    _, summary = parse_stream("claude", lines([CLAUDE_INIT, result]))
    assert summary.final_answer is None


def test_claude_empty_result_text_is_an_answer():
    _, summary = parse_stream("claude", lines([{**CLAUDE_RESULT, "result": ""}]))
    assert summary.final_answer == "" and summary.outcome is Outcome.ANSWERED


def test_claude_session_from_result_when_init_missing():
    events, summary = parse_stream("claude", lines([CLAUDE_RESULT]))
    assert events[0] == SessionStarted(SID, None)
    assert summary.session_id == SID


def test_claude_same_session_is_announced_once():
    events, _ = parse_stream("claude", lines(CLAUDE_OK))
    assert len(of(events, SessionStarted)) == 1


def test_claude_repeated_identical_activity_is_not_repeated():
    block = [{"type": "text", "text": "same"}]
    events, _ = parse_stream("claude", lines([claude_assistant("a", block), claude_assistant("b", block)]))
    assert of(events, Activity) == [Activity("same")]


@pytest.mark.parametrize(("name", "args", "shown"), [
    ("Bash", {"command": "pytest -q\n  tests/core", "description": "Run tests"}, "Bash: pytest -q tests/core"),
    ("Grep", {"pattern": "def load", "path": "src"}, "Grep: def load"),
    ("Glob", {"pattern": "**/*.py"}, "Glob: **/*.py"),
    ("WebFetch", {"url": "https://example.com", "prompt": "summarise"}, "WebFetch: https://example.com"),
    ("TodoWrite", {"todos": [{"content": "a"}, {"content": "b"}]}, "TodoWrite: 2 items"),
    ("mcp__db__query", {"sql": "select 1"}, "mcp__db__query: select 1"),
    ("ExitPlanMode", {}, "ExitPlanMode"),
    ("Weird", "not a dict", "Weird"),
    ("Weird", {"n": 5, "flag": True}, "Weird"),
])
def test_tool_call_summaries(name, args, shown):
    assert summarise_tool_call(name, args) == shown
    parser = ClaudeStreamParser()
    feed(parser, json.dumps(claude_assistant("m", [{"type": "tool_use", "id": "t", "name": name, "input": args}])))
    assert parser.summary.activity == shown


def test_activity_is_one_short_sanitised_line():
    evil = "cat \x1b]52;c;aGk=\x07 \u202egnp.exe\r\n" + "x" * 1000
    parser = ClaudeStreamParser()
    events = feed(parser, json.dumps(claude_assistant("m", [
        {"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": evil}}])))
    (activity,) = of(events, Activity)
    assert is_clean(activity.text) and "\n" not in activity.text and "\t" not in activity.text
    assert len(activity.text) <= ACTIVITY_MAX and activity.text.endswith("\u2026")
    assert activity.text.startswith("Bash: cat \\x1b]52;c;aGk=\\x07 \\u202egnp.exe x")


def test_tool_calls_are_counted_once_per_id():
    use = {"type": "tool_use", "id": "toolu_9", "name": "Read", "input": {"file_path": "a"}}
    _, summary = parse_stream("claude", lines([claude_assistant("m1", [use]), claude_assistant("m1", [use]),
                                               claude_assistant("m2", [{**use, "id": "toolu_10"}])]))
    assert summary.tool_calls == 2


# --- codex ----------------------------------------------------------------------------------


def test_codex_successful_run_gives_events_and_summary():
    parser = CodexStreamParser()
    events = feed_all(parser, lines(CODEX_OK))
    assert events[0] == SessionStarted(TID, None)
    assert [e.text for e in of(events, Activity)] == [
        "thinking: I'll search for load first.",
        '$ rg -n "def load" src',
        "edit: update /repo/src/app.py",
        "todo: 1/2 done, next: Run tests",
        "Tests pass.",
    ]
    assert of(events, Usage) == [Usage(24763, 122, None, 24448)]
    assert events[-1] == FinalAnswer(CODEX_ANSWER)
    s = parser.summary
    assert (s.session_id, s.turns, s.tool_calls) == (TID, 1, 2)
    assert (s.tokens_in, s.tokens_out, s.tokens_cached, s.cost_usd) == (24763, 122, 24448, None)
    assert s.final_answer == CODEX_ANSWER and s.outcome is Outcome.ANSWERED


def test_codex_final_answer_is_the_last_agent_message():
    early = {"type": "item.completed", "item": {"id": "m0", "type": "agent_message", "text": "Looking now."}}
    objs = [*CODEX_OK[:2], early, *CODEX_OK[2:]]
    _, summary = parse_stream("codex", lines(objs))
    assert summary.final_answer == CODEX_ANSWER


def test_codex_usage_is_thread_totals_not_summed():
    more = [{"type": "turn.started"},
            {"type": "item.completed", "item": {"id": "item_9", "type": "agent_message", "text": "again"}},
            {"type": "turn.completed", "usage": {"input_tokens": 30000, "cached_input_tokens": 29000,
                                                 "output_tokens": 200}}]
    _, summary = parse_stream("codex", lines(CODEX_OK + more))
    assert (summary.tokens_in, summary.tokens_out, summary.tokens_cached) == (30000, 200, 29000)
    assert summary.turns == 2 and summary.final_answer == "again"


def test_codex_turn_failed():
    objs = [*CODEX_OK[:5], {"type": "turn.failed", "error": {"message": "sandbox denied the command"}}]
    events, summary = parse_stream("codex", lines(objs))
    assert of(events, RunError) == [RunError("sandbox denied the command", False)]
    assert summary.final_answer is None and summary.outcome is Outcome.FAILED


def test_codex_rate_limit_error_then_turn_failed():
    message = "exceeded retry limit, last status: 429 Too Many Requests"
    objs = [*CODEX_OK[:2], {"type": "error", "message": message}, {"type": "turn.failed", "error": {"message": message}}]
    events, summary = parse_stream("codex", lines(objs))
    assert of(events, RunError) == [RunError(message, True), RunError(message, True)]
    assert summary.outcome is Outcome.RATE_LIMITED


def test_codex_retried_error_then_completed_turn_is_answered():
    message = "Reconnecting... 1/5 (exceeded retry limit, last status: 429 Too Many Requests)"
    objs = [*CODEX_OK[:2], {"type": "error", "message": message}, *CODEX_OK[2:]]
    events, summary = parse_stream("codex", lines(objs))
    # Codex retrying the API is not an error of the run: an API retry, counted, then the answer.
    assert of(events, ApiRetry) == [ApiRetry(1, 5, 429, None, message)]
    assert of(events, ApiRetry)[0].describe() == "API 429, retry 1/5"
    assert summary.outcome is Outcome.ANSWERED and summary.error is None and summary.api_retries == 1


def test_codex_stream_without_turn_completed_is_incomplete():
    _, summary = parse_stream("codex", lines(CODEX_OK[:-1]))
    assert summary.final_answer is None and summary.outcome is Outcome.INCOMPLETE
    assert summary.last_message == CODEX_ANSWER


def test_codex_turn_completed_without_message_is_not_an_answer():
    objs = [*CODEX_OK[:5], CODEX_OK[-1]]
    _, summary = parse_stream("codex", lines(objs))
    assert summary.final_answer is None and summary.tokens_in == 24763


def test_codex_item_error_is_a_warning_not_a_failure():
    objs = [*CODEX_OK[:2], {"type": "item.completed", "item": {"id": "e", "type": "error",
                                                               "message": "model fell back to default"}}]
    events, summary = parse_stream("codex", lines(objs))
    assert summary.activity == "warning: model fell back to default"
    assert summary.error is None and not of(events, RunError)


@pytest.mark.parametrize(("item", "shown"), [
    ({"type": "command_execution", "command": ["bash", "-lc", "ls -la"]}, "$ ls -la"),
    ({"type": "command_execution", "command": ["git", "status"]}, "$ git status"),
    ({"type": "command_execution", "command": "bash -lc 'unterminated"}, "$ bash -lc 'unterminated"),
    ({"type": "command_execution", "command": "/bin/zsh -c 'make test'"}, "$ make test"),
    ({"type": "mcp_tool_call", "server": "fs", "tool": "read_file", "arguments": {"path": "/etc/hosts"}},
     "fs.read_file: /etc/hosts"),
    ({"type": "web_search", "query": "textual datatable"}, "search: textual datatable"),
    ({"type": "file_change", "changes": [{"path": f"f{i}", "kind": "add"} for i in range(5)]},
     "edit: add f0, add f1, add f2 (+2)"),
])
def test_codex_item_activities(item, shown):
    parser = CodexStreamParser()
    feed(parser, json.dumps({"type": "item.started", "item": {"id": "x", **item}}))
    assert parser.summary.activity == shown


# --- rate limit classification ------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Error: 429 Too Many Requests", "status=429", "HTTP 429:", "rate limit exceeded", "Rate-Limit hit",
    "rate_limit_error", "You've hit your usage limit", "Quota exceeded for model", "too many requests",
    b"API Error: 429",
])
def test_mentions_rate_limit_positive(text):
    assert mentions_rate_limit(text)


@pytest.mark.parametrize("text", [
    "", "Error: 500 internal", "read 4290 lines", "version 1.429.0", "id a429b", "connection reset", None, 429,
])
def test_mentions_rate_limit_negative(text):
    assert not mentions_rate_limit(text)


def test_stderr_rate_limit_marks_the_run():
    parser = make_parser("codex")
    assert parser.feed_stderr(b"2025-01-01T00:00:00Z INFO starting\n") == []
    assert not parser.summary.rate_limited
    events = parser.feed_stderr("ERROR: exceeded retry limit, last status: 429 Too Many Requests\n")
    assert events == [RunError("ERROR: exceeded retry limit, last status: 429 Too Many Requests", True)]
    assert parser.summary.outcome is Outcome.RATE_LIMITED


def test_stderr_rate_limit_does_not_override_an_answer():
    parser = make_parser("claude")
    parser.feed_stderr("warning: approaching usage limit")
    feed_all(parser, lines(CLAUDE_OK))
    assert parser.summary.outcome is Outcome.ANSWERED


# --- vendors --------------------------------------------------------------------------------


def test_make_parser_takes_the_stream_format_not_the_vendor_name():
    assert isinstance(make_parser("claude"), ClaudeStreamParser)
    assert isinstance(make_parser("codex"), CodexStreamParser)
    demo = make_parser("claude", vendor="demo")
    assert isinstance(demo, ClaudeStreamParser)
    feed_all(demo, lines(CLAUDE_OK))
    assert demo.summary.vendor == "demo" and demo.summary.final_answer == ANSWER
    # A vendor called codex-ws that speaks codex's format is parsed as codex (issue: it was claude).
    custom = make_parser("codex", vendor="codex-ws")
    feed_all(custom, lines(CODEX_OK))
    assert custom.summary.vendor == "codex-ws" and custom.summary.outcome is Outcome.ANSWERED
    with pytest.raises(ValueError, match="unknown stream format"):
        make_parser("gemini")


# --- hostile input --------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", ["claude", "codex"])
def test_plain_lines_are_kept(vendor):
    parser = make_parser(vendor)
    assert feed(parser, "Loading config...\n") == [PlainOutput("Loading config...")]
    assert feed(parser, "[1, 2, 3]") == [PlainOutput("[1, 2, 3]")]
    assert feed(parser, '"just a string"') == [PlainOutput('"just a string"')]
    assert feed(parser, "{not json") == [PlainOutput("{not json")]
    assert feed(parser, "") == [] and feed(parser, "  \r\n") == []
    assert parser.summary.plain_lines == 4 and parser.summary.lines == 6


@pytest.mark.parametrize("vendor", ["claude", "codex"])
def test_invalid_utf8_is_replaced_not_fatal(vendor):
    parser = make_parser(vendor)
    assert feed(parser, b"\xff\xfe garbage \xc3\n") == [PlainOutput("\ufffd\ufffd garbage \ufffd")]
    # Invalid UTF-8 inside a JSON string still parses; the text carries U+FFFD.
    raw = json.dumps({**CLAUDE_RESULT, "result": "PLACEHOLDER"}).encode().replace(b"PLACEHOLDER", b"ok \xff")
    raw_codex = json.dumps({"type": "thread.started", "thread_id": "PLACEHOLDER"}).encode().replace(
        b"PLACEHOLDER", b"t\xff")
    feed(parser, raw if vendor == "claude" else raw_codex)
    if vendor == "claude":
        assert parser.summary.final_answer == "ok \ufffd"
    else:
        assert parser.summary.session_id == "t\ufffd"


@pytest.mark.parametrize("vendor", ["claude", "codex"])
def test_huge_plain_line_becomes_a_capped_event(vendor):
    parser = make_parser(vendor)
    (event,) = feed(parser, b"x" * (20 << 20) + b"\n")
    assert isinstance(event, PlainOutput) and len(event.text) == PLAIN_MAX


def test_huge_json_lines_parse_and_keep_the_full_answer():
    big = "y" * (20 << 20)
    parser = ClaudeStreamParser()
    feed(parser, json.dumps({"type": "user", "message": {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t", "content": big}]}}))
    feed(parser, json.dumps({**CLAUDE_RESULT, "result": big}))
    assert parser.summary.final_answer == big


def test_lines_over_the_json_cap_are_not_parsed():
    parser = ClaudeStreamParser(max_json_line=1000)
    (event,) = feed(parser, json.dumps({**CLAUDE_RESULT, "result": "z" * 5000}))
    assert isinstance(event, PlainOutput) and len(event.text) <= PLAIN_MAX
    assert parser.summary.final_answer is None


@pytest.mark.parametrize("vendor", ["claude", "codex"])
def test_deeply_nested_json_is_plain_output(vendor):
    parser = make_parser(vendor)
    line = '{"a":' * 200_000 + "1" + "}" * 200_000
    (event,) = feed(parser, line)
    assert isinstance(event, PlainOutput)
    nested = {"type": "assistant", "message": {"content": [{"type": "text", "text": "ok", "deep": []}]}}
    inner = nested["message"]["content"][0]["deep"]
    for _ in range(500):  # deep but within json's limits: parsed, ignored
        inner.append([])
        inner = inner[0]
    feed(parser, json.dumps(nested))


@pytest.mark.parametrize("usage", [
    "lots", 12, None, [1, 2], {"input_tokens": "100", "output_tokens": "5"},
    {"input_tokens": -5, "output_tokens": -1}, {"input_tokens": True, "output_tokens": False},
    {"input_tokens": 1.5, "output_tokens": float("nan")}, {"input_tokens": 10**400, "output_tokens": 1e308},
    {"input_tokens": {"nested": 1}, "cache_read_input_tokens": [3]},
])
def test_claude_wrong_usage_types_are_ignored(usage):
    parser = ClaudeStreamParser()
    events = feed(parser, json.dumps(claude_assistant("m", [{"type": "text", "text": "hi"}], usage)))
    assert not of(events, Usage)
    feed(parser, json.dumps({**CLAUDE_RESULT, "usage": usage}))
    s = parser.summary
    assert (s.tokens_in, s.tokens_out) == (0, 0) and s.final_answer == ANSWER


@pytest.mark.parametrize("cost", ["0.5", -1, True, None, [], 10**400])
def test_claude_wrong_cost_types_are_ignored(cost):
    _, summary = parse_stream("claude", [json.dumps({**CLAUDE_RESULT, "total_cost_usd": cost})])
    assert summary.cost_usd is None


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_json_numbers_are_ignored(literal):
    line = json.dumps({**CLAUDE_RESULT, "total_cost_usd": 0}).replace('"total_cost_usd": 0', f'"total_cost_usd": {literal}')
    _, summary = parse_stream("claude", [line])
    assert summary.cost_usd is None and summary.final_answer == ANSWER


def test_codex_wrong_usage_types_are_ignored():
    parser = CodexStreamParser()
    for usage in ["x", {"input_tokens": "1", "output_tokens": -2}, {"input_tokens": None}]:
        feed(parser, json.dumps({"type": "turn.completed", "usage": usage}))
    assert (parser.summary.tokens_in, parser.summary.tokens_out) == (0, 0)


CLAUDE_GARBAGE = [
    {"type": "system"}, {"type": "system", "subtype": "init", "session_id": 5, "model": ["x"]},
    {"type": "assistant"}, {"type": "assistant", "message": "text"}, {"type": "assistant", "message": {"content": "x"}},
    {"type": "assistant", "message": {"id": ["unhashable"], "content": [None, 1, "s", {"type": "tool_use"},
                                                                         {"type": "text", "text": 5},
                                                                         {"type": "thinking", "thinking": None}]}},
    {"type": "user", "message": {"content": [{"type": "tool_result", "content": {"weird": True}}]}},
    {"type": "result"}, {"type": "result", "subtype": 3, "is_error": "yes", "result": {"a": 1}, "num_turns": -1},
    {"type": "result", "errors": "not a list", "subtype": "error_x"},
    {"type": ["list"]}, {"type": None}, {"type": {"a": 1}}, {"no_type": 1}, {"type": "stream_event", "event": {}},
    {"type": "rate_limit_event", "rate_limit_info": "rejected"},
]
CODEX_GARBAGE = [
    {"type": "thread.started"}, {"type": "thread.started", "thread_id": {"id": 1}},
    {"type": "item.started"}, {"type": "item.completed", "item": "x"}, {"type": "item.updated", "item": {"type": 5}},
    {"type": "item.completed", "item": {"type": "agent_message", "text": None}},
    {"type": "item.completed", "item": {"type": "command_execution", "command": {"x": 1}}},
    {"type": "item.completed", "item": {"type": "command_execution", "command": ["bash", 1]}},
    {"type": "item.completed", "item": {"type": "file_change", "changes": "all"}},
    {"type": "item.completed", "item": {"type": "file_change", "changes": [None, {"path": 3}]}},
    {"type": "item.completed", "item": {"type": "mcp_tool_call", "server": 1, "arguments": "x"}},
    {"type": "item.completed", "item": {"type": "todo_list", "items": [None, "a", {"text": 5}]}},
    {"type": "item.completed", "item": {"type": "web_search", "query": 7}},
    {"type": "turn.completed", "usage": None}, {"type": "turn.failed"}, {"type": "turn.failed", "error": "boom"},
    {"type": "error"}, {"type": "error", "message": {"m": 1}}, {"type": "turn.started", "extra": [1]},
]


def test_claude_garbage_shapes_never_crash():
    parser = ClaudeStreamParser()
    feed_all(parser, CLAUDE_GARBAGE)
    s = parser.summary
    assert s.session_id is None and s.final_answer is None and s.tokens_in == 0
    assert s.error is not None  # "is_error": "yes" is not True, but subtype error_x is an error


def test_codex_garbage_shapes_never_crash():
    parser = CodexStreamParser()
    feed_all(parser, CODEX_GARBAGE)
    assert parser.summary.session_id is None and parser.summary.final_answer is None


# --- property tests ----------------------------------------------------------------------------

TYPES = ["system", "init", "assistant", "user", "result", "success", "error_max_turns", "text", "thinking",
         "tool_use", "tool_result", "thread.started", "turn.started", "turn.completed", "turn.failed",
         "item.started", "item.updated", "item.completed", "agent_message", "reasoning", "command_execution",
         "file_change", "mcp_tool_call", "web_search", "todo_list", "error", "rate_limit_event", "rejected"]

numbers = st.one_of(st.integers(min_value=-(10**20), max_value=10**20), st.floats(), st.booleans(),
                    st.sampled_from(["12", "", "1e3"]), st.none())
scalars = st.one_of(numbers, st.text(max_size=30), st.sampled_from(TYPES),
                    st.sampled_from(["bash -lc 'ls'", "x\x1b[2J\u202e\n", "429 Too Many Requests"]))
junk = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
                    max_leaves=6)


def shaped(required: dict, optional: dict):
    """A dict with the real key names, each value either well-typed or junk."""
    return st.fixed_dictionaries(required, optional={key: value | junk for key, value in optional.items()})


token_keys = ["input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
              "cached_input_tokens"]
usage_s = shaped({}, {key: numbers for key in token_keys})
block_s = shaped({"type": st.sampled_from(["text", "thinking", "tool_use", "tool_result"]) | junk},
                 {"text": scalars, "thinking": scalars, "name": scalars, "id": scalars,
                  "input": st.dictionaries(st.sampled_from(["command", "file_path", "pattern", "todos"]), junk)})
message_s = shaped({}, {"id": st.sampled_from(["m1", "m2"]), "model": scalars, "usage": usage_s,
                        "content": st.lists(block_s | junk, max_size=4)})
claude_event_s = shaped(
    {"type": st.sampled_from(["system", "assistant", "user", "result", "rate_limit_event"]) | junk},
    {"subtype": st.sampled_from(["init", "success", "error_max_turns"]), "session_id": scalars, "model": scalars,
     "message": message_s, "result": scalars, "is_error": st.booleans(), "total_cost_usd": numbers,
     "cost_usd": numbers, "usage": usage_s, "num_turns": numbers, "errors": st.lists(scalars, max_size=3),
     "error": st.just("rate_limit"), "rate_limit_info": shaped({}, {"status": st.just("rejected")})},
)
item_s = shaped(
    {"type": st.sampled_from(["agent_message", "reasoning", "command_execution", "file_change", "mcp_tool_call",
                              "web_search", "todo_list", "error"]) | junk},
    {"id": st.sampled_from(["item_0", "item_1"]), "text": scalars, "command": scalars | st.lists(scalars, max_size=3),
     "changes": st.lists(shaped({}, {"path": scalars, "kind": scalars}), max_size=4),
     "items": st.lists(shaped({}, {"text": scalars, "completed": st.booleans()}), max_size=4),
     "server": scalars, "tool": scalars, "arguments": junk, "query": scalars, "message": scalars},
)
codex_event_s = shaped(
    {"type": st.sampled_from(["thread.started", "turn.started", "item.started", "item.updated", "item.completed",
                              "turn.completed", "turn.failed", "error"]) | junk},
    {"thread_id": scalars, "item": item_s, "usage": usage_s, "error": shaped({}, {"message": scalars}),
     "message": scalars},
)


def check_summary(parser) -> None:
    s = parser.summary
    assert s.tokens_in >= 0 and s.tokens_out >= 0 and s.tokens_cached >= 0 and s.turns >= 0
    assert s.cost_usd is None or (math.isfinite(s.cost_usd) and s.cost_usd >= 0)
    assert s.activity is None or (is_clean(s.activity) and "\n" not in s.activity and len(s.activity) <= ACTIVITY_MAX)
    assert s.final_answer is None or isinstance(s.final_answer, str)
    assert isinstance(s.outcome, Outcome)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.tuples(st.just("claude"), st.lists(claude_event_s, max_size=8)),
                 st.tuples(st.just("codex"), st.lists(codex_event_s, max_size=8))))
def test_random_vendor_shaped_events_never_raise(case):
    vendor, objs = case
    parser = make_parser(vendor)
    for obj in objs:
        for event in feed(parser, json.dumps(obj)):
            if isinstance(event, Activity):
                assert is_clean(event.text) and len(event.text) <= ACTIVITY_MAX
            if isinstance(event, Usage):
                assert event.tokens_in >= 0 and event.tokens_out >= 0
    check_summary(parser)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["claude", "codex"]), st.lists(junk, max_size=6))
def test_random_json_values_never_raise(vendor, values):
    parser = make_parser(vendor)
    for value in values:
        feed(parser, json.dumps(value))
    check_summary(parser)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["claude", "codex"]), st.lists(st.binary(max_size=200) | st.text(max_size=200), max_size=8))
def test_random_lines_never_raise(vendor, raw_lines):
    parser = make_parser(vendor)
    for line in raw_lines:
        feed(parser, line)
        parser.feed_stderr(line)
    check_summary(parser)
