"""lanes-tui's MCP server in the real CLIs' vendor configs (issue 13): a supervised worker asks the
operator through it, the operator answers with `lanes-tui answer`, the model gets the answer.

The stand-in model calls the tool the way each CLI names it: claude offers
`mcp__lanes__ask_operator` from the start (it connects its MCP servers before
the first request); codex 0.171 defers MCP tools and announces the namespace
`mcp__lanes` once the server is up, so the scripted model waits to be told of
it (`once_told`) and calls `ask_operator` in that namespace.
"""

from __future__ import annotations

import json

import pytest

from lanes_tui.core.requests import ANSWERED

from .harness import BOUND, request_text, require_tools, wait_until

QUESTION = "Which database should the cache use?"
OPTIONS = ["postgres", "sqlite"]
ASK = {"question": QUESTION, "options": OPTIONS}


def _the_question(agents, box):
    return wait_until(lambda: next(iter(agents.store().requests().pending()), None), "the worker's question",
                      BOUND, box)


def _answer_and_finish(agents, box, task):
    request = _the_question(agents, box)
    assert (request.task_id, request.text, request.options) == (task["id"], QUESTION, tuple(OPTIONS))
    assert request.agent.endswith(f"/{task['id']}")  # the worker's own identity, <supervisor>/<task>
    answered = agents.workspace.run("answer", request.id, "--option", "1")
    assert answered.returncode == 0, answered.stderr
    code = box.finish()
    assert code == 0, f"exit {code}\nstdout:\n{box.stdout()[-3000:]}\nstderr:\n{box.stderr()[-3000:]}"
    final = agents.store().requests().get(request.id)
    assert final.state == ANSWERED and final.reply == "postgres"
    response = agents.store().read_response(task["id"])
    assert response["status"] == "completed" and response["body"] == "Going with postgres."
    events = [e["type"] for e in agents.store().read_events(task["id"]).events]
    assert "input_requested" in events and "input_answered" in events
    return request


def test_claude_asks_the_operator_through_the_mcp_server(agents):
    agents.settings()
    task = agents.submit(metadata={"required_vendor": "claude"})
    box = agents.supervise({"anthropic": [{"tool": {"name": "mcp__lanes__ask_operator", "input": ASK}},
                                          {"text": "Going with postgres."}]})
    _answer_and_finish(agents, box, task)
    offered = {tool["name"] for tool in box.requests()[0]["body"]["tools"]}
    assert {"mcp__lanes__ask_operator", "mcp__lanes__report_blocker", "mcp__lanes__lock_files"} <= offered
    # The tool's result, as the model got it: the operator's answer (the read-only preset let it run).
    result = request_text(box.requests()[1])
    assert '\\"answered\\":true' in result.replace(" ", "") and '\\"answer\\":\\"postgres\\"' in result.replace(" ", "")


def test_codex_asks_the_operator_through_the_mcp_server(agents):
    agents.settings()
    task = agents.submit(metadata={"required_vendor": "codex"})
    ask = {"tool": {"name": "ask_operator", "namespace": "mcp__lanes", "input": ASK}}
    waiting = {"tool": {"name": "exec_command", "input": {"cmd": "sleep 0.2"}}}
    box = agents.supervise({"openai": [{"once_told": "mcp__lanes", "then": ask, "meanwhile": waiting},
                                       {"text": "Going with postgres."}]})
    _answer_and_finish(agents, box, task)
    # The call's output, as the model got it: the operator's answer (pre-approved: `approval_policy=never`
    # would refuse an MCP call that needs approval).
    last = box.requests()[-1]["body"]["input"]
    (output,) = [item for item in last if item.get("type") == "function_call_output"][-1:]
    items = output["output"] if isinstance(output["output"], list) else [{"text": output["output"]}]
    (answer,) = [json.loads(item["text"]) for item in items if item.get("text", "").startswith("{")]
    assert answer["answered"] is True and answer["answer"] == "postgres"


# -- the ask preset: a tool call outside the preset is a request to the operator --------------------


def _the_permission_request(agents, box):
    return wait_until(lambda: next((r for r in agents.store().requests().pending() if r.kind == "permission"), None),
                      "the permission request", BOUND, box)


@pytest.mark.parametrize("answer", ["allow", "deny", "unanswered"])
def test_claude_ask_preset_asks_the_operator_instead_of_denying(agents, answer):
    require_tools("bwrap", "socat", why="Claude Code's sandbox for commands (the ask preset includes edit's)")
    agents.settings(lanes={"dev": {"permissions": "ask", "request_timeout_seconds": 3 if answer == "unanswered" else 60}})
    outside = agents.root / "outside.txt"  # beside the repository: edit alone would deny it
    task = agents.submit(lane="dev", metadata={"required_vendor": "claude"})
    write = {"tool": {"name": "Write", "input": {"file_path": str(outside), "content": "approved\n"}}}
    box = agents.supervise({"anthropic": [write, {"text": "done"}]})
    request = _the_permission_request(agents, box)
    assert (request.tool, request.task_id) == ("Write", task["id"])
    assert request.tool_input["file_path"] == str(outside) and request.text == f"Write: {outside}"
    if answer == "allow":
        done = agents.workspace.run("answer", request.id, "--allow")
        assert done.returncode == 0, done.stderr
    elif answer == "deny":
        done = agents.workspace.run("answer", request.id, "--deny", "not outside the repository")
        assert done.returncode == 0, done.stderr
    code = box.finish()
    assert code == 0, f"exit {code}\nstdout:\n{box.stdout()[-3000:]}\nstderr:\n{box.stderr()[-3000:]}"
    response = agents.store().read_response(task["id"])
    assert response["status"] == "completed" and response["metadata"]["permissions"] == "ask"
    told = request_text(box.requests()[1])
    if answer == "allow":
        assert outside.read_text() == "approved\n"
    else:
        assert not outside.exists()
        assert ("not outside the repository" if answer == "deny" else "nobody answered") in told
