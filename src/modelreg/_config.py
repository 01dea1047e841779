"""What the server, the client and the command line share; imports nothing outside the standard library."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_CLIENT_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_PORT",
    "TOKEN",
    "check_token",
    "redact_url",
]

TOKEN = re.compile(r"[\x21-\x7e]+", re.ASCII)
"""What a bearer token may hold: visible ASCII, no spaces (what ``Authorization: Bearer`` carries)."""

DEFAULT_PORT = 8600
"""The TCP port ``serve`` and ``modelreg serve`` listen on unless told otherwise."""

DEFAULT_CLIENT_TIMEOUT = 15.0
"""The client's default timeout in seconds: longer than the stores' write bound (5 s), so a client hears
how every write ended instead of giving up on one that then commits."""

DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
"""The default request-body limit: room for any metadata within ``metadata.LIMITS`` sent as UTF-8 JSON.

Worst case, every character of the bounded text takes 6 bytes (a control character escaped as
``\\u0001``; a 4-byte character stays 4 bytes in UTF-8): 4,096 artifact-path + 10,000 description
+ 100 x (128 + 1,024) tag + 1,000 x 128 metric-name characters = 257,296 x 6 = 1,543,776 bytes,
plus 65,536 of hyperparameters and the numbers and punctuation: about 1.6 MB.
"""

DEFAULT_HEADER_TIMEOUT = 10.0
"""Seconds a connection gets to send a request's complete headers (from connecting, or from the last response)."""

DEFAULT_BODY_TIMEOUT = 30.0
"""Seconds a request's whole body gets to arrive once its headers have: 2 MiB at 70 KB/s."""

DEFAULT_MAX_HEADER_BYTES = 64 * 1024
"""The most bytes the request line and headers together may take; larger requests get 431."""


def redact_url(url: str) -> str:
    """``url`` with its password, if any, shown as ``***`` (for logs and messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def check_token(token: object) -> str:
    """``token`` if a server could ever accept it; ValueError (or TypeError) saying what is wrong."""
    if not isinstance(token, str):
        raise TypeError(f"a token must be a str, not {type(token).__name__}")
    if TOKEN.fullmatch(token) is None:
        bad = next((c for c in token if TOKEN.fullmatch(c) is None), None)
        what = "it is empty" if bad is None else f"it contains {bad!r}"
        raise ValueError(f"invalid token: {what}; a token is visible ASCII characters without spaces")
    return token
