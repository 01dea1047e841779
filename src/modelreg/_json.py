"""Strict JSON parsing: every value comes back exactly as sent, or the text is refused.

``json.loads`` accepts NaN and Infinity (not JSON), keeps the last of duplicate
keys, and turns ``1e-400`` into 0.0, ``1e400`` into inf and ``9007199254740993.0``
into ``9007199254740992.0``: each would store something other than what the caller
sent. The server, the CLI and ``ModelMetadata.from_json`` all parse through here.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["exact_float", "loads_strict"]


def exact_float(text: str) -> float:
    """``float(text)`` when the number written is the float stored; ValueError otherwise.

    The rule: the decimal value of ``text`` must equal that of the float's shortest
    repr, so ``1.50`` and ``0.1`` are kept, while ``9007199254740993.0``,
    ``0.1000000000000000000001``, ``1e400`` (overflow) and ``1e-400`` (underflow
    to 0) are refused rather than silently stored as a different number.
    """
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a number") from None
    if not math.isfinite(value):
        if text.strip().lstrip("+-").lower() in ("inf", "infinity", "nan"):
            raise ValueError(f"{text[:40]} is not a finite number")
        raise ValueError(f"the number {text[:40]} is too large for a 64-bit float")
    shortest = repr(value)
    if shortest == text:  # the common case, and cheap
        return value
    try:
        written = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text[:40]!r} is not a number") from None
    if written != Decimal(shortest):
        if value == 0.0:
            raise ValueError(f"the number {text[:40]} is too small for a 64-bit float (it would be stored as 0)")
        raise ValueError(
            f"the number {text[:40]} cannot be stored exactly: the nearest 64-bit float is {shortest}; "
            f"give {shortest} if that is what you mean"
        )
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
