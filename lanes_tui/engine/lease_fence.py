"""The last line of self-fencing: a worker is killed before its lease runs out, whatever else
is stuck.

The attempt's renewal loop stops a worker whose renewals fail or go unanswered (attempt.py),
but it runs on the event loop, and a store call made on that loop by something else (a
rescan waiting for a database that does not answer) can hold it past the lease. The fence
is a timer thread of its own: armed for "the lease's end minus the time a stop takes" and
re-armed by every renewal, it SIGTERMs the worker's process group when it fires and SIGKILLs
what is left after the grace. A rescuer, which claims only once the lease has lapsed, then
never finds a worker of ours still running (issue 14: never two live workers on one task).

It is armed before the worker is spawned: between the fork and the moment the spawn returns
to the attempt, the event loop runs whatever else is ready, and a call that holds it there (a
store that stopped answering) would otherwise leave a worker running with no fence at all,
its stdin never fed, for as long as the store is away (seen in the multi-host chaos run). A
fence that fires before it was told the worker's pid finds it (`find`: this process's child
started with the attempt's LANES_AGENT_ID); one told after it fired stops the worker at once.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Callable

from lanes_tui.core import procinfo


class LeaseFence:
    def __init__(self, pid: int | None, pgid: int | None, start_time: int | None, kill_grace: float,
                 find: Callable[[], list[int]] | None = None) -> None:
        self._pid = pid
        self._start_time = start_time
        self._pgid = pgid
        self._find = find
        self._grace = max(0.0, kill_grace)
        self._deadline: float | None = None  # time.monotonic(); None: disarmed
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="lanes-tui-lease-fence")
        self._done = False
        self._stopping = False  # someone has taken on stopping the worker
        self.fired = False
        self._thread.start()

    def bind(self, pid: int | None, pgid: int | None, start_time: int | None) -> None:
        """The worker, once its spawn returned. Fired before that and not found, it is stopped now
        (from a thread of its own: the grace must not hold the caller's event loop)."""
        with self._changed:
            self._pid, self._pgid, self._start_time = pid, pgid, start_time
            late = self.fired and not self._stopping and pgid is not None
            self._stopping = self._stopping or late
        if late:
            threading.Thread(target=self._stop_group, daemon=True, name="lanes-tui-lease-fence-late").start()

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
                if self._pgid is None and self._find is not None:
                    self._stop_found()
                elif self._pgid is not None:
                    self._stopping = True
                break
        if self._stopping and self._pgid is not None:
            self._stop_group()

    def _stop_found(self) -> None:
        """Fired before the spawn returned: the worker is whichever child carries its marker."""
        assert self._find is not None
        for pid in self._find():
            self._pid, self._pgid, self._start_time = pid, pid, procinfo.start_time(pid)  # its session leader
            self._stopping = True
            return

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
