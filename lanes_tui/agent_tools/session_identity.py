"""Who an interactive Claude Code session is, so its MCP server and its hooks agree.

The hooks name a session `claude-session:<session id>` (the id Claude Code gives
them on stdin). The MCP server Claude Code starts from the project's `.mcp.json`
gets no stdin of that kind, and the id it finds in `CLAUDE_CODE_SESSION_ID` is
the one of the session it started in: `/clear` starts a new session (new id, a
new SessionStart hook) in the same Claude Code process, and the server keeps
running. So the SessionStart hook registers the session with the pid of that
Claude Code process (`session_process`), and the server asks, at every call,
which session its parent process registered last (`current_session`). The
environment variable is the fallback for a session whose hooks are not
installed (claude started in a subfolder runs no project hooks).

Linux only (/proc), like the rest of the process bookkeeping.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from lanes_tui.core import procinfo
from lanes_tui.core.errors import InvalidInput
from lanes_tui.core.presence import Presence

SESSION_PREFIX = "claude-session:"
SESSION_ENV = "CLAUDE_CODE_SESSION_ID"  # set by Claude Code for its MCP servers (2.1.154 and later)
# Claude Code runs a hook command through a shell, which may or may not exec it: the session's
# process is the nearest ancestor that is not one of these.
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "fish", "busybox"})
MAX_HOPS = 4


def session_agent(session_id: str) -> str:
    return f"{SESSION_PREFIX}{session_id or 'unknown'}"


def session_process(start: int | None = None) -> int | None:
    """The Claude Code process that ran this hook: the first ancestor past the shells."""
    pid = procinfo.parent_of(os.getpid()) if start is None else start
    for _ in range(MAX_HOPS):
        if pid is None or pid <= 1:
            return None
        if procinfo.command_name(pid) not in SHELLS:
            return pid
        pid = procinfo.parent_of(pid)
    return None


def current_session(presence: Presence, parent_pid: int, env: Mapping[str, str]) -> str:
    """The id of the session that `parent_pid` (the server's Claude Code) registered last, else
    the one in the environment; InvalidInput (the tool's error) when neither names one."""
    start = procinfo.start_time(parent_pid)
    registered = [state.record for state in presence.agents()
                  if state.record.id.startswith(SESSION_PREFIX) and state.record.pid == parent_pid
                  and start is not None and state.record.pid_start == start and state.record.host == presence.host]
    if registered:
        return max(registered, key=lambda record: record.registered_at).id
    if env.get(SESSION_ENV):
        return session_agent(env[SESSION_ENV])
    raise InvalidInput("who is the agent? start the server with --as NAME, set LANES_AGENT_ID, or run it "
                       "from Claude Code with lanes-tui's hooks installed (lanes-tui hooks --install)")


def session_identity(presence: Presence, parent_pid: int | None = None,
                     env: Mapping[str, str] | None = None) -> Callable[[], str]:
    """`current_session`, asked again at each call."""
    parent = os.getppid() if parent_pid is None else parent_pid
    environment = os.environ if env is None else env
    return lambda: current_session(presence, parent, environment)
