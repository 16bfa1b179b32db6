"""Subcommand implementations; `dispatch` picks one from parsed arguments."""

from __future__ import annotations

import argparse


def dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command in ("init", "init-pool"):
        from lanes_tui.commands import scaffold

        return scaffold.run(args)
    if command in ("hooks", "hook"):
        from lanes_tui.commands import hooks

        return hooks.run(args)
    if command in ("lock", "unlock", "locks", "break-lock"):
        from lanes_tui.commands import locks

        return locks.run(args)
    if command in ("agents", "register", "heartbeat", "send", "inbox", "intent", "history"):
        from lanes_tui.commands import agents

        return agents.run(args)
    if command == "mcp":
        from lanes_tui.commands import mcp

        return mcp.run(args)
    if command in ("requests", "answer"):
        from lanes_tui.commands import requests

        return requests.run(args)
    if command == "merge":
        from lanes_tui.commands import merge

        return merge.run(args)
    if command == "worktrees":
        from lanes_tui.commands import worktrees

        return worktrees.run(args)
    if command == "store":
        from lanes_tui.commands import store

        return store.run(args)
    if command == "doctor":
        from lanes_tui.commands import doctor

        return doctor.run(args)
    if command in ("demo", "self-test"):
        from lanes_tui.commands import demo

        return demo.run(args)
    from lanes_tui.commands import queue

    return queue.run(args)
