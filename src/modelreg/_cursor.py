"""Search cursors: opaque, URL-safe text holding the last item's sort key and a fingerprint of the search.

Base64 of a checksum and of JSON ``[1, fingerprint, key]``. The checksum catches a damaged or
changed cursor (not a forged one: a forged cursor can only choose where a page starts); the
fingerprint binds it to one ``where``, ``order_by`` and scope. No server state, so a cursor
works on any replica and never expires.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, Final

from .errors import InvalidVersionError, QueryError

__all__ = ["MAX_CURSOR_LENGTH", "decode_cursor", "encode_cursor", "fingerprint"]

MAX_CURSOR_LENGTH: Final = 100_000
"""Longest cursor accepted: room for a sort key holding the largest hyperparameter value (64 KiB of JSON)."""
_CURSOR_SALT: Final = b"modelreg search cursor v1\0"



@functools.lru_cache(maxsize=256)
def fingerprint(where: str, order_by: str, scope: str) -> str:
    """What a cursor is bound to: a hash of the query, the order and the scope (the name filter)."""
    text = json.dumps([where, order_by, scope]).encode()
    return hashlib.sha256(text).hexdigest()[:16]


def _checksum(body: bytes) -> bytes:
    return hashlib.sha256(_CURSOR_SALT + body).digest()[:8]


def encode_cursor(fingerprint: str, raw: list[Any]) -> str:
    """An opaque cursor: urlsafe base64 of a checksum and the JSON of the fingerprint and key."""
    body = json.dumps([1, fingerprint, raw], separators=(",", ":"), allow_nan=False).encode()
    return base64.urlsafe_b64encode(_checksum(body) + body).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str, key_of_raw: Callable[[Any], tuple[Any, ...]]) -> tuple[Any, ...]:
    """The sort key after which the next page starts; QueryError for a tampered, foreign or malformed cursor."""
    if not isinstance(cursor, str):
        raise TypeError(f"cursor must be a str or None, not {type(cursor).__name__}")
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise QueryError(f"the cursor is {len(cursor)} characters long; the limit is {MAX_CURSOR_LENGTH}")
    try:
        data = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except ValueError:
        data = b""
    mac, body = data[:8], data[8:]
    if not body or mac != _checksum(body):
        raise QueryError("the cursor is not one this registry gave out (damaged or changed); "
                         "pass the next_cursor of the previous page unchanged, or none for the first page")
    try:
        version, printed, raw = json.loads(body)
    except (ValueError, TypeError):  # not JSON (or not UTF-8), or not three items
        raise QueryError("the cursor is malformed; pass next_cursor unchanged") from None
    if version != 1 or printed != fingerprint:
        raise QueryError("the cursor belongs to another query, order or name: page with the same where, "
                         "order_by and name that gave it, or start again without a cursor")
    try:
        return key_of_raw(raw)
    except (ValueError, TypeError, InvalidVersionError, KeyError):
        raise QueryError("the cursor is malformed; pass next_cursor unchanged") from None
