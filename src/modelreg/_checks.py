"""Argument checks shared by every layer: a wrong type is a TypeError, a value out of range a ValueError."""

from __future__ import annotations

import math

from .metadata import ModelMetadata

__all__ = ["int_arg", "metadata_arg", "number_option", "positive_int", "seconds_arg", "str_arg"]


def metadata_arg(metadata: object) -> ModelMetadata:
    """``metadata`` if it is a ModelMetadata, else TypeError naming what it is."""
    if not isinstance(metadata, ModelMetadata):
        raise TypeError(f"metadata must be a ModelMetadata, not {type(metadata).__name__}")
    return metadata


def str_arg(what: str, value: object) -> str:
    """``value`` if it is a str, else TypeError naming ``what``."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return value


def number_option(what: str, value: object, *, minimum: float, integer: bool = False, unit: str = "") -> float:
    """``value`` as a float; TypeError for a value of the wrong type, ValueError for one below ``minimum``."""
    kinds = (int,) if integer else (int, float)
    kind = ("an int" if integer else "a number") + unit
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise TypeError(f"{what} must be {kind}, not {type(value).__name__}")
    if not math.isfinite(value) or value < minimum:
        raise ValueError(f"{what} must be {kind} >= {minimum:g}, not {value!r}")
    return float(value)


def int_arg(
    what: str,
    value: object,
    *,
    minimum: int,
    maximum: int | None = None,
    expected: str | None = None,
    error: type[Exception] = TypeError,
) -> int:
    """``value`` if it is an int in ``[minimum, maximum]`` (a bool is not), else ``error`` naming ``what``.

    TypeError by default: for positions and counts a caller reads back from us (revisions,
    page sizes) any value that is not one is a misuse. Settings pass ``error=ValueError``.
    """
    if expected is None:
        expected = f"an int >= {minimum}" if maximum is None else f"an int from {minimum} to {maximum}"
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise error(f"{what} must be {expected}, not {value!r}")
    if maximum is not None and value > maximum:
        raise error(f"{what} must be {expected}, not {value!r}")
    return value


def positive_int(what: str, value: object) -> int:
    """``value`` if it is an int of at least 1, else ValueError naming ``what`` (for settings)."""
    return int_arg(what, value, minimum=1, expected="a positive int", error=ValueError)


def seconds_arg(what: str, value: object, *, below: float) -> float:
    """``value`` as seconds, above 0 and below ``below``; ValueError naming ``what`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < below:
        raise ValueError(f"{what} must be a number of seconds above 0 and below {below:g}, not {value!r}")
    return float(value)
