"""`lanes-tui` with no subcommand: the dashboard (Textual is imported only here).

Opens on `--config` (default handoff/handoff.yaml) or on `--store` alone (then
submitting from the dashboard is unavailable: it needs the workspace). Embeds
the supervisor unless `--watch-only`. Whatever way the app ends, no worker of
ours outlives it and no claim of ours is left without a reason: a clean quit
winds the supervisor down; anything else (a crash of the UI) falls through
to `Engine.abandon_now`, which kills our worker groups and releases their claims.
"""

from __future__ import annotations

import argparse
import sys

from lanes_tui.core.errors import InternalError, UsageError
from lanes_tui.wiring import Queue, build_app, build_engine, open_queue


def run(args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # Textual would write its escape sequences into a pipe or a log file.
        raise UsageError("the dashboard needs a terminal; for CI and servers run `lanes-tui --no-ui`")
    queue = open_queue(args.config, store=args.store, settings=args.settings)
    return open_dashboard(queue, watch_only=args.watch_only)


def open_dashboard(queue: Queue, *, watch_only: bool) -> int:
    engine = build_engine(queue, watch_only=watch_only)
    app = build_app(engine, queue)
    try:
        code = app.run()
    finally:
        engine.abandon_now("dashboard exited unexpectedly; claim released")
        for problem in app.worker_errors:  # shown as toasts; a line each once the terminal is back
            print(f"lanes-tui: dashboard: internal error in {problem}", file=sys.stderr)
    if code is None:
        raise InternalError("the dashboard stopped unexpectedly; its workers were stopped and their claims released")
    return code
