"""Every supervised worker gets lanes-tui's MCP server in its vendor config, bound to it (issue 13).

The stand-in CLIs dump the argv the supervisor gave them; the test then starts
the MCP server exactly as that argv tells the CLI to (claude's --mcp-config
JSON, codex's TOML `-c` overrides), from another working directory and with an
environment without LANES_*, over the real MCP protocol, and checks whom it
serves: a blocker it reports is a request on the worker's task, from the
worker's agent id, with its lane's timeout. The real CLIs doing the same:
tests/realcli/test_agent_tools.py.
"""

from __future__ import annotations

import json
import os
import tomllib

import pytest
from helpers.supervisor import make_settings, supervising, until
from mcp import Client, StdioServerParameters

from lanes_tui.core.clock import parse_ts
from lanes_tui.core.handoff import load_config
from lanes_tui.engine import events as ev
from lanes_tui.engine.agent_tools_server import agent_tools_command
from lanes_tui.storage.memory.backend import MemoryBackend
from lanes_tui.vendors.agent_tools_flags import (
    CLAUDE_ALLOW_RULE,
    TIMEOUT_MARGIN_SECONDS,
)

TIMEOUT = 123  # the lane's request_timeout_seconds: the server's questions get it


def _server_from_claude(argv: list[str]) -> tuple[str, list[str]]:
    at = argv.index("--mcp-config")
    assert argv[at + 2:at + 4] == ["--allowedTools", CLAUDE_ALLOW_RULE]
    (server,) = json.loads(argv[at + 1])["mcpServers"].values()
    assert server["type"] == "stdio"
    return server["command"], server["args"]


def _server_from_codex(argv: list[str]) -> tuple[str, list[str], dict]:
    overrides = {}
    for flag, item in zip(argv, argv[1:]):
        if flag == "-c" and item.startswith("mcp_servers.lanes."):
            key, _, value = item.partition("=")
            overrides[key.removeprefix("mcp_servers.lanes.")] = tomllib.loads(f"v = {value}")["v"]
    return overrides["command"], overrides["args"], overrides


async def _blocker_through(command: str, args: list[str], cwd) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANES_")}
    params = StdioServerParameters(command=command, args=args, cwd=str(cwd), env=env)
    async with Client(params) as client:
        result = await client.call_tool("report_blocker", {"summary": "which schema?", "needs": "human"})
        assert not result.is_error, result.content
        return json.loads(result.content[0].text)


@pytest.mark.parametrize("vendor", ["claude", "codex"])
async def test_a_worker_gets_the_mcp_server_bound_to_its_task(workspace, standins, monkeypatch, tmp_path, vendor):
    dump = tmp_path / "dump.json"
    monkeypatch.setenv("STANDIN_MODE", "dump")
    monkeypatch.setenv("STANDIN_DUMP_FILE", str(dump))
    settings = make_settings(workspace, lane={"request_timeout_seconds": TIMEOUT})
    store = workspace.store()
    task = workspace.submit(metadata={"required_vendor": vendor})
    command = agent_tools_command(store, load_config(workspace.config), settings)
    async with supervising(store, settings, tools_command=command) as h:
        await h.events.wait_for(ev.TaskCompleted, task["id"])
        agent = h.supervisor.agent_id(task["id"])
    argv = json.loads(dump.read_text())["argv"]
    if vendor == "claude":
        program, args = _server_from_claude(argv)
        limit_ms = int((TIMEOUT + TIMEOUT_MARGIN_SECONDS) * 1000)
        assert json.loads(dump.read_text())["env"]["MCP_TOOL_TIMEOUT"] == str(limit_ms)
    else:
        program, args, overrides = _server_from_codex(argv)
        assert overrides["tool_timeout_sec"] == TIMEOUT + TIMEOUT_MARGIN_SECONDS  # a question may wait its time
        assert argv[-2:] == ["--skip-git-repo-check", "-"]  # the prompt still comes from stdin
    elsewhere = tmp_path / "elsewhere"  # not the workspace: everything it needs is on its command line
    elsewhere.mkdir()
    reported = await _blocker_through(program, args, elsewhere)
    request = store.requests().get(reported["request"])
    assert (request.task_id, request.agent, request.lane) == (task["id"], agent, "default")
    assert (parse_ts(request.expires_at) - parse_ts(request.created_at)).total_seconds() == TIMEOUT


async def test_a_vendor_without_the_placeholder_and_a_queue_in_memory_get_no_server(workspace, standins, monkeypatch,
                                                                                    tmp_path):
    dump = tmp_path / "dump.json"
    monkeypatch.setenv("STANDIN_MODE", "dump")
    monkeypatch.setenv("STANDIN_DUMP_FILE", str(dump))
    # The operator's own args for claude, without {agent_tools}: nothing is added.
    settings = make_settings(workspace, vendors={"claude": {"env": {"allow": ["STANDIN_*"]}, "args": [
        "-p", "--output-format", "stream-json", "--verbose", "--model", "{model}", "{effort}", "{permissions}"]}})
    store = workspace.store()
    task = workspace.submit(metadata={"required_vendor": "claude"})
    command = agent_tools_command(store, load_config(workspace.config), settings)
    async with supervising(store, settings, tools_command=command) as h:
        await h.events.wait_for(ev.TaskCompleted, task["id"])
    argv = json.loads(dump.read_text())["argv"]
    assert "--mcp-config" not in argv and "--allowedTools" not in argv
    assert "MCP_TOOL_TIMEOUT" not in json.loads(dump.read_text())["env"]
    assert agent_tools_command(MemoryBackend(), None, settings) is None


async def test_deny_and_stop_ends_the_attempt_and_fails_the_task_for_good(workspace, standins, monkeypatch):
    """`D` on a permission request: the worker is stopped and the task fails without a retry."""
    monkeypatch.setenv("STANDIN_MODE", "hang")  # an agent blocked on the operator's answer
    settings = make_settings(workspace, lane={"timeout_seconds": 60, "max_attempts": 3})
    store = workspace.store()
    task = workspace.submit(metadata={"required_vendor": "claude"})
    command = agent_tools_command(store, load_config(workspace.config), settings)
    async with supervising(store, settings, tools_command=command) as h:
        await h.events.wait_for(ev.WorkerStarted, task["id"])
        asked = store.requests().open(kind="permission", agent=h.supervisor.agent_id(task["id"]), text="Bash: rm -rf /",
                                      tool="Bash", tool_input={"command": "rm -rf /"}, task_id=task["id"],
                                      lane="default", pid=os.getpid())
        # Answered after the attempt has looked at it open (its clock stopped, every 2 s), as an
        # agent waits: 5 renewals 0.5 s apart span one look at least.
        renewed = len(h.events.of(ev.LeaseRenewed, task["id"]))
        await until(lambda: len(h.events.of(ev.LeaseRenewed, task["id"])) >= renewed + 5, what="renewals")
        store.requests().answer(asked.id, decision="deny_stop", reply="never", by="operator:test")
        failed = await h.events.wait_for(ev.TaskFailed, task["id"])
    assert failed.attempts == 1  # not retried: the operator said stop
    assert f"stopped by the operator, who denied Bash ({asked.id}): never" in failed.reason
    assert store.read_task(task["id"])["state"] == "failed"
