"""What the storage seam's verbs return: plain values, no behaviour.

Apart from `base.py` (the seam's protocols, which only type checkers need) so that the
one-shot CLI, which imports these on every command, does not pay for defining five Protocol
classes (about a millisecond).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Hashable, NamedTuple

if TYPE_CHECKING:
    from lanes_tui.core.batched_output import Batches


# The values below are NamedTuples and plain classes, not dataclasses: every one-shot command
# imports this module, and defining a dataclass costs about a millisecond.


class NextResult(NamedTuple):
    """Outcome of looking for (or claiming) the next task of a lane."""

    task: dict[str, Any] | None
    claim_token: str | None = None
    # Tasks passed over because they can never be claimed as they stand
    # (request changed or missing, corrupt): (task_id, reason).
    stale: tuple[tuple[str, str], ...] = ()
    # Tasks passed over because they are meant for another vendor.
    skipped_vendor: tuple[str, ...] = ()


class Listing:
    """Tasks (after roll-forward), oldest first, with the ones that could not be read apart."""

    __slots__ = ("tasks", "corrupt")

    def __init__(self, tasks: list[dict[str, Any]] | None = None,
                 corrupt: list[tuple[str, str]] | None = None) -> None:
        self.tasks = [] if tasks is None else tasks
        self.corrupt = [] if corrupt is None else corrupt


class ListingOutput(NamedTuple):
    """`list --json` or `status --all --json` exactly as agent-lanes prints them (no final
    newline), as UTF-8 pieces in batches (core/batched_output.py), and what could not be read."""

    batches: Batches
    corrupt: list[tuple[str, str]] = []  # never mutated: a listing's own list is passed in


class Loaded(NamedTuple):
    """One task as `Backend.load` found it, for an in-memory index.

    `version` changes whenever the task may have changed (a stat for files, a counter in
    memory); a task whose version equals the one the caller already holds is not read again
    and comes back with `task` None and `unchanged` True."""

    task_id: str
    version: Hashable | None  # None: the task is gone
    task: dict[str, Any] | None = None
    needs_repair: bool = False  # an answer is recorded but the task was not rolled forward (G8)
    corrupt: str | None = None
    unchanged: bool = False


class WholeTask(NamedTuple):
    """One task whole (its answer, every event, whether it is archived), as `store copy` moves
    it from one backend to another (storage/copying.py)."""

    task: dict[str, Any]
    response: dict[str, Any] | None
    events: list[dict[str, Any]]
    archived: bool = False
    bad_event_lines: int = 0  # torn or foreign lines the source skipped (G6): not part of the task
