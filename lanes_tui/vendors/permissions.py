"""Permission presets: what a worker may do, per lane, narrowed per task (pure).

Three presets, narrowest first. The vendor tables (settings) say what each
one means on each CLI's command line; this module only knows their order and
the one rule: a task may narrow its lane's preset, never widen it.

    read-only   read and answer; edits and commands that change things are denied
    edit        edits and commands inside the task's working tree
    ask         what `edit` allows; any other tool call becomes a request to the operator
                (answered from the dashboard's `i` or `lanes-tui answer`) instead of a denial.
                Claude only (its --permission-prompt-tool, through lanes-tui's MCP server);
                codex has no such hook in `codex exec`, so its table has no `ask`
    trusted     the vendors' bypass modes: opt-in per lane, never from a task alone
"""

from __future__ import annotations

from typing import Any

from lanes_tui.core.errors import InvalidInput

READ_ONLY, EDIT, ASK, TRUSTED = "read-only", "edit", "ask", "trusted"
PRESETS = (READ_ONLY, EDIT, ASK, TRUSTED)
DEFAULT_PRESET = READ_ONLY

# What a lane does with a run whose tool calls were denied.
FLAG, FAIL = "flag", "fail"
ON_DENIAL = (FLAG, FAIL)


def effective_preset(lane: str, lane_preset: str, requested: Any) -> str:
    """The preset a task runs with: its lane's, or the narrower one its metadata asks for.

    `requested` is metadata.permissions (untrusted): missing or empty means the
    lane's preset; anything else must name a preset no wider than the lane's.
    """
    if requested is None or (isinstance(requested, str) and not requested.strip()):
        return lane_preset
    if not isinstance(requested, str) or requested.strip() not in PRESETS:
        shown = repr(requested)[:60] if isinstance(requested, str) else type(requested).__name__
        raise InvalidInput(f"metadata.permissions: unknown preset {shown}; known: {', '.join(PRESETS)}")
    wanted = requested.strip()
    if PRESETS.index(wanted) > PRESETS.index(lane_preset):
        raise InvalidInput(
            f"metadata.permissions: {wanted!r} is wider than lane {lane!r} allows ({lane_preset!r}); "
            "a task may only narrow its lane's permissions"
        )
    return wanted
