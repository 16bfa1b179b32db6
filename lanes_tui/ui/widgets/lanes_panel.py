"""Per lane: handler mode, depth, age of the oldest queued task, throughput, paused or not."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from lanes_tui.engine.service import THROUGHPUT_WINDOW, LaneRow
from lanes_tui.ui import formatting as fmt


def lanes_table(lanes: list[LaneRow], now: datetime, selected: str | None) -> Table:
    window = int(THROUGHPUT_WINDOW.total_seconds() // 60)
    table = Table(box=None, expand=False, pad_edge=False, show_edge=False, header_style="bold dim")
    for title, justify in (("LANE", "left"), ("MODE", "left"), ("QUEUED", "right"), ("RUNNING", "right"),
                           ("OLDEST", "right"), (f"DONE/{window}m", "right"), ("", "left")):
        table.add_column(title, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for lane in lanes:
        marker = "\u25b8 " if lane.name == selected else "  "
        table.add_row(
            Text(marker + lane.name, "bold" if lane.name == selected else ""),
            Text(lane.mode, "dim"),
            Text(str(lane.queued)),
            Text(str(lane.running)),
            Text(fmt.age(lane.oldest_queued_at, now)),
            Text(str(lane.done_recently)),
            _flags(lane),
        )
    if not lanes:
        table.add_row(Text("  no lanes yet: press n to submit a task", "dim"), *[Text("")] * 6)
    return table


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

    def show(self, lanes: list[LaneRow], now: datetime, selected: str | None) -> None:
        # A layout pass only when the number of lanes (the panel's height) changes.
        self.update(lanes_table(lanes, now, selected), layout=len(lanes) != self._shown_lanes)
        self._shown_lanes = len(lanes)
