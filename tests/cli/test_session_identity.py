"""An interactive Claude Code session's MCP server (from the `.mcp.json` that `hooks --install`
writes) and its hooks agree on who the session is, also after `/clear` starts a new session in
the same Claude Code process (issue 13, part 1: the tools from an interactive session).

This test process plays Claude Code: it runs the installed hook commands through a shell and
starts the installed server as its own child, the way Claude Code 2.1.197 does both
(tests/realcli/test_interactive_session.py checks that against the real CLI).
"""

from __future__ import annotations

import json
import os
from typing import Any

from mcp import Client, StdioServerParameters

from lanes_tui.core import procinfo

from .claude_code import as_claude_code, entry_point_dir, install
from .test_hooks import edit_event


def installed_server(workspace: Any, session_env: str | None = None) -> StdioServerParameters:
    """The `.mcp.json` entry, started as Claude Code starts it: `lanes-tui` from PATH, in a folder
    below the project (where the user started claude), without LANES_AGENT_ID."""
    (entry,) = json.loads((workspace.root / ".mcp.json").read_text())["mcpServers"].values()
    below = workspace.root / "src"
    below.mkdir(exist_ok=True)
    env = {"PATH": os.pathsep.join([str(entry_point_dir(workspace.root.parent / "entry-point")), "/usr/bin", "/bin"]),
           "CLAUDE_PROJECT_DIR": str(below)}
    if session_env is not None:
        env["CLAUDE_CODE_SESSION_ID"] = session_env
    return StdioServerParameters(command=entry["command"], args=entry["args"], cwd=str(below), env=env)


def start_session(workspace: Any, settings: dict, session_id: str, source: str = "startup") -> None:
    workspace.store()  # the queue exists (a hook on a repository without one does nothing)
    started = as_claude_code(settings, "SessionStart", workspace.root,
                             {"session_id": session_id, "source": source, "cwd": str(workspace.root)}, agent=None)
    assert started.returncode == 0, started.stderr
    assert f"you are agent claude-session:{session_id}" in started.stdout


async def lock(client: Client, path: str) -> Any:
    return await client.call_tool("lock_files", {"paths": [path]})


def owners(workspace: Any) -> dict[str, str]:
    return {state.record.key: state.record.owner for state in workspace.store().locks().states()}


async def test_the_server_acts_as_the_session_the_hooks_registered_and_follows_clear(workspace):
    settings = install(workspace.config)
    start_session(workspace, settings, "s-first")
    record = workspace.store().presence().get("claude-session:s-first")
    # Registered with this process (the one that ran the hook through a shell), so it shows
    # offline once that process is gone, and the server can find it.
    assert record.pid == os.getpid() and record.pid_start == procinfo.start_time(os.getpid())

    async with Client(installed_server(workspace, session_env="s-first")) as server:
        assert not (await lock(server, "src/app.py")).is_error
        assert owners(workspace) == {"path:src/app.py": "claude-session:s-first"}
        # The session's own edit goes through its PreToolUse hook; another session's is blocked.
        mine = as_claude_code(settings, "PreToolUse", workspace.root,
                              edit_event("src/app.py", workspace.root, session="s-first"), agent=None)
        assert mine.returncode == 0, mine.stderr
        theirs = as_claude_code(settings, "PreToolUse", workspace.root,
                                edit_event("src/app.py", workspace.root, session="s-other"), agent=None)
        assert theirs.returncode == 2 and "locked by claude-session:s-first" in theirs.stderr

        # /clear: a new session in the same Claude Code process, the server still running with the
        # old id in its environment. It now acts as the new session, as the hooks do.
        start_session(workspace, settings, "s-cleared", source="clear")
        assert not (await lock(server, "src/next.py")).is_error
        assert owners(workspace)["path:src/next.py"] == "claude-session:s-cleared"
        edit = as_claude_code(settings, "PreToolUse", workspace.root,
                              edit_event("src/next.py", workspace.root, session="s-cleared"), agent=None)
        assert edit.returncode == 0, edit.stderr


async def test_without_hooks_the_session_id_from_claude_code_names_it_and_without_either_a_tool_says_so(workspace):
    install(workspace.config)
    async with Client(installed_server(workspace, session_env="s-env")) as server:
        assert not (await lock(server, "src/app.py")).is_error
    assert owners(workspace) == {"path:src/app.py": "claude-session:s-env"}

    async with Client(installed_server(workspace)) as nameless:
        refused = await lock(nameless, "src/b.py")
        assert refused.is_error and "who is the agent?" in refused.content[0].text
        assert "lanes-tui hooks --install" in refused.content[0].text
        # The server itself stays up for the next call.
        assert {tool.name for tool in (await nameless.list_tools()).tools} >= {"lock_files", "ask_operator"}
    assert set(owners(workspace)) == {"path:src/app.py"}


def test_a_session_registered_by_another_process_is_not_taken(workspace):
    """Only the server's own Claude Code process counts: a session another process registered
    (another claude in the same repository) never lends its name."""
    from lanes_tui.agent_tools.session_identity import current_session

    presence = workspace.store().presence()
    presence.register("claude-session:elsewhere", pid=os.getpid())
    parent = os.getppid()
    assert current_session(presence, parent, {"CLAUDE_CODE_SESSION_ID": "mine"}) == "claude-session:mine"
    assert current_session(presence, os.getpid(), {}) == "claude-session:elsewhere"  # control: found by its pid


def test_the_session_process_is_found_past_the_shell(tmp_path):
    """The hook runs as `sh -c "lanes-tui ... hook session-start"`; its session is the process that
    started the shell, whether or not the shell execs the command."""
    import subprocess
    import sys

    script = "from lanes_tui.agent_tools.session_identity import session_process; print(session_process())"
    for command in (f"{sys.executable} -c '{script}'", f"{sys.executable} -c '{script}'; true"):
        ran = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=30, check=True)
        assert int(ran.stdout) == os.getpid(), command
