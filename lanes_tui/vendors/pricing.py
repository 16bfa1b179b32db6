"""Token prices and cost estimates (pure).

Claude Code reports the cost of a run only on its final `result` line, and
Codex never reports one. A price table per vendor (settings: `prices`) turns
the running token counts into an estimate, so that `max_cost_usd` can stop a
worker while it runs, for either vendor. An estimate is always marked as one:
the vendor's own figure replaces it when the vendor gives one.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Mapping

PER = 1_000_000  # prices are in US dollars per million tokens, as the vendors publish them


@dataclass(frozen=True)
class Price:
    input: float  # fresh (uncached) input
    output: float  # output, reasoning included
    cache_read: float = 0.0
    cache_write: float = 0.0


@dataclass(frozen=True)
class TokenCounts:
    """One run's tokens. `input` counts every input token, cached ones included."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0  # part of `output`, kept for the record


def price_for(prices: Mapping[str, Price], model: str | None) -> Price | None:
    """The price of `model`: an exact entry, else the first matching glob (`claude-opus-*`)."""
    if not model:
        return None
    if model in prices:
        return prices[model]
    for pattern, price in prices.items():
        if any(ch in pattern for ch in "*?[") and fnmatch.fnmatchcase(model, pattern):
            return price
    return None


def estimate(price: Price, tokens: TokenCounts) -> float:
    fresh = max(0, tokens.input - tokens.cache_read - tokens.cache_write)
    total = (fresh * price.input + tokens.output * price.output
             + tokens.cache_read * price.cache_read + tokens.cache_write * price.cache_write)
    return total / PER
