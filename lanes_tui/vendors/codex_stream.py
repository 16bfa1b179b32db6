"""`codex exec --json` JSONL events (codex-cli 0.171.0, tests/realcli).

thread.started, turn.started, item.* (agent_message, reasoning, command_execution,
file_change, mcp_tool_call, web_search, todo_list, error), turn.completed with the
thread's usage totals, turn.failed and error. An `error` "Reconnecting... 2/5" is
Codex retrying the API itself, not a failure.

Codex leaves commands its sandbox refused out of the --json stream altogether; with
`RUST_LOG=...,codex_sandboxing=warn` (the built-in vendor table sets it) it logs
each on stderr ("recorded sandbox violation: resource=filesystem ...
reason=read_only_file_system"), and a refused patch as "patch rejected: ...".
`feed_stderr` turns both into denials.
"""

from __future__ import annotations

import re
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
    _text,
    _unwrap_shell,
    summarise_tool_call,
)

_RECONNECTING = re.compile(r"Reconnecting\.\.\.\s*(\d+)/(\d+)")
_LAST_STATUS = re.compile(r"last status:\s*(\d{3})")
_FIELD = re.compile(r"\b(resource|reason|path|backend)=([^\s]+)")
_PATCH_REJECTED = re.compile(r"patch rejected:\s*([^;\n]{1,300})")


class CodexStreamParser(StreamParser):
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
            written = _count(usage.get("cache_write_input_tokens")) or 0
            reasoning = _count(usage.get("reasoning_output_tokens")) or 0
            if fresh is not None or output is not None:
                # Thread totals (input already includes cached): the latest replaces.
                self._set_usage((fresh or 0, output or 0, cached, written, reasoning), None, out)
            if self._turn_message is not None:
                self._answer(self._turn_message, out)
            else:
                # A turn that ended without any message has no answer to record.
                self._final = None
        elif kind == "turn.failed":
            message = _text(_dict(obj.get("error")).get("message")) or "turn failed"
            self._fail(message, False, out)
        elif kind == "error":
            message = _text(obj.get("message")) or _text(_dict(obj.get("error")).get("message")) or "error"
            retry = _RECONNECTING.match(message)
            if retry:  # Codex retrying the API itself; the turn may still complete
                status = _LAST_STATUS.search(message)
                self._retry(ApiRetry(int(retry.group(1)), int(retry.group(2)),
                                     int(status.group(1)) if status else None, None, message), out)
            else:
                self._fail(message, False, out)

    def _stderr(self, text: str, out: list[StreamEvent]) -> None:
        if "sandbox violation" in text:
            details = dict(_FIELD.findall(text))
            where = details.get("path", "unknown")
            target = f"{details.get('resource', 'resource')}: {details.get('reason', 'denied')}" + (
                f" ({where})" if where != "unknown" else "")
            self._deny("sandbox", {"path": target}, out)
        elif (rejected := _PATCH_REJECTED.search(text)) is not None:
            self._deny("apply_patch", {"path": rejected.group(1).strip()}, out)

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
            if item.get("status") == "declined":
                self._deny("command", {"command": _unwrap_shell(item.get("command"))}, out)
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


