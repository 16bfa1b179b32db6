"""Supervised workers as agents: what the dashboard's agents view and other agents' `agents` see.

A worker's identity (`LANES_AGENT_ID`) is `<supervisor owner>/<task id>`. It is registered
with the agent's pid when it starts, so it turns offline as soon as that process is gone
(presence checks the pid's start time), and seen again at every lease renewal. Presence is
advisory: a failure to record it never disturbs the supervision (nor the dashboard's screen).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Callable

from lanes_tui.core.errors import LanesError
from lanes_tui.engine import events as ev

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend


class WorkerPresence:
    def __init__(self, store: "Backend") -> None:
        self.presence = store.presence()

    def observe(self, event: ev.SupervisorEvent, agent_id: Callable[[str], str]) -> None:
        with contextlib.suppress(LanesError, OSError):
            if isinstance(event, ev.WorkerStarted):
                self.presence.register(agent_id(event.task_id), role="worker", pid=event.pid, task_id=event.task_id)
            elif isinstance(event, ev.LeaseRenewed):
                self.presence.heartbeat(agent_id(event.task_id), task_id=event.task_id)
