"""The flags that give a worker lanes-tui's MCP server (`lanes-tui mcp`), per CLI dialect (pure).

A vendor's args hold `{agent_tools}` as a whole item where these go. The server
is a stdio command bound to the worker's agent id and task (`--as`, `--task` on
its own command line: codex hands its MCP servers a filtered environment, so
LANES_AGENT_ID cannot be relied on to reach it). Its tools reach the model as
`mcp__lanes__<tool>`.

- claude: `--mcp-config <json>` plus an allow rule for the server's tools
  (`--allowedTools mcp__lanes`): under `dontAsk` (read-only) and `acceptEdits`
  (edit) a tool no rule allows is denied in `-p` mode, so without it the
  worker could not ask anything. MCP_TOOL_TIMEOUT lets a question wait.
- codex: `-c mcp_servers.lanes.*` overrides, values in TOML. Codex asks for
  approval of every MCP tool call, which `approval_policy=never` turns into a
  refusal ("MCP tool call requires approval"), so the server's tools are
  pre-approved (`default_tools_approval_mode`); its default per-call limit
  (60 s) would cut a question short, so `tool_timeout_sec` is the question's
  own limit plus a margin. Codex 0.171 offers MCP tools deferred, as a
  namespace `mcp__lanes` announced once the server has started.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Mapping

SERVER_NAME = "lanes"
CLAUDE_ALLOW_RULE = f"mcp__{SERVER_NAME}"  # every tool of that server
TIMEOUT_MARGIN_SECONDS = 60.0  # the server answers an expired question itself, a little after its limit
STARTUP_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class ToolsServer:
    argv: tuple[str, ...]  # the stdio server's command line (executable first)
    call_seconds: float  # the longest a tool call may block: a question's time to expire


def attach_flags(stream: str, server: ToolsServer | None) -> tuple[str, ...]:
    """The argv items for `{agent_tools}` (nothing without a server)."""
    if server is None:
        return ()
    command, args = server.argv[0], list(server.argv[1:])
    if stream == "claude":
        config = {"mcpServers": {SERVER_NAME: {"type": "stdio", "command": command, "args": args}}}
        return ("--mcp-config", json.dumps(config, separators=(",", ":")), "--allowedTools", CLAUDE_ALLOW_RULE)
    if stream == "codex":
        key = f"mcp_servers.{SERVER_NAME}"
        return ("-c", f"{key}.command={toml_string(command)}",
                "-c", f"{key}.args=[{','.join(toml_string(a) for a in args)}]",
                "-c", f'{key}.default_tools_approval_mode="approve"',
                "-c", f"{key}.startup_timeout_sec={STARTUP_TIMEOUT_SECONDS}",
                "-c", f"{key}.tool_timeout_sec={_call_limit(server)}")
    return ()


def attach_env(stream: str, server: ToolsServer | None) -> Mapping[str, str]:
    """Variables the CLI needs for the server (claude's per-call limit, in milliseconds)."""
    if server is None or stream != "claude":
        return {}
    return {"MCP_TOOL_TIMEOUT": str(_call_limit(server) * 1000)}


def toml_string(value: str) -> str:
    """A TOML basic string. JSON's escapes are TOML's, but TOML has no surrogate escapes (so
    no ensure_ascii) and forbids a raw DEL, which JSON leaves as it is."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _call_limit(server: ToolsServer) -> int:
    return math.ceil(server.call_seconds + TIMEOUT_MARGIN_SECONDS)
