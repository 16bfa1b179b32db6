"""Task ids cut to what tells the rows on screen apart (pure, no Textual).

An agent-lanes id is `20261024T155119250137Z-<correlation>-<request sha tail>`:
thirty tasks on one request file share their tail, so the tail says nothing,
and the time says almost everything. Each id has a ladder of forms, shortest
first — `15:51:19`, `15:51:19.250`, `15:51:19.250137`, `10-24 15:51:19.250137`,
the id itself — and a row shows the first form no other shown row shares (as
git shortens hashes, but per row, so one pair of tasks submitted in the same
millisecond does not widen every row). Ids of another shape climb a ladder of
prefixes. The counts are kept as rows come and go, so a change costs a few
dictionary updates, not a pass over 10,000 rows.
"""

from __future__ import annotations

from collections import Counter
from operator import itemgetter
from typing import Iterable

PREFIX_LENGTHS = (8, 12, 16, 24)
LEVELS = 5  # forms per id, the last being the id itself


def forms(task_id: str) -> tuple[str, ...]:
    """The id's forms from shortest to longest (LEVELS of them; the last is `task_id`)."""
    if len(task_id) > 22 and task_id[8:9] == "T" and task_id[:8].isdigit() and task_id[9:21].isdigit():
        clock = f"{task_id[9:11]}:{task_id[11:13]}:{task_id[13:15]}"
        return (clock, f"{clock}.{task_id[15:18]}", f"{clock}.{task_id[15:21]}",
                f"{task_id[4:6]}-{task_id[6:8]} {clock}.{task_id[15:21]}", task_id)
    return (*(task_id[:length] for length in PREFIX_LENGTHS), task_id)


class ShortIds:
    """The shown ids and, per level, how many of them share each form."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        # In bulk (Counter counts an iterable in C): the dashboard builds one of 10,000 ids per sort.
        self._forms: dict[str, tuple[str, ...]] = {task_id: forms(task_id) for task_id in ids}
        self._counts: list[Counter[str]] = [Counter(map(itemgetter(level), self._forms.values()))
                                            for level in range(LEVELS)]

    def __len__(self) -> int:
        return len(self._forms)

    def add(self, task_id: str) -> None:
        if task_id in self._forms:
            return
        ladder = self._forms[task_id] = forms(task_id)
        for count, form in zip(self._counts, ladder):
            count[form] += 1

    def discard(self, task_id: str) -> None:
        ladder = self._forms.pop(task_id, None)
        if ladder is None:
            return
        for count, form in zip(self._counts, ladder):
            count[form] -= 1
            if not count[form]:
                del count[form]

    def label(self, task_id: str) -> str:
        """The shortest form of `task_id` no other shown id shares (the id itself if not shown)."""
        ladder = self._forms.get(task_id)
        if ladder is None:
            return task_id
        for count, form in zip(self._counts, ladder):
            if count[form] == 1:
                return form
        return task_id
