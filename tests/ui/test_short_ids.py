"""Ids cut to what tells the shown rows apart: per row, the shortest form no other row shares."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lanes_tui.ui.short_ids import ShortIds, forms

A = "20261024T155119250137Z-alpha-dd38d9525789"


def test_the_time_of_day_is_enough_until_another_row_shares_it():
    ids = ShortIds([A])
    assert ids.label(A) == "15:51:19"
    same_second = "20261024T155119900000Z-alpha-dd38d9525789"  # same request: the same tail
    ids.add(same_second)
    assert (ids.label(A), ids.label(same_second)) == ("15:51:19.250", "15:51:19.900")
    same_ms = "20261024T155119250999Z-alpha-dd38d9525789"
    ids.add(same_ms)
    assert ids.label(A) == "15:51:19.250137" and ids.label(same_second) == "15:51:19.900"  # only the pair widens
    other_day = "20261025T155119250137Z-alpha-dd38d9525789"
    ids.add(other_day)
    assert ids.label(A) == "10-24 15:51:19.250137" and ids.label(other_day) == "10-25 15:51:19.250137"
    twin = "20261024T155119250137Z-beta-dd38d9525789"  # the same microsecond on another correlation
    ids.add(twin)
    assert ids.label(A) == A and ids.label(twin) == twin
    for gone in (twin, other_day, same_ms, same_second):
        ids.discard(gone)
    assert ids.label(A) == "15:51:19" and len(ids) == 1


def test_ids_of_another_shape_climb_prefixes():
    ids = ShortIds(["custom-task-0001", "custom-task-0002", "other"])
    assert ids.label("other") == "other"
    assert ids.label("custom-task-0001") == "custom-task-0001"  # 8 and 12 characters are shared


stamps = st.builds(lambda day, sec, micro, tail: f"202610{day:02d}T{sec:06d}{micro:06d}Z-{tail}-dd38d9525789",
                   st.integers(1, 3), st.integers(0, 3), st.integers(0, 2000), st.sampled_from(["a", "b"]))


@given(st.sets(st.one_of(stamps, st.text("abc-", min_size=1, max_size=20)), max_size=40))
def test_labels_are_unique_among_the_shown_ids_and_name_their_id(shown):
    ids = ShortIds(shown)
    labels = {task_id: ids.label(task_id) for task_id in shown}
    assert len(set(labels.values())) == len(shown)
    assert all(label in forms(task_id) for task_id, label in labels.items())
