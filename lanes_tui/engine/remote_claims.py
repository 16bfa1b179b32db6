"""What breaking a claim held by another host means, for the operator who breaks it.

The break itself is the usual one (core/lifecycle.py: back to queued, the old token dead from
now on). This host cannot stop the other host's worker; that host's supervisor learns of the
break when its next lease renewal is refused, and stops its worker then (engine/attempt.py),
so the operator is told who runs the task and about when it will stop. A holder whose
supervisor no longer heartbeats has nobody left to notice: nothing runs it any more.
"""

from __future__ import annotations

from lanes_tui.core.hosts import this_host
from lanes_tui.core.sanitize import one_line
from lanes_tui.core.supervisors import LATE, RUNNING, SupervisorStatus, host_of


def elsewhere_note(claim_owner: str | None, statuses: list[SupervisorStatus], renew_seconds: float) -> str:
    """One line on a claim another host holds ("" for one of this host's, or not a supervisor's)."""
    host = host_of(claim_owner)
    if host is None or host == this_host():
        return ""
    shown = one_line(host, 60)
    status = next((s for s in statuses if s.record.owner == claim_owner), None)
    if status is None:
        return (f"{shown} holds it (no supervisor of that owner is recorded): whoever holds the token finds it dead "
                "at its next renewal")
    beat = "" if status.heartbeat_age is None else f", heartbeat {status.heartbeat_age:.0f} s ago"
    if status.state in (RUNNING, LATE):
        return (f"{shown} runs it ({status.state}{beat}): its token is dead from now; {shown} finds out at its next "
                f"lease renewal, within about {renew_seconds:g} s, and stops its worker then")
    return f"{shown}'s supervisor is {status.state}{beat}: nothing renews this claim any more"
