"""`lanes-tui --no-ui`: load config and settings, run the headless supervisor."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from lanes_tui.core.handoff import load_config
from lanes_tui.engine.headless import run_headless
from lanes_tui.settings import load_settings
from lanes_tui.storage import open_store


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, store_override=args.store)
    settings = load_settings(args.settings, config_dir=config.path.parent)
    store = open_store(config.store_root)
    return asyncio.run(
        run_headless(
            store, settings, drain=args.drain, as_json=args.json,
            summary_path=Path(args.summary) if args.summary else None,
        )
    )
