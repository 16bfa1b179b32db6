"""The argument parsers of the lock commands, apart from their code: building the CLI's parser
must not import what only `lock` needs (the Claude Code hook starts on every edit)."""

from __future__ import annotations

import argparse
from typing import Any

AGENT_ENV = "LANES_AGENT_ID"
PID_MAX = 1 << 22  # Linux's ceiling for pid_max (4,194,304)


def pid_number(text: str) -> int:
    """A process id: 1..PID_MAX (0 and negatives name process groups to kill(2), not a process)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a process id, got {text[:40]!r}") from None
    if not 1 <= value <= PID_MAX:
        raise argparse.ArgumentTypeError(f"a process id is from 1 to {PID_MAX}, got {text[:40]!r}")
    return value


def add_parsers(sub: Any, parents: list[argparse.ArgumentParser], ttl: Any, wait: Any) -> None:
    def who(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--as", dest="as_name", metavar="NAME", help=f"your agent name (default: ${AGENT_ENV})")

    lock = sub.add_parser("lock", parents=parents, help="take advisory locks on paths (or --name resources)")
    lock.add_argument("targets", nargs="+", metavar="PATH")
    lock.add_argument("--name", action="store_true", help="the targets are resource names, not paths")
    lock.add_argument("--ttl", type=ttl, default=600.0, help="seconds until the lock expires (default 600)")
    lock.add_argument("--reason", default="")
    lock.add_argument("--wait", type=wait, default=0.0, metavar="SECONDS", help="wait this long for a held lock")
    lock.add_argument("--pid", type=pid_number, help="tie the lock to this process: it is stale once the process is gone")
    who(lock)
    unlock = sub.add_parser("unlock", parents=parents, help="release your advisory locks")
    unlock.add_argument("targets", nargs="+", metavar="PATH")
    unlock.add_argument("--name", action="store_true")
    unlock.add_argument("--token", type=int, help="release only this grant of the lock (fencing)")
    who(unlock)
    sub.add_parser("locks", parents=parents, help="list advisory locks, with holder liveness")
    brk = sub.add_parser("break-lock", parents=parents, help="remove someone's advisory lock (with a reason)")
    brk.add_argument("targets", nargs="+", metavar="PATH")
    brk.add_argument("--name", action="store_true")
    brk.add_argument("--reason", required=True)
    who(brk)
