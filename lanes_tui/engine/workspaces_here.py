"""Whether this host has a task's workspace: a supervisor serves only repositories it has.

On a shared queue a task may come from another host, whose paths mean nothing here. Its
`workspace_root` must be a folder on this host, and when the task records its repository's
identity (gitwork/identity.py, recorded by `submit`), the repository there must hold it.
Otherwise the supervisor leaves the task to the hosts that have it (it waits here, with the
reason, and does not keep `--drain` waiting), rather than claim it and fail it for a folder
that is not here.

The answers are kept: one git call per workspace, not one per task and scheduling pass. A
"no" is asked again after RECHECK_SECONDS (the repository may be cloned meanwhile); a "yes"
is kept for the supervisor's life.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lanes_tui.gitwork.identity import IDENTITY_KEY, has_repository

RECHECK_SECONDS = 30.0


class WorkspacesHere:
    def __init__(self) -> None:
        self._known: dict[tuple[str, str | None], tuple[str | None, float]] = {}

    def known(self, task: dict[str, Any]) -> tuple[bool, str | None]:
        """(True, the answer) when it is known and still good, else (False, None): then ask
        `problem` (blocking). Lets the scheduler skip a thread hop per task and pass."""
        known = self._known.get(_key(task))
        if known is not None and (known[0] is None or time.monotonic() - known[1] < RECHECK_SECONDS):
            return True, known[0]
        return False, None

    def problem(self, task: dict[str, Any]) -> str | None:
        """Why this host cannot run `task` in its workspace, or None. Blocking (git): call it
        from a thread."""
        key = _key(task)
        root, identity = key
        if not root or not Path(root).is_dir():
            answer: str | None = f"not on this host: its workspace {root} is not here (a host that has it runs it)"
        elif identity is not None and not has_repository(Path(root), identity):
            answer = (f"not on this host: the repository at {root} here is not the one it was submitted in "
                      f"({identity}; a shallow clone does not count)")
        else:
            answer = None
        self._known[key] = (answer, time.monotonic())
        return answer


def _key(task: dict[str, Any]) -> tuple[str, str | None]:
    identity = (task.get("metadata") or {}).get(IDENTITY_KEY)
    return str(task.get("workspace_root") or ""), identity if isinstance(identity, str) else None
