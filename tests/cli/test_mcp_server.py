"""`lanes-tui mcp`: the agent tools over the real MCP protocol (the `mcp` package's own client,
the server a real `lanes-tui mcp` subprocess on stdio), on a real store (issue 13, part 1)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

from mcp import Client, StdioServerParameters

from lanes_tui.storage.files.coordination import file_presence

TOOLS = {"send_message", "read_messages", "lock_files", "unlock_files", "post_intent", "record_decision",
         "ask_operator", "report_blocker", "permission_prompt"}


def server(workspace: Any, agent: str, *extra: str) -> StdioServerParameters:
    env = {key: value for key, value in os.environ.items() if key not in ("LANES_AGENT_ID", "LANES_TASK_ID")}
    return StdioServerParameters(command=sys.executable, cwd=str(workspace.root), env=env,
                                 args=["-m", "lanes_tui", "--config", str(workspace.config), "mcp", "--as", agent,
                                       *extra])


def wait_for_request(store: Any) -> Any:
    """The first open request, once the server has written it (woken by the folder's watch)."""
    watch = store.record_watch("requests")
    try:
        while not (pending := store.requests().pending()):
            watch.wait(5.0)
        return pending[0]
    finally:
        watch.close()


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


async def test_ask_operator_waits_for_the_answer_given_from_another_process(workspace):
    task = workspace.submit(lane="review")
    async with Client(server(workspace, "sup/1", "--task", task["id"])) as agent:
        call = asyncio.ensure_future(agent.call_tool("ask_operator", {"question": "Which database?\x1b[31m",
                                                                      "options": ["postgres", "sqlite"]}))
        request = await asyncio.to_thread(wait_for_request, workspace.store())
        assert (request.kind, request.agent, request.task_id) == ("question", "sup/1", task["id"])
        assert request.lane == "review"
        assert request.options == ("postgres", "sqlite") and not call.done()
        listed = workspace.run("requests")  # what the operator sees: escaped, with the options
        assert listed.returncode == 0 and "Which database?\\x1b[31m" in listed.stdout
        assert "1) postgres  2) sqlite" in listed.stdout and "\x1b" not in listed.stdout
        answered = workspace.run("answer", request.id, "--option", "1", "--by", "ann")
        assert answered.returncode == 0, answered.stderr
        result = payload(await call)
    assert result == {"request": request.id, "answered": True, "answer": "postgres", "answered_by": "operator:ann"}
    kinds = [e["type"] for e in workspace.store().read_events(task["id"]).events if e["type"].startswith("input_")]
    assert kinds == ["input_requested", "input_answered"]
    again = workspace.run("answer", request.id, "sqlite")
    assert again.returncode == 16 and "is answered" in again.stderr


async def test_the_permission_prompt_asks_once_per_tool_when_allowed_for_the_task(workspace):
    """Claude Code's --permission-prompt-tool (the `ask` preset): one text block of JSON back;
    `--allow-tool` lets later calls of the same tool through without asking again."""
    task = workspace.submit()
    edit = {"file_path": "/etc/hosts", "old_string": "a", "new_string": "b"}
    async with Client(server(workspace, "sup/1", "--task", task["id"])) as agent:
        call = asyncio.ensure_future(agent.call_tool("permission_prompt", {"tool_name": "Edit", "input": edit,
                                                                           "tool_use_id": "toolu_1"}))
        request = await asyncio.to_thread(wait_for_request, workspace.store())
        assert (request.kind, request.tool, request.tool_input, request.text) == ("permission", "Edit", edit,
                                                                                   "Edit: /etc/hosts")
        assert workspace.run("answer", request.id, "--allow-tool").returncode == 0
        result = await call
        assert [c.type for c in result.content] == ["text"] and result.structured_content is None
        assert json.loads(result.content[0].text) == {"behavior": "allow", "updatedInput": edit}
        again = json.loads((await agent.call_tool("permission_prompt", {"tool_name": "Edit", "input": edit}))
                           .content[0].text)
        assert again["behavior"] == "allow" and len(workspace.store().requests().all()) == 1  # not asked again
        other = asyncio.ensure_future(agent.call_tool("permission_prompt", {"tool_name": "Bash",
                                                                            "input": {"command": "rm -rf /"}}))
        bash = await asyncio.to_thread(wait_for_request, workspace.store())
        assert workspace.run("answer", bash.id, "--deny", "no \x1b[2J").returncode == 0
        denied = json.loads((await other).content[0].text)
    assert denied == {"behavior": "deny", "message": "the operator denied this: no \\x1b[2J"}


async def test_an_unanswered_question_expires_after_the_lanes_time_and_the_agent_is_told(workspace):
    (workspace.config.parent / "lanes-tui.yaml").write_text("lanes: {slow: {request_timeout_seconds: 0.5}}\n")
    task = workspace.submit(lane="slow")
    async with Client(server(workspace, "sup/1", "--task", task["id"])) as agent:
        result = payload(await agent.call_tool("ask_operator", {"question": "anyone?"}))
    assert result["answered"] is False and "no answer by" in result["reason"] and "decide" in result["note"]
    (request,) = workspace.store().requests().all()
    assert request.state == "expired"  # written down, not only read so
    late = workspace.run("answer", request.id, "yes")
    assert late.returncode == 16 and "expired" in late.stderr


async def test_blockers_go_to_the_lead_as_a_message_or_to_a_human_whose_reply_is_a_message(workspace):
    task = workspace.submit()  # submitted by "test": the lead when no parent task runs
    async with Client(server(workspace, "sup/1", "--task", task["id"])) as agent:
        to_lead = payload(await agent.call_tool("report_blocker", {"summary": "schema unclear", "needs": "lead"}))
        assert to_lead["reported_to"] == "test"
        (message,) = workspace.store().messages().inbox("test")
        assert message.sender == "sup/1" and message.body == f"Blocked on task {task['id']}: schema unclear"

        to_human = payload(await agent.call_tool("report_blocker", {"summary": "need prod credentials"}))
        request = workspace.store().requests().get(to_human["request"])
        assert (request.kind, request.state) == ("blocker", "open")  # does not wait
        assert workspace.run("answer", request.id, "use", "staging", "--by", "ann").returncode == 0
        inbox = payload(await agent.call_tool("read_messages", {}))
        (reply,) = inbox["messages"]
        assert reply["from"] == "operator:ann" and reply["body"] == f"Reply to your blocker {request.id}: use staging"
        bad = await agent.call_tool("report_blocker", {"summary": "x", "needs": "boss"})
        assert bad.is_error and "needs: one of lead, human" in bad.content[0].text


async def test_a_blocker_for_the_lead_reaches_the_running_parent_tasks_agent(workspace):
    parent = workspace.submit(name="parent")
    claimed = workspace.store().claim(parent["id"], owner="sup-a", lease_seconds=600)
    child = workspace.submit(metadata={"parent_task_id": parent["id"]}, name="child")
    async with Client(server(workspace, f"sup-a/{child['id']}", "--task", child["id"])) as agent:
        sent = payload(await agent.call_tool("report_blocker", {"summary": "which API?", "needs": "lead"}))
    assert sent["reported_to"] == f"{claimed['claim_owner']}/{parent['id']}"


async def test_without_a_task_there_is_no_lead(workspace):
    async with Client(server(workspace, "alice")) as agent:
        refused = await agent.call_tool("report_blocker", {"summary": "x", "needs": "lead"})
    assert refused.is_error and "no lead" in refused.content[0].text


def test_answering_a_permission_request_needs_a_decision(workspace):
    request = workspace.store().requests().open(kind="permission", agent="w", text="Bash: make deploy",
                                                tool="Bash", tool_input={"command": "make deploy"},
                                                timeout_seconds=60)
    listed = workspace.run("requests", "--json")
    assert json.loads(listed.stdout)["requests"][0]["tool_input"] == {"command": "make deploy"}
    assert "tool Bash: {\"command\": \"make deploy\"}" in workspace.run("requests").stdout
    vague = workspace.run("answer", request.id, "ok")
    assert vague.returncode == 5 and "--allow" in vague.stderr
    both = workspace.run("answer", request.id, "--allow", "--deny")
    assert both.returncode == 64 and "Traceback" not in both.stderr
    denied = workspace.run("answer", request.id, "--deny", "not today", "--json")
    assert denied.returncode == 0 and json.loads(denied.stdout)["request"]["decision"] == "deny"
    assert workspace.store().requests().get(request.id).reply == "not today"


def test_a_client_gone_while_a_question_waits_ends_the_server_and_closes_the_request(workspace):
    """Claude Code or codex exiting mid-call: the server must not linger until the expiry."""
    params = server(workspace, "alice")
    proc = subprocess.Popen([params.command, *params.args], cwd=params.cwd, env=params.env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        for message in ({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                         "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": "test", "version": "1"}}},
                        {"jsonrpc": "2.0", "method": "notifications/initialized"},
                        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                         "params": {"name": "ask_operator", "arguments": {"question": "still there?"}}}):
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
        request = wait_for_request(workspace.store())
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    closed = workspace.store().requests().get(request.id)
    assert closed.state == "closed" and closed.reply == "the agent stopped waiting"


def test_the_protocol_edges_get_json_rpc_errors_and_the_server_keeps_serving(workspace):
    """What the SDK's client never sends, straight on the pipe: the server answers each request
    once, by id, never answers a notification, and a bad line or a bad argument ends nothing."""
    params = server(workspace, "alice")
    lines = [
        "not json at all",
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                    "params": {"protocolVersion": "1999-01-01", "capabilities": {}}}),
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json.dumps({"jsonrpc": "2.0", "id": 99, "result": {}}),  # a response to nothing: ignored
        json.dumps({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
        json.dumps({"jsonrpc": "2.0", "id": 3, "method": "resources/list"}),
        json.dumps({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "rm_rf", "arguments": {}}}),
        json.dumps({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                    "params": {"name": "lock_files", "arguments": {"paths": "src/app.py"}}}),
        json.dumps({"jsonrpc": "2.0", "id": 6, "method": "tools/call",
                    "params": {"name": "send_message", "arguments": {"to": "bob"}}}),
        json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                    "params": {"name": "lock_files", "arguments": {"paths": ["src/app.py"], "extra": 1}}}),
        json.dumps([1, 2]),
    ]
    done = subprocess.run([params.command, *params.args], cwd=params.cwd, env=params.env, text=True,
                          input="\n".join(lines) + "\n", capture_output=True, timeout=60)
    assert done.returncode == 0 and "Traceback" not in done.stderr
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    by_id = {reply["id"]: reply for reply in replies}
    assert len(replies) == 9 and set(by_id) == {None, 1, 2, 3, 4, 5, 6, 7}  # None: the bad line, the array
    assert [reply["error"]["code"] for reply in replies if reply["id"] is None] == [-32700, -32600]
    assert by_id[1]["result"]["protocolVersion"] == "2025-11-25"  # an unknown version: the newest known
    assert by_id[1]["result"]["capabilities"] == {"tools": {"listChanged": False}}
    assert by_id[2]["result"] == {}
    assert by_id[3]["error"]["code"] == -32601
    assert by_id[4]["error"]["code"] == -32602 and "rm_rf" in by_id[4]["error"]["message"]
    wrong_type, missing = by_id[5]["result"], by_id[6]["result"]
    assert wrong_type["isError"] and "paths must be a list of strings" in wrong_type["content"][0]["text"]
    assert missing["isError"] and "body is required" in missing["content"][0]["text"]
    locked = json.loads(by_id[7]["result"]["content"][0]["text"])  # an unknown argument is dropped
    assert [entry["key"] for entry in locked["locked"]] == ["path:src/app.py"]


async def test_every_tool_is_listed_with_the_schema_its_arguments_are_checked_against(workspace):
    async with Client(server(workspace, "alice")) as alice:
        listed = {tool.name: tool.input_schema for tool in (await alice.list_tools()).tools}
    assert set(listed) == TOOLS
    assert listed["lock_files"]["required"] == ["paths"]
    assert listed["lock_files"]["properties"]["paths"] == {"type": "array", "items": {"type": "string"}}
    assert listed["lock_files"]["properties"]["ttl_seconds"] == {"type": "number", "default": 900.0}
    assert listed["report_blocker"]["properties"]["needs"]["enum"] == ["lead", "human"]
    assert listed["permission_prompt"]["required"] == ["tool_name", "input"]


def test_a_task_that_does_not_exist_ends_the_server_at_once_though_the_client_keeps_it_open(workspace):
    """The queue opens beside the first answers; when opening fails, the server still ends with
    the error and its exit code, without waiting for the client to close stdin."""
    workspace.store()
    argv = [sys.executable, "-m", "lanes_tui", "--config", str(workspace.config), "mcp", "--as", "bob",
            "--task", "no-such-task"]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=workspace.root, text=True)
    try:
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                     "params": {"protocolVersion": "2025-06-18"}}) + "\n")
        proc.stdin.flush()
        code = proc.wait(60)  # stdin is still open
    finally:
        proc.kill()
    stderr = proc.stderr.read()
    assert code == 4 and "no-such-task" in stderr and "Traceback" not in stderr, stderr
    (line,) = stderr.strip().splitlines()


def test_flags_the_quick_start_does_not_know_go_through_the_whole_cli(workspace):
    """`mcp` skips building the CLI only for the flags it reads; anything else gets the CLI's
    own usage error, as before."""
    done = workspace.run("mcp", "--as", "bob", "--bogus", input="")
    assert done.returncode == 64 and "--bogus" in done.stderr and done.stdout == ""
    twice = workspace.run("mcp", "--as", "bob", "--as", "carol", input="")
    assert twice.returncode == 0 and twice.stdout == ""  # argparse's rule: the last one wins
