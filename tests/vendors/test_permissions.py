"""Permission presets: a task narrows its lane's preset, never widens it (vendors/permissions.py)."""

from __future__ import annotations

import pytest

from lanes_tui.core.errors import InvalidInput
from lanes_tui.vendors.permissions import PRESETS, effective_preset


@pytest.mark.parametrize("lane", PRESETS)
def test_no_request_means_the_lanes_preset(lane):
    for requested in (None, "", "  "):
        assert effective_preset("dev", lane, requested) == lane


def test_narrowing_is_allowed_and_widening_is_not():
    assert effective_preset("dev", "trusted", "edit") == "edit"
    assert effective_preset("dev", "edit", " read-only ") == "read-only"
    assert effective_preset("dev", "edit", "edit") == "edit"
    with pytest.raises(InvalidInput) as info:
        effective_preset("dev", "edit", "trusted")
    assert str(info.value) == ("metadata.permissions: 'trusted' is wider than lane 'dev' allows ('edit'); "
                               "a task may only narrow its lane's permissions")
    with pytest.raises(InvalidInput, match="'edit' is wider than lane 'docs' allows"):
        effective_preset("docs", "read-only", "edit")


@pytest.mark.parametrize("requested", ["bypassPermissions", "--dangerously-skip-permissions", "TRUSTED", 3, ["edit"]])
def test_anything_else_is_refused_with_the_valid_list(requested):
    with pytest.raises(InvalidInput, match=r"metadata.permissions: unknown preset .*; known: read-only, edit, ask, trusted"):
        effective_preset("dev", "trusted", requested)
