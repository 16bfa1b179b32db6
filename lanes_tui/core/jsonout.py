"""JSON text exactly like `json.dumps(obj, indent=2, sort_keys=True)`, faster.

CPython's C encoder is skipped whenever `indent` is set, so agent-lanes-shaped
output of 10,000 task views spends most of its time in the pure-Python encoder.
This specialised writer produces the same bytes about twice as fast (a test
compares the two on random data with hypothesis).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

_float_repr = json.encoder.JSONEncoder().iterencode  # for floats: nan/inf rules identical


def dumps(obj: Any) -> str:
    out: list[str] = []
    encode_into(obj, "", out)
    return "".join(out)


def encode_into(obj: Any, indent: str, out: list[str]) -> None:
    """Append the encoding of obj, as if nested where lines are indented by `indent`."""
    if isinstance(obj, str):
        out.append(_quote(obj))
    elif obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, int):
        out.append(int.__repr__(obj))
    elif isinstance(obj, float):
        out.append("".join(_float_repr(obj)))
    elif isinstance(obj, dict):
        if not obj:
            out.append("{}")
            return
        inner = indent + "  "
        sep = ",\n" + inner
        out.append("{\n" + inner)
        first = True
        for key in sorted(obj):
            if not first:
                out.append(sep)
            first = False
            if not isinstance(key, str):
                # json.dumps converts non-str keys; keep its exact rules by delegating.
                out.append(json.dumps({key: None})[1:-7])
            else:
                out.append(_quote(key))
            out.append(": ")
            encode_into(obj[key], inner, out)
        out.append("\n" + indent + "}")
    elif isinstance(obj, (list, tuple)):
        if not obj:
            out.append("[]")
            return
        inner = indent + "  "
        sep = ",\n" + inner
        out.append("[\n" + inner)
        first = True
        for item in obj:
            if not first:
                out.append(sep)
            first = False
            encode_into(item, inner, out)
        out.append("\n" + indent + "]")
    else:
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")
