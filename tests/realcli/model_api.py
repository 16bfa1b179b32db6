"""A loopback stand-in for the model APIs the real CLIs call (stdlib only).

`claude -p` speaks the Anthropic Messages API and `codex exec` the OpenAI
Responses API, both streaming (server-sent events). This server answers both
from a scripted scenario, so the tests can run the real, unmodified CLIs with
no network and no account, and see every request they made.

A scenario is a JSON object with a list of replies per API:

    {"anthropic": [reply, ...], "openai": [reply, ...]}

Each model request takes the next reply of its API; the last one repeats once
the list is used up (so `[{"status": 429}]` is a limit that never lifts and
`[{"status": 500}, {"text": "ok"}]` one failure, then answers). A reply is one of

    {"text": "the answer", "usage": {...}}          a plain answer
    {"tool": {"name": "Write", "input": {...}}}     a tool call (claude: tool_use;
                                                    codex: a function call, "arguments";
                                                    a string input: a freeform custom tool call;
                                                    "namespace": codex's namespace of the tool)
    {"status": 429, "message": "...", "headers": {...}, "error_type": "..."}
                                                    an HTTP error with the API's error body
                                                    (OpenAI: "error_fields" adds to its error object)
    {"hang": true}                                  starts the stream, then sends
                                                    nothing until the client goes away
    {"once_told": "text", "then": reply, "meanwhile": reply}
                                                    `then` once a request mentions the text
                                                    (a tool the CLI announces late: codex's
                                                    MCP namespaces), `meanwhile` until then

`usage` overrides the token counts (Anthropic names: input_tokens,
output_tokens, cache_creation_input_tokens, cache_read_input_tokens; OpenAI
names: input_tokens, cached_tokens, output_tokens, reasoning_tokens).

Every request is appended to a JSON-lines log (method, path, the parsed body,
the reply it got), flushed at once, so a test can wait for "the CLI asked" and
check what it sent (effort, tool results, the permission denial text).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ANTHROPIC_PATHS = ("/v1/messages",)
OPENAI_PATHS = ("/v1/responses", "/responses")
DEFAULT_ANSWER = {"text": "stand-in answer"}


class Scenario:
    """The scripted replies, consumed in order per API (thread-safe)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._replies = {api: list(data.get(api) or [DEFAULT_ANSWER]) for api in ("anthropic", "openai")}
        self._used = {"anthropic": 0, "openai": 0}
        self._lock = threading.Lock()

    def next(self, api: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        with self._lock:
            replies = self._replies[api]
            index = self._used[api]
            reply = replies[min(index, len(replies) - 1)]
            if "once_told" in reply:
                # A model calls only tools it was told of: until the request mentions the text,
                # it answers `meanwhile` and the scripted reply waits its turn.
                if reply["once_told"] not in json.dumps(body):
                    return index, reply["meanwhile"]
                reply = reply["then"]
            self._used[api] += 1
            return index, reply


class ModelAPIServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], scenario: Scenario, log_path: Path) -> None:
        super().__init__(address, _Handler)
        self.scenario = scenario
        self.log_path = log_path
        self._log_lock = threading.Lock()
        self._seq = 0
        self.stopping = threading.Event()

    def record(self, entry: dict[str, Any]) -> None:
        with self._log_lock:
            self._seq += 1
            entry = {"seq": self._seq, "time": time.time(), **entry}
            with self.log_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ModelAPIServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # the JSON log is the record; stderr belongs to the command under test

    # -- routing -------------------------------------------------------------------------

    def do_HEAD(self) -> None:  # Claude Code checks the base URL with HEAD / first
        self.server.record({"method": "HEAD", "path": self.path})
        self._plain(200, b"")

    def do_GET(self) -> None:
        self.server.record({"method": "GET", "path": self.path})
        if self.path.split("?")[0].rstrip("/").endswith("/models"):
            self._json(200, {"data": [], "object": "list"})
        else:
            self._json(404, {"error": {"type": "not_found_error", "message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"unparsed": raw[:2000].decode("utf-8", "replace")}
        path = self.path.split("?")[0]
        api = "anthropic" if path in ANTHROPIC_PATHS else "openai" if path in OPENAI_PATHS else None
        if api is None:
            self.server.record({"method": "POST", "path": self.path, "body": body, "reply": "404"})
            self._json(404, {"error": {"type": "not_found_error", "message": f"no route {self.path}"}})
            return
        index, reply = self.server.scenario.next(api, body)
        self.server.record({"method": "POST", "path": self.path, "api": api, "index": index,
                            "body": body, "reply": reply,
                            "headers": {k.lower(): v for k, v in self.headers.items()
                                        if k.lower() not in ("authorization", "x-api-key")}})
        if "status" in reply:
            self._error(api, reply)
        elif api == "anthropic":
            self._anthropic(body, reply)
        else:
            self._openai(body, reply)

    # -- plumbing ------------------------------------------------------------------------

    def _plain(self, status: int, data: bytes, content_type: str = "text/plain", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._plain(status, json.dumps(obj).encode(), "application/json", headers)

    def _error(self, api: str, reply: dict[str, Any]) -> None:
        status = int(reply["status"])
        message = reply.get("message") or f"stand-in error {status}"
        if api == "anthropic":
            kind = reply.get("error_type") or {429: "rate_limit_error", 529: "overloaded_error",
                                               400: "invalid_request_error"}.get(status, "api_error")
            body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
        else:
            kind = reply.get("error_type") or {429: "rate_limit_exceeded"}.get(status, "server_error")
            body = {"error": {"type": kind, "code": reply.get("code", kind), "message": message, "param": None,
                              **(reply.get("error_fields") or {})}}
        self._json(status, body, reply.get("headers"))

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _send(self, event: str, data: dict[str, Any]) -> None:
        self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _hang(self) -> None:
        """Hold the stream open, sending nothing, until the client disconnects."""
        sock: socket.socket = self.connection
        while not self.server.stopping.is_set():
            readable, _, _ = select.select([sock], [], [], 0.5)
            if readable:
                try:
                    if not sock.recv(4096, socket.MSG_PEEK):
                        return  # EOF: the CLI (or its process) is gone
                    sock.recv(4096)
                except OSError:
                    return

    # -- Anthropic Messages --------------------------------------------------------------

    def _anthropic(self, body: dict[str, Any], reply: dict[str, Any]) -> None:
        seq = self.server._seq
        usage = {"input_tokens": 100, "output_tokens": 20, "cache_creation_input_tokens": 0,
                 "cache_read_input_tokens": 0, **(reply.get("usage") or {})}
        model = body.get("model") or "claude-sonnet-4-6"
        message = {"id": f"msg_standin_{seq}", "type": "message", "role": "assistant", "model": model,
                   "content": [], "stop_reason": None, "stop_sequence": None,
                   "usage": {**usage, "output_tokens": 1}}
        if not body.get("stream"):
            self._json(200, {**message, **self._anthropic_content(reply, seq), "usage": usage})
            return
        self._start_stream()
        self._send("message_start", {"type": "message_start", "message": message})
        if reply.get("hang"):
            self._hang()
            return
        index = 0
        if reply.get("text"):
            self._send("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": {"type": "text", "text": ""}})
            text = reply["text"]
            for start in range(0, len(text), 40):
                self._send("content_block_delta", {"type": "content_block_delta", "index": index,
                                                   "delta": {"type": "text_delta", "text": text[start:start + 40]}})
            self._send("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        stop_reason = "end_turn"
        if reply.get("tool"):
            tool = reply["tool"]
            self._send("content_block_start", {"type": "content_block_start", "index": index, "content_block": {
                "type": "tool_use", "id": f"toolu_standin_{seq}", "name": tool["name"], "input": {}}})
            self._send("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(tool.get("input") or {})}})
            self._send("content_block_stop", {"type": "content_block_stop", "index": index})
            stop_reason = "tool_use"
        self._send("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                     "usage": {"output_tokens": usage["output_tokens"]}})
        self._send("message_stop", {"type": "message_stop"})

    @staticmethod
    def _anthropic_content(reply: dict[str, Any], seq: int) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if reply.get("text"):
            content.append({"type": "text", "text": reply["text"]})
        if reply.get("tool"):
            content.append({"type": "tool_use", "id": f"toolu_standin_{seq}", "name": reply["tool"]["name"],
                            "input": reply["tool"].get("input") or {}})
        return {"content": content, "stop_reason": "tool_use" if reply.get("tool") else "end_turn"}

    # -- OpenAI Responses ----------------------------------------------------------------

    def _openai(self, body: dict[str, Any], reply: dict[str, Any]) -> None:
        seq = self.server._seq
        given = reply.get("usage") or {}
        usage = {
            "input_tokens": given.get("input_tokens", 100),
            "input_tokens_details": {"cached_tokens": given.get("cached_tokens", 0)},
            "output_tokens": given.get("output_tokens", 20),
            "output_tokens_details": {"reasoning_tokens": given.get("reasoning_tokens", 0)},
        }
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        response = {"id": f"resp_standin_{seq}", "object": "response", "created_at": int(time.time()),
                    "status": "in_progress", "model": body.get("model") or "gpt-5.5", "output": []}
        self._start_stream()
        self._send("response.created", {"type": "response.created", "response": response})
        if reply.get("hang"):
            self._hang()
            return
        output: list[dict[str, Any]] = []
        if reply.get("text"):
            item_id = f"msg_standin_{seq}"
            text = reply["text"]
            self._send("response.output_item.added", {"type": "response.output_item.added", "output_index": len(output),
                       "item": {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress", "content": []}})
            self._send("response.content_part.added", {"type": "response.content_part.added", "item_id": item_id,
                       "output_index": len(output), "content_index": 0,
                       "part": {"type": "output_text", "text": "", "annotations": []}})
            for start in range(0, len(text), 40):
                self._send("response.output_text.delta", {"type": "response.output_text.delta", "item_id": item_id,
                           "output_index": len(output), "content_index": 0, "delta": text[start:start + 40]})
            item = {"id": item_id, "type": "message", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": text, "annotations": []}]}
            self._send("response.output_item.done", {"type": "response.output_item.done",
                                                     "output_index": len(output), "item": item})
            output.append(item)
        if reply.get("tool"):
            tool = reply["tool"]
            if isinstance(tool.get("input"), str):  # a freeform tool (codex's apply_patch)
                item = {"id": f"ctc_standin_{seq}", "type": "custom_tool_call", "status": "completed",
                        "call_id": f"call_standin_{seq}", "name": tool["name"], "input": tool["input"]}
                started = {**item, "input": ""}
            else:
                item = {"id": f"fc_standin_{seq}", "type": "function_call", "status": "completed",
                        "call_id": f"call_standin_{seq}", "name": tool["name"],
                        "arguments": json.dumps(tool.get("input") or {})}
                if tool.get("namespace"):  # a tool of a namespace (codex: an MCP server's, mcp__NAME)
                    item["namespace"] = tool["namespace"]
                started = {**item, "arguments": ""}
            self._send("response.output_item.added", {"type": "response.output_item.added",
                                                      "output_index": len(output), "item": started})
            self._send("response.output_item.done", {"type": "response.output_item.done",
                                                     "output_index": len(output), "item": item})
            output.append(item)
        self._send("response.completed", {"type": "response.completed", "response": {
            **response, "status": "completed", "output": output, "usage": usage}})


def serve(address: tuple[str, int], scenario: dict[str, Any], log_path: Path) -> ModelAPIServer:
    """Start the server on a thread; returns it (call .shutdown() to stop)."""
    server = ModelAPIServer(address, Scenario(scenario), log_path)
    threading.Thread(target=server.serve_forever, name="model-api", daemon=True).start()
    return server
