import pytest

from lanes_tui.core.errors import InvalidInput
from lanes_tui.core.ids import MAX_TASK_ID_LENGTH, is_valid_task_id, new_task_id, slug, validate_task_id


@pytest.mark.parametrize(
    "raw, expected",
    [("review step 1", "review-step-1"), ("  --a//b--  ", "a-b"), ("", "item"), ("///", "item"), ("ok_1.2-x", "ok_1.2-x")],
)
def test_slug_matches_agent_lanes(raw, expected):
    from agent_lanes.store import slug as reference

    assert slug(raw) == expected == reference(raw)


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "a\\b", "-x", ".x", "a..b", "x" * (MAX_TASK_ID_LENGTH + 1), "a b"])
def test_invalid_ids_are_refused(bad):
    with pytest.raises(InvalidInput):
        validate_task_id(bad)


def test_id_format():
    task_id = new_task_id("20261123T115916562099Z", "default", "f1cd11bc5dc4" + "0" * 52)
    assert task_id == "20261123T115916562099Z-default-f1cd11bc5dc4"
    assert validate_task_id(task_id) == task_id


def test_overlong_correlation_id_is_refused_before_any_path_is_built():
    with pytest.raises(InvalidInput, match="too long"):
        new_task_id("20261123T115916562099Z", "c" * 300, "f" * 64)


@pytest.mark.parametrize("correlation", ["..", "a..b", "x/../y", "...."])
def test_a_correlation_id_that_makes_an_unaddressable_task_id_is_refused(correlation):
    """Issue 10: `submit --task-id ..` created a task no later command (nor agent-lanes) could name."""
    with pytest.raises(InvalidInput, match="makes a task id no command could address"):
        new_task_id("20261202T000000000000Z", correlation, "ab" * 32)
    assert is_valid_task_id(new_task_id("20261202T000000000000Z", "a.b", "ab" * 32))
