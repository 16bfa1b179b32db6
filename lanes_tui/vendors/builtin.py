"""The built-in vendor tables, in lanes-tui.yaml's own schema (pure data).

They go through the same parser as the user's file (settings.py), so a typo
here fails the same way a typo there would. Every flag and model name below was
checked against the pinned CLIs (Claude Code 2.1.197, codex-cli 0.171.0; see
tests/realcli, which run them) and prices against the vendors' price pages
(Claude: the CLI's own cost figures; OpenAI: developers.openai.com, 2026-12-02).
docs/settings.md explains how to follow a rename without waiting for a release.
"""

from __future__ import annotations

import json
import sys
from typing import Any

CLAUDE_EFFORTS = ("low", "medium", "high", "xhigh", "max")  # `claude --help`: --effort <level>
CODEX_EFFORTS = ("low", "medium", "high", "xhigh", "max", "ultra")  # `codex debug models`

# Claude Code's own sandbox (bubblewrap + socat on Linux) confines Bash to the working tree;
# without it Claude Code falls back to its permission rules, which `-p` turns into denials.
CLAUDE_EDIT_SANDBOX = json.dumps(
    {"sandbox": {"enabled": True, "autoAllowBashIfSandboxed": True, "allowUnsandboxedCommands": False}},
    separators=(",", ":"),
)
CLAUDE_EDIT_TOOLS = "Write,Edit,MultiEdit,NotebookEdit"
CLAUDE_PROMPT_TOOL = "mcp__lanes__permission_prompt"  # agent_tools/catalog.py


def _per_level(levels: tuple[str, ...], *flag: str) -> dict[str, list[str]]:
    return {level: [*flag[:-1], flag[-1].format(level=level)] for level in levels}


def builtin_vendors() -> dict[str, dict[str, Any]]:
    claude_args = ["-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages",
                   "--model", "{model}", "{effort}", "{permissions}"]
    # {agent_tools}: lanes-tui's MCP server (vendors/agent_tools_flags.py); the demo agent has no MCP client.
    return {
        "claude": {
            "executable": "claude",
            "args": [*claude_args, "{agent_tools}"],
            "models": {"opus": "claude-opus-4-8", "sonnet": "claude-sonnet-5", "haiku": "claude-haiku-4-5",
                       "fable": "claude-fable-5", "any": "claude-sonnet-5"},
            "efforts": _per_level(CLAUDE_EFFORTS, "--effort", "{level}"),
            "default_effort": None,  # the CLI's per-model default (sonnet: high, opus: xhigh)
            "models_without_effort": ["claude-haiku-*"],  # the CLI sends no effort for haiku
            "permissions": {
                # dontAsk denies whatever is not pre-approved; the edit tools are denied outright
                # so that an allow rule in the operator's own settings cannot re-open them.
                "read-only": ["--permission-mode", "dontAsk", "--disallowedTools", CLAUDE_EDIT_TOOLS],
                "edit": ["--permission-mode", "acceptEdits", "--settings", CLAUDE_EDIT_SANDBOX],
                # What edit allows; the rest goes to the operator through lanes-tui's MCP server
                # (the {agent_tools} item) instead of being denied.
                "ask": ["--permission-mode", "acceptEdits", "--settings", CLAUDE_EDIT_SANDBOX,
                        "--permission-prompt-tool", CLAUDE_PROMPT_TOOL],
                "trusted": ["--permission-mode", "bypassPermissions"],
            },
            "prices": {  # US$ per million tokens; cache writes 1.25x input, cache reads 0.1x
                "claude-fable-5": {"input": 10, "output": 50, "cache_read": 1, "cache_write": 12.5},
                "claude-opus-4-*": {"input": 5, "output": 25, "cache_read": 0.5, "cache_write": 6.25},
                "claude-sonnet-*": {"input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75},
                "claude-haiku-4-*": {"input": 1, "output": 5, "cache_read": 0.1, "cache_write": 1.25},
            },
            # Claude Code retries an API error itself, up to 10 times over minutes, by default;
            # two retries leave rate limits to the supervisor's vendor-wide cool-down.
            "max_api_retries": 2,
            "stream": "claude",
            "env": {
                "allow": ["ANTHROPIC_API_KEY", "ANTHROPIC_*", "CLAUDE_*"],
                "set": {"CLAUDE_CODE_MAX_RETRIES": "{max_api_retries}",
                        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"},
            },
        },
        "codex": {
            "executable": "codex",
            "args": ["exec", "--json", "-m", "{model}", "{effort}", "{permissions}", "{agent_tools}",
                     "--skip-git-repo-check", "-"],
            "models": {"sol": "gpt-6.2-sol", "astra": "gpt-6.2-astra", "luna": "gpt-6-luna", "any": "gpt-6.2-sol"},
            "efforts": _per_level(CODEX_EFFORTS, "-c", "model_reasoning_effort={level}"),
            "default_effort": None,  # the model's default from codex's catalog
            "permissions": {
                "read-only": ["-s", "read-only", "-c", "approval_policy=never", "-C", "{workdir}"],
                # /tmp is shared with everyone: only the working tree and the worker's own TMPDIR.
                "edit": ["-s", "workspace-write", "-c", "approval_policy=never",
                         "-c", "sandbox_workspace_write.exclude_slash_tmp=true", "-C", "{workdir}"],
                "trusted": ["--dangerously-bypass-approvals-and-sandbox", "-C", "{workdir}"],
            },
            "prices": {
                "gpt-6.2-sol": {"input": 2, "output": 10, "cache_read": 0.1, "cache_write": 2.5},
                "gpt-6.2-astra": {"input": 8, "output": 40, "cache_read": 0.4},
                "gpt-6-luna": {"input": 0.1, "output": 0.5, "cache_read": 0.01, "cache_write": 0.125},
            },
            "stream": "codex",
            "env": {
                "allow": ["OPENAI_API_KEY", "OPENAI_*", "CODEX_*"],
                # Codex leaves sandbox denials out of its --json stream; at warn level it logs them.
                "set": {"RUST_LOG": "error,codex_sandboxing=warn"},
            },
        },
        "demo": {
            # The interpreter running lanes-tui, so the demo works in any venv without PATH.
            "executable": [sys.executable, "-m", "lanes_tui.vendors.demo_agent"],
            "args": claude_args,
            "models": {"any": "demo", "opus": "demo", "sonnet": "demo", "haiku": "demo"},
            "efforts": {level: [] for level in CLAUDE_EFFORTS},
            "default_effort": None,
            "permissions": {"read-only": [], "edit": [], "trusted": []},  # it touches no files
            "stream": "claude",
            "env": {"allow": ["DEMO_AGENT_*"]},
        },
    }
