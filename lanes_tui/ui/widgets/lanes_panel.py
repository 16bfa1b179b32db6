"""Per lane: handler mode, depth, age of the oldest queued task, throughput, done, failed, tokens
and cost, paused or not; per vendor beside it when the terminal is wide enough."""

from __future__ import annotations

import io
from datetime import datetime

from rich.console import Console
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from lanes_tui.engine.service import THROUGHPUT_WINDOW, LaneRow, VendorRow
from lanes_tui.ui import formatting as fmt

# The totals columns, dropped (last first) when the terminal is too narrow: the header has the sums.
TOTALS = ("DONE", "FAILED", "TOKENS", "COST")


def lanes_table(lanes: list[LaneRow], now: datetime, selected: str | None, width: int = 10_000) -> Table:
    """The lanes with as many of the totals columns as fit in `width`."""
    for keep in range(len(TOTALS), -1, -1):
        table = _lanes_table(lanes, now, selected, TOTALS[:keep])
        if keep == 0 or _width(table) <= width:
            return table
    raise AssertionError("unreachable")


def _lanes_table(lanes: list[LaneRow], now: datetime, selected: str | None, totals: tuple[str, ...]) -> Table:
    window = int(THROUGHPUT_WINDOW.total_seconds() // 60)
    table = Table(box=None, expand=False, pad_edge=False, show_edge=False, header_style="bold dim")
    for title, justify in (("LANE", "left"), ("MODE", "left"), ("QUEUED", "right"), ("RUNNING", "right"),
                           ("OLDEST", "right"), (f"DONE/{window}m", "right"),
                           *((name, "right") for name in totals), ("", "left")):
        table.add_column(title, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for lane in lanes:
        marker = "\u25b8 " if lane.name == selected else "  "
        cells = {"DONE": str(lane.completed), "FAILED": str(lane.failed),
                 "TOKENS": _tokens(lane.tokens_in, lane.tokens_out), "COST": fmt.money(lane.cost_usd)}
        table.add_row(
            Text(marker + lane.name, "bold" if lane.name == selected else ""),
            Text(lane.mode, "dim"),
            Text(str(lane.queued)),
            Text(str(lane.running)),
            Text(fmt.age(lane.oldest_queued_at, now)),
            Text(str(lane.done_recently)),
            *(Text(cells[name]) for name in totals),
            _flags(lane),
        )
    if not lanes:
        table.add_row(Text("  no lanes yet: press n to submit a task", "dim"), *[Text("")] * (6 + len(totals)))
    return table


def vendors_table(vendors: list[VendorRow]) -> Table:
    table = Table(box=None, expand=False, pad_edge=False, show_edge=False, header_style="bold dim")
    for title, justify in (("VENDOR", "left"), ("RUNNING", "right"), ("DONE", "right"), ("FAILED", "right"),
                           ("TOKENS", "right"), ("COST", "right")):
        table.add_column(title, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for vendor in vendors:
        table.add_row(Text(vendor.name), Text(str(vendor.running)), Text(str(vendor.completed)),
                      Text(str(vendor.failed)), Text(_tokens(vendor.tokens_in, vendor.tokens_out)),
                      Text(fmt.money(vendor.cost_usd)))
    return table


def _tokens(tokens_in: int, tokens_out: int) -> str:
    return f"{fmt.tokens(tokens_in)}/{fmt.tokens(tokens_out)}" if tokens_in or tokens_out else ""


def panel(lanes: Table, vendors: Table | None, width: int) -> Table:
    """The lanes, and the vendors to their right when both fit in `width` (else lanes only:
    the header has the totals)."""
    if vendors is None or not vendors.rows:
        return lanes
    needed = _width(lanes) + 4 + _width(vendors)
    if needed > width:
        return lanes
    grid = Table.grid(padding=(0, 4))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_row(lanes, vendors)
    return grid


_MEASURE = Console(width=10_000, file=io.StringIO())  # only measures: never prints


def _width(table: Table) -> int:
    return _MEASURE.measure(table).maximum


def _flags(lane: LaneRow) -> Text:
    """Paused, and a trusted lane (its agents run in the vendors' bypass modes), said out loud."""
    text = Text()
    if lane.paused:
        text.append("paused", "bold reverse")
    if lane.permissions == "trusted":
        text.append(" " if lane.paused else "")
        text.append("TRUSTED: no sandbox", "bold reverse")
    elif lane.permissions != "read-only":
        text.append(" " if lane.paused else "")
        text.append(lane.permissions, "dim")
    return text


class LanesPanel(Static):
    DEFAULT_CSS = """
    LanesPanel { height: auto; max-height: 8; background: $surface; border-bottom: solid $panel; }
    """

    _shown_lanes = -1

    def show(self, lanes: list[LaneRow], now: datetime, selected: str | None,
             vendors: list[VendorRow] | None = None) -> None:
        width = self.size.width or 80
        shown = panel(lanes_table(lanes, now, selected, width), vendors_table(vendors) if vendors else None, width)
        height = max(len(lanes), len(vendors or ()))
        # A layout pass only when the panel's height changes.
        self.update(shown, layout=height != self._shown_lanes)
        self._shown_lanes = height
