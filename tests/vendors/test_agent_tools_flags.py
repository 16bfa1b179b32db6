"""The MCP server's flags per CLI dialect: whatever the paths hold, each CLI's own parser (JSON
for claude's --mcp-config, TOML for codex's -c) reads back the exact command line."""

from __future__ import annotations

import json
import tomllib

from hypothesis import given
from hypothesis import strategies as st

from lanes_tui.settings import load_settings
from lanes_tui.vendors.agent_tools_flags import ToolsServer, attach_env, attach_flags
from lanes_tui.vendors.argv import build_command

SETTINGS = load_settings(None, config_dir=None)
HOSTILE_PATHS = ['/srv/x/a "quoted" dir/python', "/srv/x/back\\slash/x", "/srv/x/new\nline", "/srv/x/del\x7fete",
                 "/srv/x/ünï/çødé/🐍", "/srv/x/tab\there", "--config=/x", "' or 1=1; --"]
# What a path can hold (no NUL: argv cannot carry it).
PATH_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)


def codex_overrides(flags: tuple[str, ...]) -> dict:
    assert flags[::2] == ("-c",) * (len(flags) // 2)
    out = {}
    for item in flags[1::2]:
        key, _, value = item.partition("=")
        out[key] = tomllib.loads(f"v = {value}")["v"]
    return out


@given(command=PATH_TEXT.filter(bool), args=st.lists(PATH_TEXT, max_size=6))
def test_the_command_line_survives_both_dialects(command, args):
    server = ToolsServer((command, *args), 30)
    claude = attach_flags("claude", server)
    assert claude[0] == "--mcp-config" and claude[2:] == ("--allowedTools", "mcp__lanes")
    entry = json.loads(claude[1])["mcpServers"]["lanes"]
    assert (entry["command"], entry["args"]) == (command, args)
    codex = codex_overrides(attach_flags("codex", server))
    assert (codex["mcp_servers.lanes.command"], codex["mcp_servers.lanes.args"]) == (command, args)


def test_hostile_paths_read_back_exactly():
    for path in HOSTILE_PATHS:
        server = ToolsServer((path, "-m", "lanes_tui", f"--config={path}", "mcp"), 1800)
        codex = codex_overrides(attach_flags("codex", server))
        assert codex["mcp_servers.lanes.command"] == path
        assert codex["mcp_servers.lanes.args"] == ["-m", "lanes_tui", f"--config={path}", "mcp"]
        assert json.loads(attach_flags("claude", server)[1])["mcpServers"]["lanes"]["command"] == path


def test_a_question_may_wait_its_time_on_both_clis():
    server = ToolsServer(("python",), 1800)
    assert codex_overrides(attach_flags("codex", server))["mcp_servers.lanes.tool_timeout_sec"] == 1860
    assert attach_env("claude", server) == {"MCP_TOOL_TIMEOUT": "1860000"}
    assert attach_env("codex", server) == {}
    assert attach_flags("claude", None) == () and attach_env("claude", None) == {}


def test_build_command_puts_the_flags_where_the_placeholder_is():
    server = ToolsServer(("/venv/bin/python", "-m", "lanes_tui", "mcp"), 60)
    claude = build_command(SETTINGS.vendor("claude"), None, None, agent_tools=server)
    assert claude.argv[-4:] == attach_flags("claude", server) and claude.agent_tools
    assert claude.env["MCP_TOOL_TIMEOUT"] == "120000" and claude.env["CLAUDE_CODE_MAX_RETRIES"] == "2"
    codex = build_command(SETTINGS.vendor("codex"), None, None, agent_tools=server)
    flags = attach_flags("codex", server)
    at = codex.argv.index(flags[0], codex.argv.index("-C"))
    assert codex.argv[at:at + len(flags)] == flags and codex.argv[-2:] == ("--skip-git-repo-check", "-")
    # No server, or a vendor without the placeholder (the demo agent): the argv of before.
    assert build_command(SETTINGS.vendor("claude"), None, None).argv == claude.argv[:-4]
    demo = build_command(SETTINGS.vendor("demo"), None, None, agent_tools=server)
    assert demo.argv == build_command(SETTINGS.vendor("demo"), None, None).argv and not demo.agent_tools
    assert "MCP_TOOL_TIMEOUT" not in demo.env
