"""`python -m lanes_tui.vendors.guard PPID -- ARGV...`: runs one agent, dies with its supervisor.

The supervisor starts every worker through this guard, in the worker's own
process group. The guard asks the kernel for SIGTERM when its parent dies
(PR_SET_PDEATHSIG; Python 3.11 offers no safe way to set that for a child
from an asyncio program), runs the agent as its child with the same stdin,
stdout and stderr, and passes its exit status on. If the supervisor dies,
even by SIGKILL, the guard kills the whole group at once (fault row 2):
no agent keeps editing files for a supervisor that no longer exists.

A SIGTERM while the supervisor lives is the supervisor stopping the group;
the agent gets that signal itself, so the guard just waits for it.

It starts once per task, before the agent, so its start-up is part of every
task's time: it is run as `python -I -S guard.py` (no site, no imports beyond
os, signal, sys and ctypes, posix_spawn instead of subprocess), 22 ms instead of
the 57 ms of `python -m lanes_tui.vendors.guard` measured here (bench/realcli_bench.py).
"""

from __future__ import annotations

import os
import signal
import sys

# How the supervisor starts it: a path, so that no package (and no site-packages) is imported.
GUARD_PATH = os.path.abspath(__file__)
PYTHON_FLAGS = ("-I", "-S")

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m lanes_tui.vendors.guard PARENT_PID -- COMMAND [ARGS...]", file=sys.stderr)
        return 64
    parent = int(argv[0])
    command = argv[2:]

    def on_term(signum: int, frame: object) -> None:
        if os.getppid() != parent:
            os.killpg(0, signal.SIGKILL)  # the supervisor is gone: take the whole group down

    signal.signal(signal.SIGTERM, on_term)
    _die_with_parent()
    if os.getppid() != parent:  # it died before the request above took effect
        os.killpg(0, signal.SIGKILL)
    try:
        child = os.posix_spawnp(command[0], command, os.environ)  # inherits stdin, stdout, stderr
    except OSError as exc:
        print(f"lanes-tui guard: cannot start {command[0]}: {exc.strerror}", file=sys.stderr)
        return 127
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # killed by a signal: die the same way so the supervisor sees it
        sig = -code
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # SIGKILL and SIGSTOP cannot be caught, so they need no reset (setting them raises)
        os.kill(os.getpid(), sig)
        return 128 + sig  # a signal whose default action does not end us: report it the shell's way
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
