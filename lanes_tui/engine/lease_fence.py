"""The last line of self-fencing: a worker is killed before its lease runs out, whatever else
is stuck.

The attempt's renewal loop stops a worker whose renewals fail or go unanswered (attempt.py),
but it runs on the event loop, and a store call made on that loop by something else (a
rescan waiting for a database that does not answer) can hold it past the lease. The fence
is a timer thread of its own: armed for "the lease's end minus the time a stop takes" and
re-armed by every renewal, it SIGTERMs the worker's process group when it fires and SIGKILLs
what is left after the grace. A rescuer, which claims only once the lease has lapsed, then
never finds a worker of ours still running (issue 14: never two live workers on one task).
"""

from __future__ import annotations

import signal
import threading
import time

from lanes_tui.core import procinfo


class LeaseFence:
    def __init__(self, pid: int | None, pgid: int | None, start_time: int | None, kill_grace: float) -> None:
        self._pid = pid
        self._start_time = start_time
        self._pgid = pgid
        self._grace = max(0.0, kill_grace)
        self._deadline: float | None = None  # time.monotonic(); None: disarmed
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="lanes-tui-lease-fence")
        self._done = False
        self.fired = False
        self._thread.start()

    def arm(self, deadline: float) -> None:
        """Kill the worker at `deadline` (monotonic) unless re-armed or disarmed first."""
        with self._changed:
            self._deadline = deadline
            self._changed.notify()

    def disarm(self) -> None:
        with self._changed:
            self._done = True
            self._changed.notify()
        self._thread.join()

    def _watch(self) -> None:
        with self._changed:
            while not self._done:
                if self._deadline is None:
                    self._changed.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._changed.wait(left)
                    continue
                self.fired = True
                break
        if self.fired and self._pgid is not None:
            self._stop_group()

    def _still_ours(self) -> bool:
        """The group is the worker's: its leader still runs with the recorded start time, or the
        leader is gone and members remain (Linux never hands out a number still in use as a
        group id). The same rule as for a dead supervisor's leftovers (core/supervisors.py)."""
        assert self._pgid is not None
        if self._pid is not None and procinfo.is_same_process(self._pid, self._start_time):
            return True
        return self._pid is not None and procinfo.start_time(self._pid) is None and procinfo.group_alive(self._pgid)

    def _stop_group(self) -> None:
        assert self._pgid is not None
        if not self._still_ours() or not procinfo.signal_group(self._pgid, signal.SIGTERM):
            return
        end = time.monotonic() + self._grace
        while time.monotonic() < end and procinfo.group_alive(self._pgid):
            time.sleep(0.02)  # the grace the worker gets to exit on SIGTERM (a bound, not a sync)
        procinfo.signal_group(self._pgid, signal.SIGKILL)
