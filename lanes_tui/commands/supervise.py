"""`lanes-tui --no-ui`: the headless supervisor on the queue the config names."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from lanes_tui.engine.headless import run_headless
from lanes_tui.wiring import build_engine, open_queue


def run(args: argparse.Namespace) -> int:
    queue = open_queue(args.config, store=args.store, settings=args.settings)
    engine = build_engine(queue, drain=args.drain)
    return asyncio.run(run_headless(engine, as_json=args.json,
                                    summary_path=Path(args.summary) if args.summary else None,
                                    transcript=args.transcript))
