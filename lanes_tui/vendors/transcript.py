"""A lossless, readable transcript of one attempt, built from the agent's stream lines.

The stream parsers (claude_stream, codex_stream) keep what supervision needs: one
activity line, totals, the answer. A person reading what an agent did needs more:
every assistant message whole, each tool call with its input and its result, edits
as diffs, API retries, denials and the final result. `TranscriptBuilder` turns the
same lines (from a live worker or an attempt log on disk) into `Entry` values; both
vendors' formats are told apart by their `type` fields, which do not overlap, so a
log needs no vendor to be read. A line that is not a JSON object is kept as it is
(stderr, a set-up's output).

Each entry is a head line and body lines; `folded` bodies (thinking, tool results,
a written file) are shown cut to FOLDED_LINES until the reader unfolds them. All
text here is raw agent output: `lines()` sanitises every line it returns.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from lanes_tui.core.sanitize import clean, one_line
from lanes_tui.vendors.stream_base import (
    _decode,
    _unwrap_shell,
    json_object,
    summarise_tool_call,
)

FOLDED_LINES = 3
LINE_MAX = 2000  # characters per shown line; longer lines are cut (the log keeps them)
BODY_MAX_LINES = 5000  # per entry; a 100,000-line tool result is cut, and says so

# Entry kinds, each with the mark its head line starts with.
MARKS = {"message": "\u25c6", "thinking": "\u2026", "tool": "\u2022", "result": "\u21b3", "edit": "\u270e",
         "retry": "\u21bb", "denied": "\u2717", "final": "\u2713", "error": "!", "session": "\u25b8",
         "usage": "\u00a4", "plain": " "}


@dataclass
class Entry:
    kind: str
    head: str
    body: list[str] = field(default_factory=list)
    folded: bool = False  # shown cut to FOLDED_LINES unless unfolded

    def lines(self, unfold: bool = False) -> list[str]:
        """Display lines, sanitised: the head with its mark, the body indented."""
        out = [f"{MARKS.get(self.kind, '-')} {one_line(self.head, LINE_MAX)}".rstrip()]
        body = self.body
        if self.folded and not unfold and len(body) > FOLDED_LINES:
            out.extend("    " + clean(line, LINE_MAX) for line in body[:FOLDED_LINES])
            out.append(f"    \u2026 {len(body) - FOLDED_LINES} more line(s) (z: unfold)")
        else:
            out.extend("    " + clean(line, LINE_MAX) for line in body)
        return out


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _body(text: str) -> list[str]:
    lines = text.rstrip("\n").split("\n") if text else []
    if len(lines) > BODY_MAX_LINES:
        return [*lines[:BODY_MAX_LINES], f"[{len(lines) - BODY_MAX_LINES} more line(s) not shown: the log has them]"]
    return lines


def _diff(path: str, old: str, new: str) -> list[str]:
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), f"a/{path}", f"b/{path}", lineterm="", n=2))
    return lines[2:] if len(lines) > 2 else ["(no change)"]  # the ---/+++ pair repeats the head


def _tool_result_text(content: object) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for part in _list(content):
        part = _dict(part)
        if part.get("type") == "text":
            parts.append(_str(part.get("text")))
        elif part.get("type"):
            parts.append(f"[{_str(part.get('type'))}]")
    return "\n".join(parts)


class TranscriptBuilder:
    """Feed stream lines (bytes or str, one per call); collect `entries`."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self._tools: dict[str, str] = {}  # tool_use id -> its head, to name a result

    def feed(self, line: bytes | str) -> list[Entry]:
        text = _decode(line)
        new: list[Entry] = []
        obj = json_object(text)
        if obj is None:
            if text.strip():
                new.append(Entry("plain", text))
        else:
            try:
                self._handle(obj, new)
            except Exception as exc:  # noqa: BLE001 - a transcript must never take the screen down
                new.append(Entry("error", f"unreadable event: {exc!r}"))
        self.entries.extend(new)
        return new

    def feed_all(self, lines: Iterable[bytes | str]) -> list[Entry]:
        new: list[Entry] = []
        for line in lines:
            new.extend(self.feed(line))
        return new

    def _handle(self, obj: dict[str, Any], out: list[Entry]) -> None:
        kind = obj.get("type")
        if kind == "system":
            self._claude_system(obj, out)
        elif kind == "assistant":
            self._claude_assistant(obj, out)
        elif kind == "user":
            self._claude_results(obj, out)
        elif kind == "result":
            self._claude_result(obj, out)
        elif kind == "thread.started":
            out.append(Entry("session", f"thread {_str(obj.get('thread_id'))}"))
        elif kind == "item.completed":
            self._codex_item(_dict(obj.get("item")), out)
        elif kind == "turn.completed":
            usage = _dict(obj.get("usage"))
            out.append(Entry("usage", f"turn done: {usage.get('input_tokens', 0)} tokens in, "
                                      f"{usage.get('output_tokens', 0)} out"))
        elif kind == "turn.failed":
            out.append(Entry("error", _str(_dict(obj.get("error")).get("message")) or "turn failed"))
        elif kind == "error":
            message = _str(obj.get("message")) or _str(_dict(obj.get("error")).get("message")) or "error"
            out.append(Entry("retry" if message.startswith("Reconnecting") else "error", message))
        # stream_event deltas repeat what the whole messages say; other types carry nothing to read.

    # -- Claude Code --------------------------------------------------------------------

    def _claude_system(self, obj: dict[str, Any], out: list[Entry]) -> None:
        subtype = obj.get("subtype")
        if subtype == "init":
            out.append(Entry("session", f"session {_str(obj.get('session_id'))}  model {_str(obj.get('model'))}"))
        elif subtype == "api_retry":
            delay = obj.get("retry_delay_ms")
            wait = f" in {delay / 1000:.0f} s" if isinstance(delay, (int, float)) else ""
            out.append(Entry("retry", f"API {obj.get('error_status') or 'error'}: retry {obj.get('attempt')}"
                                      f"/{obj.get('max_retries')}{wait}", _body(_str(obj.get("error")))))

    def _claude_assistant(self, obj: dict[str, Any], out: list[Entry]) -> None:
        for block in _list(_dict(obj.get("message")).get("content")):
            block = _dict(block)
            kind = block.get("type")
            if kind == "text":
                out.append(Entry("message", "assistant", _body(_str(block.get("text")))))
            elif kind == "thinking":
                out.append(Entry("thinking", "thinking", _body(_str(block.get("thinking"))), folded=True))
            elif kind == "tool_use":
                out.append(self._tool_call(_str(block.get("name")) or "tool", _dict(block.get("input")),
                                           _str(block.get("id"))))

    def _tool_call(self, name: str, args: dict[str, Any], tool_id: str) -> Entry:
        head = summarise_tool_call(name, args)
        if tool_id:
            if len(self._tools) > 2048:
                self._tools.pop(next(iter(self._tools)))
            self._tools[tool_id] = head
        path = _str(args.get("file_path")) or _str(args.get("notebook_path"))
        if name in ("Edit", "MultiEdit") and path:
            edits = _list(args.get("edits")) or [args]
            body: list[str] = []
            for edit in edits:
                edit = _dict(edit)
                body.extend(_diff(path, _str(edit.get("old_string")), _str(edit.get("new_string"))))
            return Entry("edit", f"{name}: {path}", body)
        if name == "Write" and path:
            return Entry("edit", f"Write: {path}", _body(_str(args.get("content"))), folded=True)
        if name == "Bash":  # the head shows the command's start; the body all of it
            description = _str(args.get("description"))
            return Entry("tool", head, ([f"({description})"] if description else [])
                         + _body("$ " + _str(args.get("command"))))
        # Other tools: the head names the telling argument; the whole input is one unfold away.
        shown = json.dumps(args, ensure_ascii=False, indent=1) if len(args) > 1 else ""
        return Entry("tool", head, _body(shown), folded=True)

    def _claude_results(self, obj: dict[str, Any], out: list[Entry]) -> None:
        for block in _list(_dict(obj.get("message")).get("content")):
            block = _dict(block)
            if block.get("type") != "tool_result":
                continue
            of = self._tools.get(_str(block.get("tool_use_id")), "tool")
            failed = block.get("is_error") is True
            head = f"{'error from' if failed else 'result of'} {of}"
            out.append(Entry("error" if failed else "result", head,
                             _body(_tool_result_text(block.get("content"))), folded=True))

    def _claude_result(self, obj: dict[str, Any], out: list[Entry]) -> None:
        for denial in _list(obj.get("permission_denials")):
            denial = _dict(denial)
            out.append(Entry("denied", "denied " + summarise_tool_call(_str(denial.get("tool_name")) or "tool",
                                                                       denial.get("tool_input"))))
        cost = obj.get("total_cost_usd")
        usage = _dict(obj.get("usage"))
        money = f", ${cost:.4f}" if isinstance(cost, (int, float)) and not isinstance(cost, bool) else ""
        out.append(Entry("usage", f"{obj.get('num_turns', '?')} turn(s), {usage.get('input_tokens', 0)} tokens in, "
                                  f"{usage.get('output_tokens', 0)} out{money}"))
        if obj.get("is_error") is True or _str(obj.get("subtype")).startswith("error"):
            errors = [e for e in _list(obj.get("errors")) if isinstance(e, str)]
            out.append(Entry("error", f"run failed: {_str(obj.get('subtype')) or 'error'}",
                             _body(_str(obj.get("result")) or "\n".join(errors))))
        elif isinstance(obj.get("result"), str):
            out.append(Entry("final", "final result", _body(obj["result"])))

    # -- Codex ----------------------------------------------------------------------------

    def _codex_item(self, item: dict[str, Any], out: list[Entry]) -> None:
        kind = item.get("type")
        if kind == "agent_message":
            out.append(Entry("message", "assistant", _body(_str(item.get("text")))))
        elif kind == "reasoning":
            out.append(Entry("thinking", "thinking", _body(_str(item.get("text"))), folded=True))
        elif kind == "command_execution":
            command = _unwrap_shell(item.get("command"))
            status = _str(item.get("status"))
            code = item.get("exit_code")
            head = f"$ {one_line(command, 300)}" + (f"  (exit {code})" if isinstance(code, int) else "") + (
                f"  [{status}]" if status and status != "completed" else "")
            out.append(Entry("denied" if status == "declined" else "tool", head,
                             _body(_str(item.get("aggregated_output"))), folded=True))
        elif kind == "file_change":
            changes = [_dict(change) for change in _list(item.get("changes"))]
            out.append(Entry("edit", "edit files", [f"{_str(c.get('kind')) or 'edit'} {_str(c.get('path'))}"
                                                     for c in changes]))
        elif kind == "mcp_tool_call":
            name = f"{_str(item.get('server')) or 'mcp'}.{_str(item.get('tool')) or 'tool'}"
            out.append(Entry("tool", summarise_tool_call(name, item.get("arguments")),
                             _body(json.dumps(item.get("result"), ensure_ascii=False)[:LINE_MAX * 4])
                             if item.get("result") is not None else [], folded=True))
        elif kind == "web_search":
            out.append(Entry("tool", "search: " + _str(item.get("query"))))
        elif kind == "todo_list":
            todos = [_dict(todo) for todo in _list(item.get("items"))]
            out.append(Entry("tool", "todo", [("[x] " if t.get("completed") is True else "[ ] ") + _str(t.get("text"))
                                             for t in todos]))
        elif kind == "error":
            out.append(Entry("error", "warning: " + (_str(item.get("message")) or "error")))
