"""Can this task run as written? Checked at submit time, before anything is written (pure).

The supervisor fails a task whose metadata no configuration can run (an
unknown model class, effort or permission preset); checking the same rules
when the task is submitted turns that late failure into an immediate,
one-line error naming the key and the valid values (exit 5), with nothing
written. The rules are the supervisor's own (core.argv, core.permissions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from lanes_tui.core.errors import InvalidInput
from lanes_tui.vendors.argv import resolve_vendor
from lanes_tui.vendors.permissions import effective_preset

if TYPE_CHECKING:
    from lanes_tui.settings import VendorSettings


def check_run_metadata(
    vendors: Mapping[str, VendorSettings],
    *,
    lane: str,
    lane_preset: str,
    metadata: Mapping[str, Any],
    default_vendor: str | None = None,
) -> None:
    """Raise InvalidInput ("metadata.effort: unknown effort 'x' for vendor claude; known: ...")
    when no configured vendor could run the task; a vendor that is not configured here is
    allowed (another dispatcher may serve it), as the supervisor allows it."""
    preset = effective_preset(lane, lane_preset, metadata.get("permissions"))
    wanted = metadata.get("required_vendor")
    asked: dict[str, Any] = {"default_vendor": default_vendor}
    # One key at a time, in the order they narrow the choice, so the error names the culprit
    # (the preset last: until then the narrowest one, which every vendor has, stands in).
    for key in ("model_class", "effort", "permissions"):
        asked[key] = preset if key == "permissions" else metadata.get(key)
        choice = resolve_vendor(vendors, lambda vendor: True, wanted, **asked)
        if choice.invalid:
            reason = choice.reason
            if reason.startswith("required_vendor"):
                raise InvalidInput(f"metadata.{reason}")
            raise InvalidInput(f"metadata.{key}: {reason}")
