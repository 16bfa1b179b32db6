"""The command that starts lanes-tui's MCP server for this queue, for the workers' vendor configs.

The server runs in another process, started by the agent's CLI from the worker's
working directory (a worktree, perhaps), so everything that says which queue it
serves is on its command line, absolute: the interpreter running this lanes-tui
(no PATH lookup, the same version), the handoff.yaml, the store and the settings
file. The supervisor adds the worker's agent id and task.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lanes_tui.core.handoff import RuntimeConfig
    from lanes_tui.settings import Settings
    from lanes_tui.storage.base import Backend


def agent_tools_command(store: Backend, config: RuntimeConfig | None, settings: Settings) -> tuple[str, ...] | None:
    """`python -m lanes_tui [--config F] --store S [--settings F] mcp`; None when no other
    process can open this store."""
    address = store.address
    if address is None:
        return None
    argv = [sys.executable, "-m", "lanes_tui"]
    if config is not None:
        argv.append(f"--config={config.path}")
    argv.append(f"--store={address}")
    if settings.path is not None:
        argv.append(f"--settings={settings.path.absolute()}")
    return (*argv, "mcp")
