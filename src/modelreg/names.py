"""Rules for model names and alias names."""

from __future__ import annotations

import re

from .errors import InvalidNameError

__all__ = ["ALIAS_PATTERN", "MAX_NAME_LENGTH", "NAME_PATTERN", "validate_alias", "validate_name"]

MAX_NAME_LENGTH = 128
NAME_PATTERN = rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_NAME_LENGTH - 1}}}"
"""A model name, for ``fullmatch`` (the server's OpenAPI document states the same pattern)."""
ALIAS_PATTERN = rf"[A-Za-z][A-Za-z0-9._-]{{0,{MAX_NAME_LENGTH - 1}}}"
"""An alias name, before the reserved words (``latest``, ``x``) are refused."""
_NAME = re.compile(NAME_PATTERN, re.ASCII)
_NAME_RULE = (
    "1-128 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit"
)
# Alias names must not be confusable with a version or a range, so a spec given to
# resolve() is never ambiguous: they start with a letter and are not range words.
_ALIAS = re.compile(ALIAS_PATTERN, re.ASCII)
_RESERVED_ALIASES = frozenset({"latest", "x", "X"})


def _show(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")


def validate_name(name: object) -> str:
    """Return ``name`` if it is a valid model name, else raise InvalidNameError."""
    if not isinstance(name, str):
        raise TypeError(f"model name must be a str, not {type(name).__name__}")
    if _NAME.fullmatch(name) is None:
        raise InvalidNameError(
            f"invalid model name {_show(name)}: expected {_NAME_RULE}", name=name
        )
    return name


def validate_alias(alias: object) -> str:
    """Return ``alias`` if it is a valid alias name (one that cannot read as a version or range)."""
    if not isinstance(alias, str):
        raise TypeError(f"alias must be a str, not {type(alias).__name__}")
    if _ALIAS.fullmatch(alias) is None or alias in _RESERVED_ALIASES or _is_version_like(alias):
        raise InvalidNameError(
            f"invalid alias {_show(alias)}: expected 1-128 ASCII letters, digits, '.', '_' or '-', "
            "starting with a letter, that cannot be read as a version or range "
            "(e.g. 'production', 'staging'; not 'latest' or 'v1')",
            alias=alias,
        )
    return alias


def _is_version_like(alias: str) -> bool:
    # 'v1', 'v1.2', 'v1.x' read as versions or x-ranges; keep them out of alias space.
    return re.fullmatch(r"[vV][0-9xX*][0-9A-Za-z.*+-]*", alias, re.ASCII) is not None
