"""A Claude Code session the person runs themselves (not a supervised worker) in a repository
after `lanes-tui hooks --install`: the real claude starts lanes-tui's MCP server from the
project's `.mcp.json`, and the locks it takes through the server belong to the same agent the
hooks see, so the session's own edit goes through and another agent's lock still blocks it
(issue 13, part 1). `claude -p` runs the same hooks and project servers as the terminal UI.
"""

from __future__ import annotations

import json
import subprocess
import sys

from lanes_tui.core.locks import lock_key_for_path

from .harness import request_text


def test_the_session_locks_through_the_mcp_server_as_the_agent_its_hooks_see(agents):
    workspace = agents.workspace
    (workspace.root / "src").mkdir()
    store = workspace.store()
    alice = store.locks().acquire(lock_key_for_path("src/theirs.py", workspace_root=workspace.root,
                                                    cwd=workspace.root),
                                  owner="alice", ttl_seconds=600, reason="alice is writing it")
    assert alice.owner == "alice"
    # --absolute: this interpreter, as the sandbox's PATH has no lanes-tui console script.
    installed = subprocess.run([sys.executable, "-m", "lanes_tui", "--config", str(workspace.config), "hooks",
                                "--install", "--absolute"], capture_output=True, text=True, timeout=60)
    assert installed.returncode == 0, installed.stderr
    def write(name: str, content: str) -> dict:
        return {"tool": {"name": "Write", "input": {"file_path": str(workspace.root / "src" / name),
                                                    "content": content}}}

    scenario = {"anthropic": [
        {"tool": {"name": "mcp__lanes__lock_files", "input": {"paths": ["src/mine.py"], "reason": "new module"}}},
        write("mine.py", "x = 1\n"), write("theirs.py", "y\n"), {"text": "Done."}]}
    box, code = agents.cli("claude", ["-p", "--output-format", "stream-json", "--verbose",
                                      "--permission-mode", "acceptEdits"], scenario, "Add src/mine.py.")
    assert code == 0, f"stdout:\n{box.stdout()[-3000:]}\nstderr:\n{box.stderr()[-3000:]}"
    init = next(json.loads(line) for line in box.stdout().splitlines() if '"subtype":"init"' in line)
    assert {"name": "lanes", "status": "connected"} in init["mcp_servers"]
    me = f"claude-session:{init['session_id']}"

    # The SessionStart hook registered the session with the claude process itself ...
    record = store.presence().get(me)
    assert record is not None and record.pid == box.child_pid()
    # ... the server, started by that process, locked as that session ...
    held = {state.record.key: state.record.owner for state in store.locks().states()}
    assert held == {"path:src/mine.py": me, "path:src/theirs.py": "alice"}
    # ... so the PreToolUse hook let the session write its own file, and blocked alice's.
    assert (workspace.root / "src" / "mine.py").read_text() == "x = 1\n"
    assert not (workspace.root / "src" / "theirs.py").exists()
    requests = box.requests()
    assert "src/theirs.py is locked by alice" in request_text(requests[3])
    assert "is locked by" not in request_text(requests[2])
