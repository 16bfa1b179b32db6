"""`lanes-tui` with no subcommand: the dashboard (Textual is imported only here).

Opens on `--config` (default handoff/handoff.yaml) or on `--store` alone (then
submitting from the dashboard is unavailable: it needs the workspace). Embeds
the supervisor unless `--watch-only`. Whatever way the app ends, no worker of
ours outlives it and no claim of ours is left without a reason: a clean quit
winds the supervisor down; anything else (a crash of the UI) falls through
to `abandon_now`, which kills our worker groups and releases their claims.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lanes_tui.core.errors import ConfigError, InternalError, UsageError
from lanes_tui.core.handoff import RuntimeConfig, load_config
from lanes_tui.core.paths import expand_user
from lanes_tui.settings import Settings, load_settings
from lanes_tui.storage import open_store
from lanes_tui.storage.base import Backend

if TYPE_CHECKING:
    from lanes_tui.engine.board import Board


def run(args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # Textual would write its escape sequences into a pipe or a log file.
        raise UsageError("the dashboard needs a terminal; for CI and servers run `lanes-tui --no-ui`")
    config: RuntimeConfig | None = None
    if args.store and not Path(args.config).exists():
        store_root = expand_user(args.store, "--store").resolve()
        settings = load_settings(args.settings, config_dir=None)
    else:
        config = load_config(args.config, store_override=args.store)
        store_root = config.store_root
        settings = load_settings(args.settings, config_dir=config.path.parent)
    if config is None and not store_root.is_dir():
        raise ConfigError(f"no queue at {store_root}: run `lanes-tui init` first, or pass --store")
    store = open_store(store_root)  # a configured queue not used yet is created, as submit would
    name = config.workspace_id if config else store_root.name
    return open_dashboard(store, settings, config=config, name=name, watch_only=args.watch_only)


def open_dashboard(store: Backend, settings: Settings, *, config: RuntimeConfig | None, name: str,
                   watch_only: bool) -> int:
    from lanes_tui.engine.board import Board
    from lanes_tui.engine.notify_hook import NotifyHook
    from lanes_tui.ui.app import LanesApp

    board = Board(store, settings, config=config, watch_only=watch_only)
    hook = NotifyHook(settings.notify_command) if settings.notify_command else None
    app = LanesApp(board, queue_name=name, keymap=dict(settings.keys), notify=hook)
    try:
        code = app.run()
    finally:
        settle_after_exit(board)
        for problem in app.worker_errors:  # shown as toasts; a line each once the terminal is back
            print(f"lanes-tui: dashboard: internal error in {problem}", file=sys.stderr)
    if code is None:
        raise InternalError("the dashboard stopped unexpectedly; its workers were stopped and their claims released")
    return code


def settle_after_exit(board: "Board") -> list[str]:
    """After the app's loop is gone: if the supervisor did not wind down (the UI crashed or was
    torn down mid-way), kill our worker groups and release their claims with a reason."""
    supervisor = board.supervisor
    if supervisor is not None and supervisor.registry.holds_lock:
        return supervisor.abandon_now("dashboard exited unexpectedly; claim released")
    return []
