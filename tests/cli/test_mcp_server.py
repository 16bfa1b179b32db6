"""`lanes-tui mcp`: the agent tools over the real MCP protocol (the `mcp` package's own client,
the server a real `lanes-tui mcp` subprocess on stdio), on a real store (issue 13, part 1)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from mcp import Client, StdioServerParameters

from lanes_tui.storage.files.coordination import file_presence

TOOLS = {"send_message", "read_messages", "lock_files", "unlock_files", "post_intent", "record_decision"}


def server(workspace: Any, agent: str) -> StdioServerParameters:
    env = {key: value for key, value in os.environ.items() if key != "LANES_AGENT_ID"}
    return StdioServerParameters(command=sys.executable, cwd=str(workspace.root), env=env,
                                 args=["-m", "lanes_tui", "--config", str(workspace.config), "mcp", "--as", agent])


def payload(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


async def test_agents_message_each_other_and_lock_files_through_the_mcp_server(workspace):
    file_presence(workspace.store().root).register("bob", role="reviewer")
    async with Client(server(workspace, "alice")) as alice, Client(server(workspace, "bob")) as bob:
        assert TOOLS <= {tool.name for tool in (await alice.list_tools()).tools}

        sent = payload(await alice.call_tool("send_message", {"to": "role:reviewer", "body": "rebased \x1b[2J main"}))
        assert sent["reached"] == 1
        inbox = payload(await bob.call_tool("read_messages", {}))
        (message,) = inbox["messages"]
        assert message["from"] == "alice" and message["body"] == "rebased \\x1b[2J main"  # escaped, not raw
        assert "untrusted" in inbox["note"]
        assert payload(await bob.call_tool("read_messages", {}))["messages"] == []  # read now

        locked = payload(await alice.call_tool("lock_files", {"paths": ["src/app.py", "./src/../README.md"],
                                                              "reason": "parser refactor"}))
        assert [entry["key"] for entry in locked["locked"]] == ["path:README.md", "path:src/app.py"]
        refused = await bob.call_tool("lock_files", {"paths": ["src/other.py", "src/app.py"]})
        assert refused.is_error
        text = refused.content[0].text
        assert "path:src/app.py is locked by alice" in text and "parser refactor" in text
        assert "nothing was locked" in text
        held = {state.record.key: state.record.owner for state in workspace.store().locks().states()}
        assert held == {"path:README.md": "alice", "path:src/app.py": "alice"}  # bob's src/other.py given back

        assert payload(await alice.call_tool("unlock_files", {"paths": ["src/app.py", "README.md"]}))["unlocked"]
        taken = payload(await bob.call_tool("lock_files", {"paths": ["src/app.py"]}))
        assert taken["locked"][0]["key"] == "path:src/app.py"

        intent = payload(await alice.call_tool("post_intent", {"summary": "split the parser", "paths": ["src/a.py"]}))
        assert intent["recorded"]["agent"] == "alice"
        payload(await bob.call_tool("record_decision", {"text": "keep the v1 format"}))
    journal = workspace.store().journal()
    assert [entry.text for entry in journal.read_intents()] == ["split the parser"]
    assert [(entry.kind, entry.agent) for entry in journal.read_history()] == [("decision", "bob")]


async def test_refusals_are_tool_errors_and_a_path_outside_the_repository_is_one(workspace):
    async with Client(server(workspace, "alice")) as alice:
        outside = await alice.call_tool("lock_files", {"paths": ["/etc/passwd"]})
        assert outside.is_error and "outside" in outside.content[0].text
        bad = await alice.call_tool("send_message", {"to": "name:", "body": "x"})
        assert bad.is_error and "\n" not in bad.content[0].text
        assert payload(await alice.call_tool("read_messages", {"peek": True}))["messages"] == []  # still serving


def test_an_operator_name_is_refused_before_serving(workspace):
    done = workspace.run("mcp", "--as", "operator:me", input="")
    assert done.returncode == 5 and "reserved for people" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""  # nothing on the protocol's channel
