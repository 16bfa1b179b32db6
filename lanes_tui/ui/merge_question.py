"""What the merge dialog (`m`) says before anything is merged: the target, how (fast-forward,
merge commit), the conflict check's result and the verify commands that will run first.

Built from a `MergeTarget` (worked out without changing anything); every name in it is
sanitised here, and the result is a plain `Text`, never markup.
"""

from __future__ import annotations

from rich.text import Text

from lanes_tui.core.sanitize import one_line
from lanes_tui.engine.merging import MergeTarget
from lanes_tui.gitwork import merging

MERGEABLE = frozenset({merging.FAST_FORWARD, merging.MERGE_COMMIT, merging.ALREADY_MERGED})


def merge_question(target: MergeTarget) -> Text:
    plan = target.plan
    text = Text()
    text.append(one_line(plan.branch, 80), "bold")
    text.append("  \u2192  ")
    text.append(one_line(plan.into, 80), "bold")
    text.append(f"\n{plan.head[:12]} onto {plan.target[:12]}", "dim")
    if plan.how == merging.CONFLICT:
        text.append(f"\n\nconflicts in {len(plan.conflicts)} file(s):", "bold")
        for name in plan.conflicts[:12]:
            text.append("\n  " + one_line(name, 200))
        if len(plan.conflicts) > 12:
            text.append(f"\n  (+{len(plan.conflicts) - 12} more)", "dim")
        text.append("\n\nNothing would be changed. Resolve it by hand, or ask for a task based on "
                    f"{one_line(plan.into, 80)}.", "dim")
        return text
    how = {merging.FAST_FORWARD: "a fast-forward: no conflict",
           merging.MERGE_COMMIT: "a merge commit: no conflict (checked in git's object store)",
           merging.ALREADY_MERGED: "already merged: only recorded"}[plan.how]
    text.append("\n\n" + how)
    if target.merged_before is not None:
        text.append(f"\nrecorded as merged before, into {one_line(str(target.merged_before.get('into')), 80)}", "dim")
    if target.verify and plan.how != merging.ALREADY_MERGED:
        text.append(f"\nverify first ({len(target.verify)} command(s), on the merged result):", "bold")
        for argv in target.verify[:6]:
            text.append("\n  " + one_line(" ".join(argv), 200))
    return text
