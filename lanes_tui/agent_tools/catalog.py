"""The tools `lanes-tui mcp` offers: what the model reads (description, JSON Schema of the
arguments) and which `AgentTools` method runs each, with the arguments checked against the
schema before it runs (a wrong type is the tool's error, in one line, not a crash)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from lanes_tui.agent_tools.tools import AgentTools
from lanes_tui.core.errors import InvalidInput

STRING = {"type": "string"}
BOOLEAN = {"type": "boolean"}
NUMBER = {"type": "number"}
STRINGS = {"type": "array", "items": STRING}


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    properties: dict[str, dict[str, Any]]
    required: tuple[str, ...]
    defaults: dict[str, Any]
    call: Callable[[AgentTools, dict[str, Any]], Any]

    def listing(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object", "properties": {
            key: {**kind, **({"default": self.defaults[key]} if key in self.defaults else {})}
            for key, kind in self.properties.items()}}
        if self.required:
            schema["required"] = list(self.required)
        return {"name": self.name, "description": self.description, "inputSchema": schema}

    def run(self, tools: AgentTools, arguments: dict[str, Any]) -> Any:
        return self.call(tools, {**self.defaults, **arguments})


def check_arguments(spec: ToolSpec, arguments: Any) -> dict[str, Any]:
    """The arguments the schema names, each of its type; unknown keys are dropped (as the SDK
    did), a missing required one or a wrong type refuses the call."""
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise InvalidInput(f"{spec.name}: arguments must be an object")
    checked = {}
    for key, kind in spec.properties.items():
        if key not in arguments or (arguments[key] is None and key not in spec.required):
            if key in spec.required:
                raise InvalidInput(f"{spec.name}: {key} is required")
            continue
        value = arguments[key]
        if not _is(kind, value):
            raise InvalidInput(f"{spec.name}: {key} must be {_kind_name(kind)}, not {json.dumps(value)[:60]}")
        checked[key] = value
    return checked


def _is(kind: dict[str, Any], value: Any) -> bool:
    expected = kind.get("type")
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected == "array":
        return isinstance(value, list) and all(_is(kind["items"], item) for item in value)
    if expected == "object":
        return isinstance(value, dict)
    return True


def _kind_name(kind: dict[str, Any]) -> str:
    if kind.get("type") == "array":
        return f"a list of {kind['items']['type']}s"
    return f"a {kind.get('type')}"


def _tool(name: str, description: str, properties: dict[str, dict[str, Any]], call: Callable[..., Any],
          required: tuple[str, ...] = (), **defaults: Any) -> ToolSpec:
    return ToolSpec(name, " ".join(description.split()), properties, required, defaults, call)


TOOLS: dict[str, ToolSpec] = {spec.name: spec for spec in (
    _tool("send_message", "Send a message to another agent: `to` is an agent id, `name:NAME`, `role:ROLE` or `all`.",
          {"to": STRING, "body": STRING}, lambda t, a: t.send_message(a["to"], a["body"]), ("to", "body")),
    _tool("read_messages", "Your unread messages, oldest first; they are marked read unless `peek` is true.",
          {"peek": BOOLEAN}, lambda t, a: t.read_messages(a["peek"]), peek=False),
    _tool("lock_files", """Take advisory locks on files (paths relative to the repository) before editing
          them, or on named resources with `names` true. All or nothing: if another live agent holds one,
          nothing is locked and the error names the holder. Locks expire after `ttl_seconds`.""",
          {"paths": STRINGS, "ttl_seconds": NUMBER, "reason": STRING, "names": BOOLEAN},
          lambda t, a: t.lock_files(a["paths"], float(a["ttl_seconds"]), a["reason"], a["names"]), ("paths",),
          ttl_seconds=900.0, reason="", names=False),
    _tool("unlock_files", "Release locks you hold (the same paths or names you locked).",
          {"paths": STRINGS, "names": BOOLEAN}, lambda t, a: t.unlock_files(a["paths"], a["names"]), ("paths",),
          names=False),
    _tool("post_intent", "Tell the others what you are about to do, and to which files.",
          {"summary": STRING, "paths": STRINGS}, lambda t, a: t.post_intent(a["summary"], a.get("paths")),
          ("summary",)),
    _tool("record_decision", "Record a decision in the repository's shared history, for agents who come later.",
          {"text": STRING}, lambda t, a: t.record_decision(a["text"]), ("text",)),
    _tool("ask_operator", """Ask the person running the agents a question only they can answer (a choice
          between approaches, missing information, a go-ahead) and wait for the reply. Offer `options` when
          the answer is one of a few choices. If nobody answers in time, `answered` is false: then decide
          yourself and say what you assumed.""",
          {"question": STRING, "options": STRINGS}, lambda t, a: t.ask_operator(a["question"], a.get("options")),
          ("question",)),
    _tool("permission_prompt", """Not for the model: Claude Code calls this (--permission-prompt-tool) when a
          tool call needs the operator's permission; the operator decides from lanes-tui's dashboard.""",
          {"tool_name": STRING, "input": {"type": "object"}, "tool_use_id": STRING},
          lambda t, a: t.permission_prompt(a["tool_name"], a["input"]), ("tool_name", "input")),
    _tool("report_blocker", """Report what blocks you. `needs` "lead": the agent that delegated this task gets
          it as a message; "human": it goes to the operator's list. Does not wait: the reply arrives as a
          message (read_messages).""",
          {"summary": STRING, "needs": {"type": "string", "enum": ["lead", "human"]}},
          lambda t, a: t.report_blocker(a["summary"], a["needs"]), ("summary",), needs="human"),
)}
