"""Strict JSON parsing: every value comes back exactly as sent, or the text is refused.

``json.loads`` accepts NaN and Infinity (not JSON), keeps the last of duplicate
keys, and turns ``1e-400`` into 0.0 and ``1e400`` into inf: each would store
something other than what the caller sent. The server, the CLI and
``ModelMetadata.from_json`` all parse through here.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["exact_float", "loads_strict"]

_NONZERO_MANTISSA = re.compile(r"-?0*\.?0*[1-9]")


def exact_float(text: str) -> float:
    """``float(text)``, refusing numbers a 64-bit float cannot hold (overflow, or underflow to zero)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large for a 64-bit float")
    if value == 0.0 and _NONZERO_MANTISSA.match(text.split("e")[0].split("E")[0]):
        raise ValueError(f"the number {text[:40]} is too small for a 64-bit float (it would be stored as 0)")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (only finite numbers can be stored)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):  # silently keeping the last value would lose data
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key[:64]!r} appears twice in one object")
            seen.add(key)
    return obj


def loads_strict(text: str | bytes) -> Any:
    """Parse JSON, raising ValueError for NaN/Infinity, inexact numbers, duplicate keys or deep nesting."""
    try:
        return json.loads(
            text, parse_float=exact_float, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys
        )
    except RecursionError:
        raise ValueError("the JSON nests too deeply to parse") from None
