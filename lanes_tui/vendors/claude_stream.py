"""`claude -p --output-format stream-json --verbose --include-partial-messages` (and the demo agent).

What the lines say (Claude Code 2.1.197, tests/realcli):

* `system/init`: session id and model; `system/api_retry`: Claude Code retries an
  API error itself (attempt, max_retries, retry_delay_ms, error_status);
* `stream_event` (with --include-partial-messages): the API's own events. Only
  `message_start` (input and cache tokens) and `message_delta` (the message's
  final output tokens) are read: they make the running totals right while the run
  streams, where `assistant` lines repeat the message-start figure (output 1);
* `assistant`: content blocks (text, thinking, tool_use), the same message id
  repeated once per block;
* `result`: the run's totals (they replace the running sums), the answer or
  the error (`is_error`, `api_error_status`), and `permission_denials`, the tool
  calls Claude Code's permission rules refused. A run with denials still ends
  `subtype: success`: the supervisor, not this parser, decides what that means;
* `user`: tool results. A command Claude Code's sandbox (the edit preset) kept from
  writing outside the tree fails with "Read-only file system": counted as denied too.
"""

from __future__ import annotations

from typing import Any

from lanes_tui.vendors.stream_base import (
    MAX_JSON_LINE,
    ApiRetry,
    StreamEvent,
    StreamParser,
    _count,
    _dict,
    _last_line,
    _list,
    _money,
    _text,
    summarise_tool_call,
)

_Tokens = tuple[int, int, int, int]  # fresh input, output, cache reads, cache writes
SANDBOX_REFUSAL = "Read-only file system"
_TOOLS_KEPT = 512  # tool calls remembered to name a refused one; older ones are long done


class ClaudeStreamParser(StreamParser):
    vendor = "claude"

    def __init__(self, max_json_line: int = MAX_JSON_LINE) -> None:
        super().__init__(max_json_line)
        # message id -> its tokens: Claude repeats one message's usage on each of its blocks.
        self._message_usage: dict[str, _Tokens] = {}
        self._current: dict[object, str] = {}  # parent_tool_use_id -> id of the message streaming now
        self._anonymous = 0
        self._result_seen = False
        self._tool_uses: dict[str, tuple[str, object]] = {}  # tool_use id -> (name, input)

    def _handle(self, obj: dict[str, Any], out: list[StreamEvent]) -> None:
        kind = obj.get("type")
        if kind == "stream_event":
            self._stream_event(obj, out)
        elif kind == "system":
            subtype = obj.get("subtype")
            if subtype == "init":
                self._set_session(obj.get("session_id"), obj.get("model"), out)
            elif subtype == "api_retry":
                self._api_retry(obj, out)
        elif kind == "assistant":
            self._assistant(obj, out)
        elif kind == "user":
            self._tool_results(obj, out)
        elif kind == "result":
            self._result(obj, out)
        elif kind == "rate_limit_event":
            # Newer CLIs report limit status as its own event; only a rejection matters.
            info = _dict(obj.get("rate_limit_info"))
            if info.get("status") == "rejected":
                self._rate_limited = True
        # Unknown types (compact boundaries, status...) are ignored.

    def _api_retry(self, obj: dict[str, Any], out: list[StreamEvent]) -> None:
        delay = _money(obj.get("retry_delay_ms"))
        self._retry(ApiRetry(
            attempt=_count(obj.get("attempt")) or self._api_retries + 1,
            max_retries=_count(obj.get("max_retries")),
            status=_count(obj.get("error_status")),
            delay_seconds=None if delay is None else delay / 1000,
            error=_text(obj.get("error")) or "",
        ), out)

    def _stream_event(self, obj: dict[str, Any], out: list[StreamEvent]) -> None:
        if self._result_seen:
            return
        event = _dict(obj.get("event"))
        kind = event.get("type")
        parent = obj.get("parent_tool_use_id")
        parent = parent if isinstance(parent, str) else None
        if kind == "message_start":
            message = _dict(event.get("message"))
            message_id = _text(message.get("id"))
            if message_id is None:
                return
            self._current[parent] = message_id
            self._count_turn(message_id)
            tokens = _claude_tokens(_dict(message.get("usage")))
            if tokens is not None:
                self._update_message(message_id, tokens, out)
        elif kind == "message_delta":
            message_id = self._current.get(parent)
            tokens = _claude_tokens(_dict(event.get("usage")))
            if message_id is None or tokens is None:
                return
            known = self._message_usage.get(message_id, (0, 0, 0, 0))
            # The delta carries the final output count; input figures only in newer API versions.
            merged = tuple(max(new, old) for new, old in zip(tokens, known))
            self._update_message(message_id, merged, out)  # type: ignore[arg-type]

    def _count_turn(self, message_id: str) -> None:
        # One API response per message id: a running turn count until the result states num_turns.
        if message_id not in self._message_usage:
            self._message_usage[message_id] = (0, 0, 0, 0)
            if not self._result_seen:
                self._turns += 1

    def _update_message(self, message_id: str, tokens: _Tokens, out: list[StreamEvent]) -> None:
        self._message_usage[message_id] = tokens
        fresh, output, read, write = (sum(values) for values in zip(*self._message_usage.values()))
        self._set_usage((fresh + read + write, output, read, write, 0), None, out)

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
        self._count_turn(message_id)
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
                tool_id = _text(block.get("id"))
                if tool_id:
                    if len(self._tool_uses) >= _TOOLS_KEPT:
                        self._tool_uses.pop(next(iter(self._tool_uses)))
                    self._tool_uses[tool_id] = (name, block.get("input"))
        usage = _dict(message.get("usage"))
        if usage and not self._result_seen:
            tokens = _claude_tokens(usage)
            if tokens is not None:
                known = self._message_usage.get(message_id, (0, 0, 0, 0))
                # Never below what a message_delta already said for this message.
                self._update_message(message_id, tuple(max(n, o) for n, o in zip(tokens, known)), out)  # type: ignore[arg-type]

    def _tool_results(self, obj: dict[str, Any], out: list[StreamEvent]) -> None:
        for block in _list(_dict(obj.get("message")).get("content")):
            block = _dict(block)
            if block.get("type") != "tool_result" or block.get("is_error") is not True:
                continue
            content = block.get("content")
            text = content if isinstance(content, str) else " ".join(
                _text(_dict(part).get("text")) or "" for part in _list(content))
            if SANDBOX_REFUSAL in text[:4096]:
                name, arguments = self._tool_uses.get(_text(block.get("tool_use_id")) or "", ("tool", None))
                self._deny(name, arguments, out)

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
            fresh, output, read, write = tokens
            self._set_usage((fresh + read + write, output, read, write, 0), cost, out)
        elif cost is not None:
            self._set_usage(self._tokens, cost, out)
        for denial in _list(obj.get("permission_denials")):
            denial = _dict(denial)
            self._deny(_text(denial.get("tool_name")) or "tool", denial.get("tool_input"), out)
        status = _count(obj.get("api_error_status"))
        if status is not None:
            self._api_error_status = status
        subtype = _text(obj.get("subtype")) or ""
        result = obj.get("result")
        failed = obj.get("is_error") is True or subtype.startswith("error")
        if failed:
            errors = [e for e in _list(obj.get("errors")) if isinstance(e, str)]
            text = _text(result) or "; ".join(errors) or subtype or "error"
            if subtype.startswith("error") and not text.startswith(subtype):
                text = f"{subtype}: {text}"
            self._fail(text, "rate" in subtype or status == 429, out)
        elif isinstance(result, str):
            self._answer(result, out)
        # A success result without a result text is not an answer: final stays None.


def _claude_tokens(usage: dict[str, Any]) -> _Tokens | None:
    """(fresh input, output, cache reads, cache writes), or None if nothing usable."""
    fresh = _count(usage.get("input_tokens"))
    output = _count(usage.get("output_tokens"))
    created = _count(usage.get("cache_creation_input_tokens")) or 0
    read = _count(usage.get("cache_read_input_tokens")) or 0
    if fresh is None and output is None and not created and not read:
        return None
    return fresh or 0, output or 0, read, created
