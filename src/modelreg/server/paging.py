"""Keyset paging for the list routes (models, a model's versions, its history): ``limit`` and an opaque cursor.

A cursor names the last item a page returned (a model name, a version, a revision), so
the next page starts after it whatever was added or removed in between: nothing is
returned twice, and nothing that existed throughout is skipped. Without ``limit`` and
``cursor`` a list route answers with everything, as it always has.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .._paths import PAGE_LIMIT
from ..errors import InvalidVersionError
from ..semver import parse_version
from .problems import HTTPProblem

__all__ = ["DEFAULT_LIMIT", "Page", "decode_cursor", "encode_cursor", "page_after", "page_request", "parse_limit"]

DEFAULT_LIMIT = 100
"""Items per page when a list route gets a ``cursor`` but no ``limit`` (search's default too)."""
_MAX_CURSOR = 1024

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page:
    """What a paged list request asked for: at most ``limit`` items after ``after`` (None: from the start)."""

    limit: int
    after: Any


def parse_limit(text: str | None, default: int = DEFAULT_LIMIT) -> int:
    """The ``limit`` query parameter as an int from 1 to ``PAGE_LIMIT``; 400 invalid_parameter otherwise."""
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 4 and 1 <= int(text) <= PAGE_LIMIT):
        raise HTTPProblem("invalid_parameter", f"query parameter 'limit' must be a number from 1 to {PAGE_LIMIT}, "
                          f"not {text[:40]!r}")
    return int(text)


def encode_cursor(kind: str, scope: str, key: str | int) -> str:
    """An opaque cursor: the listing it belongs to and the key of the last item returned, base64url."""
    raw = json.dumps([kind, scope, key], separators=(",", ":"), ensure_ascii=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(text: str, kind: str, scope: str) -> str | int:
    """The key inside a cursor of this listing; 400 invalid_parameter for any other text."""
    refused = HTTPProblem("invalid_parameter", f"query parameter 'cursor' {text[:40]!r} is not a cursor of this "
                          "listing; pass the next_cursor its previous page answered")
    if len(text) > _MAX_CURSOR or not text.isascii():
        raise refused
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        raise refused from None
    if not (isinstance(data, list) and len(data) == 3 and data[0] == kind and data[1] == scope):
        raise refused
    key: str | int = data[2]
    if kind == "history":
        if type(key) is not int or key < 0:
            raise refused
    elif not isinstance(key, str):
        raise refused
    elif kind == "versions":
        try:
            parse_version(key)
        except InvalidVersionError:
            raise refused from None
    return key


def page_request(query: Mapping[str, str], kind: str, scope: str) -> Page | None:
    """The page a list request asks for, or None when it names neither ``limit`` nor ``cursor`` (everything)."""
    if "limit" not in query and "cursor" not in query:
        return None
    cursor = query.get("cursor")
    after = None if cursor is None or cursor == "" else decode_cursor(cursor, kind, scope)
    return Page(parse_limit(query.get("limit")), after)


def page_after(
    items: Sequence[T], page: Page, kind: str, scope: str, *,
    cursor_key: Callable[[T], str | int], sort_key: Callable[[T], Any], parse: Callable[[Any], Any],
) -> tuple[Sequence[T], str | None]:
    """``page.limit`` of ``items`` (ascending by ``sort_key``) after the cursor's key, and the next page's cursor.

    ``cursor_key`` is what a cursor records of an item; ``parse`` turns that back into its ``sort_key``.
    """
    start = 0 if page.after is None else bisect.bisect_right(items, parse(page.after), key=sort_key)
    chunk = items[start : start + page.limit]
    more = start + page.limit < len(items)
    next_cursor = encode_cursor(kind, scope, cursor_key(chunk[-1])) if more and chunk else None
    return chunk, next_cursor
