"""The header's figures fit the terminal: shorter labels before the cost is cut off (the bench at
10,000 tasks saw `cost` with no value at 120 columns)."""

from __future__ import annotations

from lanes_tui.engine.service import Totals
from lanes_tui.ui.widgets.header_bar import header_text

BUSY = Totals(counts={"queued": 1999, "claimed": 12, "completed": 85500, "failed": 4500}, workers=12, cap=16,
              tokens_in=110_010_000, tokens_out=5_310_000, cost_usd=1234.5678, attention=4410)


def second_line(width: int) -> str:
    return header_text("team-queue", "ws/handoff/state", BUSY, watch_only=False, width=width).plain.split("\n")[1]


def test_every_figure_shows_at_120_columns_with_short_labels():
    line = second_line(120)
    assert len(line) <= 120 and line.rstrip().endswith("$1234.57")
    assert "4410 need attention" in line and "done 85500" in line and "w 12/16" in line


def test_a_wide_terminal_keeps_the_long_labels():
    line = second_line(200)
    assert "completed 85500" in line and "workers 12/16" in line and "cost $1234.57" in line
