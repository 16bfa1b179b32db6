"""Values that can go into task.json as they are: JSON's types, finite numbers (pure).

Task files are YAML, and YAML has more than JSON: `.nan` and `.inf`, dates,
binary strings, sets, keys that are not strings. Written into task.json they
made files that are not JSON (`NaN`, `Infinity`) or raised deep inside the
store (exit 70). `json_value` checks a value at the edge and names the key.
"""

from __future__ import annotations

import math
from typing import Any

from lanes_tui.core.errors import InvalidInput, LanesError

MAX_DEPTH = 64
_INT_LIMIT = 1 << 63  # agent-lanes and other readers take 64-bit integers


def json_value(value: Any, where: str, error: type[LanesError] = InvalidInput, _depth: int = 0) -> Any:
    """`value` itself if it is a JSON value (dicts with string keys, lists, strings, finite
    numbers, booleans, null); `error` naming `where` otherwise."""
    if _depth > MAX_DEPTH:
        raise error(f"{where} is nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if not -_INT_LIMIT <= value < _INT_LIMIT:
            raise error(f"{where} is a number out of range ({str(value)[:30]})")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise error(f"{where} must be a finite number, not {value!r}")
        return value
    if isinstance(value, list):
        return [json_value(item, f"{where}[{i}]", error, _depth + 1) for i, item in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise error(f"{where} has a key that is not a string: {str(key)[:40]!r}")
            out[key] = json_value(item, f"{where}.{key}", error, _depth + 1)
        return out
    kind = type(value).__name__
    raise error(f"{where} is a {kind}, which JSON has no type for (quote it to make it text)")
