"""`lanes-tui mcp`: the agent tools (messages, locks, intents, decisions, questions and blockers
for a person) as an MCP server on stdio.

Who the agent is: `--as NAME`, else `LANES_AGENT_ID` (set for every worker the
supervisor starts), else, started by an interactive Claude Code session from the
project's `.mcp.json` (`hooks --install` writes it), that session as its hooks
name it, looked up at each call (agent_tools/session_identity.py). Its task:
`--task`, else `LANES_TASK_ID` (its lane's `request_timeout_seconds` bounds how
long a question waits). A relative `--config` that does not exist here is
looked for in the parent folders, as git finds its repository, and a relative
`--store` taken from the same folder: Claude Code starts the server in the
folder it was started in, which may be below the project's root. stdout is the protocol's, so problems before the
server runs go to stderr with the CLI's exit codes (4 no queue, 5 a reserved or
missing name, 64 bad flags).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lanes_tui.agent_tools.tools import AgentTools

AGENT_ENV = "LANES_AGENT_ID"
TASK_ENV = "LANES_TASK_ID"


def run(args: argparse.Namespace) -> int:
    return serve_tools(args.config, args.store, args.settings, args.as_name, args.task)


def serve_tools(config: str | None, store_path: str | None, settings_path: str | None, as_name: str | None,
                task: str | None) -> int:
    from lanes_tui.agent_tools.stdio_server import serve
    from lanes_tui.agent_tools.tools import check_agent

    named = as_name or os.environ.get(AGENT_ENV)
    if named:
        check_agent(named)  # a bad name is refused before anything is served
    task_id = task or os.environ.get(TASK_ENV) or None
    config, store_path = _from_project_root(config, store_path)

    def open_tools() -> AgentTools:
        from lanes_tui.agent_tools.session_identity import session_identity
        from lanes_tui.agent_tools.tools import AgentTools
        from lanes_tui.wiring import open_queue

        # A bare --store (no handoff.yaml there) works too: the repository is then where it runs.
        queue = open_queue(config, store=store_path, settings=settings_path)
        store, settings = queue.store, queue.settings
        lane = store.read_task(task_id)["lane"] if task_id else None  # NotFound (exit 4) for a wrong id
        return AgentTools(store, named or session_identity(store.presence()),
                          queue.config.workspace_root if queue.config else Path.cwd(),
                          task_id=task_id, lane=lane,
                          request_timeout=settings.lane(lane).request_timeout_seconds if lane else
                          settings.lane_defaults.request_timeout_seconds)

    serve(open_tools)
    return 0


def fast_path(argv: list[str]) -> int | None:
    """`[--config C] [--store S] [--settings F] mcp [--as NAME] [--task ID]` (either `--opt value` or
    `--opt=value`) without building the whole CLI: every worker's CLI waits for this server
    before its first model call. None for anything else (the full CLI then parses it)."""
    options, rest = _options(argv, ("--config", "--store", "--settings"))
    if not rest or rest[0] != "mcp" or options is None:
        return None
    own, extra = _options(rest[1:], ("--as", "--task"))
    if own is None or extra:
        return None
    return serve_tools(options.get("--config"), options.get("--store"), options.get("--settings"),
                       own.get("--as"), own.get("--task"))


def _options(argv: list[str], names: tuple[str, ...]) -> tuple[dict[str, str] | None, list[str]]:
    """The leading `names` options with their values, and what follows; None when one is given
    twice or has no value."""
    found: dict[str, str] = {}
    rest = list(argv)
    while rest:
        name, has_value, value = rest[0].partition("=")
        if name not in names:
            break
        if not has_value:
            if len(rest) < 2:
                return None, rest
            value, rest = rest[1], rest[1:]
        if name in found:
            return None, rest
        found[name] = value
        rest = rest[1:]
    return found, rest


def _from_project_root(config: str | None, store: str | None) -> tuple[str | None, str | None]:
    """`config` and `store` as given, or, when a relative config given is not here, both relative
    to the nearest parent folder that has it."""
    if config is None:
        return config, store
    wanted = Path(config)
    if wanted.is_absolute() or wanted.exists():
        return config, store
    for folder in Path.cwd().parents:
        if (folder / wanted).is_file():
            relocated = store if store is None or Path(store).is_absolute() else str(folder / store)
            return str(folder / wanted), relocated
    return config, store


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    mcp = sub.add_parser("mcp", parents=parents,
                         help="the agent tools (messages, locks, intents, decisions, questions for a person) "
                              "as an MCP server on stdio")
    mcp.add_argument("--as", dest="as_name",
                     help=f"the agent's id (default: ${AGENT_ENV}, else the Claude Code session that started it)")
    mcp.add_argument("--task", help=f"the task the agent works on (default: ${TASK_ENV})")
