"""The top bar: queue, counts by state, workers / cap, tokens and cost, and what needs attention."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import Static

from lanes_tui.core.sanitize import one_line
from lanes_tui.engine.service import Totals
from lanes_tui.ui import formatting as fmt

# The second line's labels, and shorter ones for when the figures would not fit the width.
LABELS = {"queued": "queued", "claimed": "claimed", "completed": "completed", "failed": "failed",
          "workers": "workers", "tokens": "tokens", "cost": "cost", "gap": "  "}
SHORT_LABELS = {"queued": "q", "claimed": "run", "completed": "done", "failed": "fail",
                "workers": "w", "tokens": "tok", "cost": "", "gap": " "}  # the cost reads "$0.27" alone


def header_text(name: str, path: Path | str, totals: Totals, *, watch_only: bool, width: int) -> Text:
    text = Text()
    text.append(" lanes-tui ", "bold reverse")
    text.append(" ")
    text.append(one_line(name, 40), "bold")
    text.append("  ")
    text.append(one_line(str(path), max(10, width - 60)), "dim")
    text.append("\n ")
    figures = _figures(totals, watch_only, LABELS)
    if figures.cell_len + 1 > width:  # the cost, last, would be cut off: shorter labels
        figures = _figures(totals, watch_only, SHORT_LABELS)
    text.append_text(figures)
    return text


def _figures(totals: Totals, watch_only: bool, labels: dict[str, str]) -> Text:
    counts, gap = totals.counts, labels["gap"]
    text = Text()
    if totals.needs_input:  # first: an agent waits for a person (`i` answers)
        text.append(f" {totals.needs_input} need input (i) ", "bold reverse")
        text.append(gap)
    if totals.notifier_degraded:  # a shared queue's changes show seconds late until it recovers
        text.append(" notifier degraded: polling (H) ", "bold reverse")
        text.append(gap)
    if totals.attention:  # then what must not be cut off on a narrow terminal
        text.append(f" {totals.attention} need attention ", "bold reverse")
        text.append(gap)
    for state, style in (("queued", "bold"), ("claimed", "bold"), ("completed", ""), ("failed", "")):
        text.append(f"{labels[state]} ", "dim")
        text.append(str(counts.get(state, 0)), style)
        text.append(gap)
    if watch_only:
        text.append("watch-only", "italic")
    else:
        text.append(f"{labels['workers']} ", "dim")
        text.append(f"{totals.workers}/{totals.cap}", "bold")
    text.append(f"{gap}{labels['tokens']} ", "dim")
    text.append(f"{fmt.tokens(totals.tokens_in)}/{fmt.tokens(totals.tokens_out)}")
    if totals.cost_usd is not None:
        text.append(f"{gap}{labels['cost']} " if labels["cost"] else gap, "dim")
        text.append(fmt.money(totals.cost_usd))
    return text


class HeaderBar(Static):
    DEFAULT_CSS = """
    HeaderBar { height: 2; background: $panel; color: $foreground; }
    """

    def show(self, name: str, path: Path | str, totals: Totals, *, watch_only: bool) -> None:
        self.update(header_text(name, path, totals, watch_only=watch_only, width=self.size.width or 80))
